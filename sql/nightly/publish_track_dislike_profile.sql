-- Per track, over its candidate listeners tonight: mean and spread of p_dislike, share at risk, and
-- a category (rules in docs/warehouse.md; thresholds: $min_listeners listeners, $threshold risk):
--   niche          fewer than $min_listeners listeners: too few to say
--   broad_dislike  at least half of its listeners at risk
--   polarising     a fifth to a half at risk, and listeners disagree (std of p_dislike >= 0.12)
--   mixed          a fifth to a half at risk, listeners agree
--   safe           fewer than a fifth at risk
with per_track as (
    select
        run_date, track_id,
        count(*) as n_listeners,
        -- rounded: parallel float sums differ in the last bits between runs, and a re-run must
        -- give identical tables
        round(avg(p_dislike), 9) as mean_p_dislike,
        round(coalesce(stddev_samp(p_dislike), 0), 9) as std_p_dislike,
        round(avg(at_risk::int), 9) as share_at_risk
    from scores.dislike_scores
    where run_date = $run_date
    group by all
)
select
    p.run_date, p.track_id, t.artist, p.n_listeners, p.mean_p_dislike, p.std_p_dislike, p.share_at_risk,
    case
        when p.n_listeners < $min_listeners then 'niche'
        when p.share_at_risk >= 0.5 then 'broad_dislike'
        when p.share_at_risk >= 0.2 and p.std_p_dislike >= 0.12 then 'polarising'
        when p.share_at_risk >= 0.2 then 'mixed'
        else 'safe'
    end as category
from per_track as p
left join raw.tracks as t using (track_id)
