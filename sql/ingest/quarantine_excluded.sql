-- Store records that are valid but left out by policy (column `excluded` of `stage`), as read (`src`).
insert into quarantine.rows
select
    $batch_id,
    $table_name,
    $source_file,
    st.record_number,
    'excluded',
    printable(st.excluded),
    to_json(s),
    now()
from stage as st
join src as s using (record_number)
where st.excluded is not null
