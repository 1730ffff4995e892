-- The night's scores, from staging: rank within the listener (1 = riskiest) and the at-risk flag.

select
    run_date, user_id, track_id, source, p_dislike, p_dislike_baseline,
    row_number() over (partition by user_id order by p_dislike desc, track_id) as rank_in_user,
    p_dislike >= $threshold as at_risk,
    model_version,
    $cutoff as scored_at
from scores.staged_scores
where run_date = $run_date
