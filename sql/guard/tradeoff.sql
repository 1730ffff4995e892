-- The guard's trade-off over the backtested nights $run_dates (sql/guard/recent_nights.sql): per segment and
-- threshold, the plays, dislikes, caught and withheld summed over those nights, the rates of the sums, and the lowest
-- and highest night's share of dislikes caught (how much it moves from night to night).
select
    segment, segment_value, threshold,
    count(*) as nights, min(run_date) as first_night, max(run_date) as last_night,
    sum(plays) as plays, sum(dislikes) as dislikes, sum(caught) as caught, sum(withheld_good) as withheld_good,
    sum(caught) / nullif(sum(dislikes), 0) as share_caught,
    1000.0 * sum(caught) / sum(plays) as caught_per_1000,
    1000.0 * sum(withheld_good) / sum(plays) as withheld_per_1000,
    min(share_caught) as lowest_night_share_caught,
    max(share_caught) as highest_night_share_caught
from scores.guard_backtest
where run_date in (select unnest($run_dates::date[]))
group by segment, segment_value, threshold
order by segment <> 'all', segment, segment_value, threshold
