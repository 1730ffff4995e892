-- Per listener and domain tonight: candidates scored, how many at risk, the riskiest probability and up to five
-- riskiest items.
select
    run_date, user_id,
    count(*) as n_candidates,
    sum(at_risk::int) as n_at_risk,
    max(p_dislike) as max_p_dislike,
    list(track_id order by rank_in_user) filter (where rank_in_user <= 5 and at_risk) as top_tracks,
    domain
from scores.dislike_scores
where run_date = $run_date
group by run_date, user_id, domain
