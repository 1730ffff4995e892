-- Tracks named by Spotify history plays (`plays` holds the mapped plays, `src` the names):
-- one row per track id, the latest play's names winning. Audio features stay as stored.
select
    max(st.record_number) as record_number,
    st.track_id,
    arg_max(s.master_metadata_track_name, st.record_number) as title,
    arg_max(s.master_metadata_album_artist_name, st.record_number) as artist,
    arg_max(s.master_metadata_album_album_name, st.record_number) as album
from plays as st
join src as s using (record_number)
where st.excluded is null and st.track_id is not null
group by st.track_id
