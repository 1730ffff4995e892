-- Every training row's play, with only what a sequence gathers from it (skipify.sequences.LOG_COLUMNS):
-- the log a training window's sequences reach back into before the window's first day.
select play_id, user_id, n, track_id, ts, label, early_skip, hs_prev
from features.training_rows
