-- fx_earlier: plays before $from (the first row being built) in the sessions of the rows being
-- built (fx_rows_out): what the session features of those rows see of their session so far. A
-- session spans less than $lookback_hours (session_lookback_hours): only that far back is read, so
-- a night reads its day's plays and the hours before, not the history.
select * from fx_events($from - to_hours(cast($lookback_hours as bigint)), $from, $label_domains, $label_abandon_ms)
where session_id in (select session_id from fx_rows_out where session_id is not null)
