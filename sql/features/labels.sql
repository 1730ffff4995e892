-- features.labels: the key and the label of each play (the target the models learn), one row per play.
-- label: feedback 'dislike', or played less than the threshold, or (ms_played unknown) skipped.
select play_id, user_id, track_id, ts, day, label, early_skip
from fx_rows_out
