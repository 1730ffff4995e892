-- Store records that could not be parsed at all (temp table `unparsed`: broken JSON, malformed CSV).
insert into quarantine.rows
select
    $batch_id,
    $table_name,
    $source_file,
    record_number,
    'invalid',
    printable(reason),
    to_json(line),
    now()
from unparsed
