-- features.labels: the key and the label of each play (the target the models learn), one row per
-- play, with the artist and genre its family rows are keyed by.
select play_id, user_id, track_id, ts, day, label, early_skip, artist, genre
from fx_rows_out
