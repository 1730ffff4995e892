-- What the guard would have done on one published night ($run_date), once the plays of its day are in: its scored
-- pairs that were then played that day (one row per play, the label of sql/features/play_macros.sql), per segment
-- and threshold of the grid ($grid, ascending): plays, dislikes, the dislikes caught (p_dislike >= threshold) and the
-- good plays withheld. Needs the play macros and sql/guard/macros.sql. Rows of scores.guard_backtest.
with played as (
    select s.user_id, s.track_id, s.p_dislike, s.domain, coalesce(e.platform, 'unknown') as platform,
           fx_label(e.feedback, e.ms_played, e.skipped, fx_abandon_ms(s.domain, $label_domains, $label_abandon_ms)) as label
    from scores.dislike_scores as s
    join raw.events as e
      on e.user_id = s.user_id and e.track_id = s.track_id and e.ts >= $cutoff and e.ts < $day_end
    where s.run_date = $run_date
),
tagged as (
    select p.*, guard_newness(u.first_play, $new_since) as listener, guard_newness(t.first_play, $new_since) as track
    from played as p
    left join guard_first_users($cutoff) as u using (user_id)
    left join guard_first_tracks($cutoff) as t using (track_id)
),
segmented as (
    select 'all' as segment, 'all' as segment_value, p_dislike, label from tagged
    union all select 'listener', listener, p_dislike, label from tagged
    union all select 'track', track, p_dislike, label from tagged
    union all select 'platform', platform, p_dislike, label from tagged
    union all select 'domain', domain, p_dislike, label from tagged
),
-- k: how many thresholds of the grid a play's p_dislike reaches (p >= the grid's j-th value exactly when k >= j)
counted as (
    select segment, segment_value, len(list_filter($grid, lambda t: t <= p_dislike)) as k,
           count(*) as plays, sum(label) as dislikes
    from segmented
    group by all
),
totals as (
    select segment, segment_value, sum(plays) as plays, sum(dislikes) as dislikes from counted group by all
),
grid as (
    select unnest($grid) as threshold, generate_subscripts($grid, 1) as j
),
figures as (
    select t.segment, t.segment_value, g.threshold, any_value(t.plays) as plays, any_value(t.dislikes) as dislikes,
           coalesce(sum(c.dislikes) filter (where c.k >= g.j), 0) as caught,
           coalesce(sum(c.plays - c.dislikes) filter (where c.k >= g.j), 0) as withheld_good
    from totals as t
    cross join grid as g
    join counted as c on c.segment = t.segment and c.segment_value = t.segment_value
    group by t.segment, t.segment_value, g.threshold
)
select
    $run_date::date as run_date, segment, segment_value, threshold,
    plays::bigint as plays, dislikes::bigint as dislikes, caught::bigint as caught, withheld_good::bigint as withheld_good,
    caught / nullif(dislikes, 0) as share_caught,
    1000.0 * caught / plays as caught_per_1000,
    1000.0 * withheld_good / plays as withheld_per_1000,
    (select any_value(model_version) from scores.dislike_scores where run_date = $run_date) as model_version,
    now() as backtested_at
from figures
order by segment, segment_value, threshold
