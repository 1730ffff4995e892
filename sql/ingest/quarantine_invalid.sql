-- Store the checked batch's bad rows in quarantine, with the source record as read (`src`).
insert into quarantine.rows
select
    $batch_id,
    $table_name,
    $source_file,
    c.record_number,
    'invalid',
    printable(c.reason),
    to_json(s),
    now()
from checked as c
join src as s using (record_number)
where c.reason is not null
