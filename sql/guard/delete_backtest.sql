-- A night's backtest, before it is written again (idempotent).
delete from scores.guard_backtest where run_date = $run_date
