-- The listener of a Spotify history file: their id and the country they connected from most often.
select
    min(st.record_number) as record_number,
    st.user_id,
    mode(s.conn_country) as country
from plays as st
join src as s using (record_number)
where st.user_id is not null
group by st.user_id
