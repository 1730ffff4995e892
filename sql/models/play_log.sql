-- The plays before a training window's first day ($since, days since 1970), with only what a sequence
-- gathers from them (skipify.sequences.LOG_COLUMNS): with the window's own rows, the log its sequences
-- reach back into.
select play_id, user_id, n, track_id, ts, label, early_skip, hs_prev
from features.training_rows
where day < $since
