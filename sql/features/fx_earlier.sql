-- fx_earlier: plays before $from (the first row being built) in the sessions of the rows being
-- built (fx_rows_out): what the session features of those rows see of their session so far.
select * from fx_events('-infinity'::timestamptz, $from, $threshold_ms)
where session_id in (select session_id from fx_rows_out where session_id is not null)
