-- The published nights from $first to $last (inclusive), oldest first: the nights a run may backtest.
select distinct run_date from scores.dislike_scores where run_date between $first and $last order by run_date
