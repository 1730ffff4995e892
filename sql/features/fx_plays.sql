-- fx_rows_out for a build: the plays from $from (the first day to rebuild) to the cut-off, each
-- to get its training row. Every family reads its rows from this table.
select * from fx_events($from, $cutoff, $label_domains, $label_abandon_ms)
