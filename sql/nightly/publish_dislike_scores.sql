-- The night's scores, from staging: the item's domain, the rank within the listener's candidates of that
-- domain (1 = riskiest) and the at-risk flag.

select
    s.run_date, s.user_id, s.track_id, s.source, s.p_dislike, s.p_dislike_baseline,
    row_number() over (partition by s.user_id, coalesce(t.domain, 'music') order by s.p_dislike desc, s.track_id) as rank_in_user,
    s.p_dislike >= $threshold as at_risk,
    s.model_version,
    $cutoff as scored_at,
    coalesce(t.domain, 'music') as domain
from scores.staged_scores as s
left join raw.tracks as t on t.track_id = s.track_id
where s.run_date = $run_date
