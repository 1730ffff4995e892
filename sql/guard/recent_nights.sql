-- The latest $nights backtested nights, newest first: the nights the trade-off is read over.
select distinct run_date from scores.guard_backtest order by run_date desc limit $nights
