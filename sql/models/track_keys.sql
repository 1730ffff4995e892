-- Every track of the catalogue with the artist and the (first) genre its plays are keyed by in the
-- features ('?' when unknown): what the history aggregates of the table model compare a row's
-- track with (skipify/models/recent.py).
select track_id, coalesce(artist, '?') as artist, coalesce(genres[1], '?') as genre
from raw.tracks
order by track_id
