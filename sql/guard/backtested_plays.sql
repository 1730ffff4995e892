-- The plays a night was backtested on (0: none of its scored pairs was played that day).
select coalesce(max(plays), 0) from scores.guard_backtest where run_date = $run_date and segment = 'all'
