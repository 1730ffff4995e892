-- Rows of a published night, per table.
select
    (select count(*) from scores.dislike_scores where run_date = $run_date) as dislike_scores,
    (select count(*) from scores.track_dislike_profile where run_date = $run_date) as track_dislike_profile,
    (select count(*) from scores.user_risk where run_date = $run_date) as user_risk,
    (select count(distinct (user_id, track_id)) from scores.shap_local where run_date = $run_date) as explained_pairs,
    (select count(*) from scores.dislike_scores where run_date = $run_date and at_risk) as at_risk
