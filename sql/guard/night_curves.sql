-- Each of the backtested nights $run_dates' trade-off over all plays (the Guard page's thin lines).
select run_date, threshold, share_caught, withheld_per_1000, plays
from scores.guard_backtest
where segment = 'all' and run_date in (select unnest($run_dates::date[]))
order by run_date, threshold
