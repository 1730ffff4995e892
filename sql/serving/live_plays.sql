-- Plays since the features' cut-off that POST /v1/events accepted, as the rows the per-row families
-- read: fx_events (sql/features/macros.sql), the statement that makes stored plays rows, over the API's
-- in-memory raw.events (sql/serving/live_warehouse.sql: the registered table live_events).
select * from fx_events($cutoff, 'infinity'::timestamptz, $label_domains, $label_abandon_ms)
