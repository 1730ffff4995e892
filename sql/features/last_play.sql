-- The newest play in the warehouse (features are built up to the day after it by default).
select max(ts) from raw.events
