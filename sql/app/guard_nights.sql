-- Each of the latest $nights backtested nights' trade-off over all plays (the Guard page's thin lines).
with recent as (
    select distinct run_date from scores.guard_backtest order by run_date desc limit $nights
)
select run_date, threshold, share_caught, withheld_per_1000, plays
from scores.guard_backtest
where segment = 'all' and run_date in (select run_date from recent)
order by run_date, threshold
