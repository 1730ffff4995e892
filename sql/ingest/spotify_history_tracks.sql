-- Items named by Spotify history plays (`plays` holds the mapped plays, `src` the names): one row per item
-- id, the latest play's names winning. A track's title, artist and album; an episode's title and show; an
-- audiobook chapter's title and book (as its show); the domain the play was mapped to. Audio features stay
-- as stored.
select
    max(st.record_number) as record_number,
    st.track_id,
    arg_max(coalesce(s.master_metadata_track_name, s.episode_name, s.audiobook_chapter_title), st.record_number) as title,
    arg_max(s.master_metadata_album_artist_name, st.record_number) as artist,
    arg_max(s.master_metadata_album_album_name, st.record_number) as album,
    arg_max(st.domain, st.record_number) as domain,
    arg_max(coalesce(s.episode_show_name, s.audiobook_title), st.record_number) as show_name
from plays as st
join src as s using (record_number)
where st.excluded is null and st.track_id is not null
group by st.track_id
