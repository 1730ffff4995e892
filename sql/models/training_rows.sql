-- The rows the models learn from: features.training_rows in time order.
select * exclude (play_id)
from features.training_rows
order by ts, user_id, track_id
