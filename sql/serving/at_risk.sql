-- A night's at-risk pairs, one listener's ($user_id) or everyone's ($user_id null), by listener, domain and rank.
select user_id, track_id, rank_in_user, p_dislike, p_dislike_baseline, source, model_version, domain
from scores.dislike_scores
where run_date = $run_date and at_risk and (cast($user_id as varchar) is null or user_id = $user_id)
order by user_id, domain, rank_in_user
