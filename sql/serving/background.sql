-- A fixed sample of $n training rows of a version (its train range): the mean of their inputs is the
-- reference point the API's reasons are measured from.
select *
from features.training_rows
where ts >= $train_from and ts < $valid_from
order by hash(play_id, $seed)
limit $n
