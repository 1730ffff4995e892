-- The rows the models learn from: features.training_rows in time order, without the columns
-- skipify.data.load_rows leaves out (play_id, and the sequence (list) columns unless asked for).
select * exclude ({leave_out})
from features.training_rows
order by ts, user_id, track_id
