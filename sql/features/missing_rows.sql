-- Plays built in this run (from day {since} on) without a row in a family: skipify.features fills
-- in the day, the family's table and the join on its keys (a family returns a row for every key
-- and day it is given).
select count(*)
from (select * from features.labels where day >= {since}) as r
anti join (select * from {table} where day >= {since}) as f on {on}
