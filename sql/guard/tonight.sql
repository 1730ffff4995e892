-- What a threshold ($threshold) would mean on one published night ($run_date): per segment, the pairs scored, the
-- pairs and listeners at risk (all, domain, new or known listeners and tracks: sql/guard/macros.sql).
with tagged as (
    select s.user_id, s.p_dislike >= $threshold as at_risk, s.domain,
           guard_newness(u.first_play, $new_since) as listener, guard_newness(t.first_play, $new_since) as track
    from scores.dislike_scores as s
    left join guard_first_users($cutoff) as u using (user_id)
    left join guard_first_tracks($cutoff) as t using (track_id)
    where s.run_date = $run_date
),
segmented as (
    select 'all' as segment, 'all' as segment_value, user_id, at_risk from tagged
    union all select 'listener', listener, user_id, at_risk from tagged
    union all select 'track', track, user_id, at_risk from tagged
    union all select 'domain', domain, user_id, at_risk from tagged
)
select segment, segment_value, count(*) as pairs, count(*) filter (where at_risk) as pairs_at_risk,
       count(distinct user_id) as listeners, count(distinct user_id) filter (where at_risk) as listeners_at_risk
from segmented
group by segment, segment_value
order by segment <> 'all', segment, segment_value
