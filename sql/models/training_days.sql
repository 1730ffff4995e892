-- The days of features.training_rows between $since (days since 1970, null: the first) and $until (exclusive, null:
-- every day built), with their rows: skipify.data.stream_rows reads the rows a span of days at a time, so that the
-- sort of sql/models/training_rows.sql holds a span's rows, not every row.
select day, count(*) as n
from features.training_rows
where day >= coalesce(cast($since as integer), 0)
  and day < coalesce(cast($until as integer), 2147483647)
group by day
order by day
