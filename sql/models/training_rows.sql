-- The rows the models learn from: features.training_rows in time order (skipify.data.load_rows
-- gathers the sequences from their anchors, then leaves out play_id, n and the anchors).
select *
from features.training_rows
order by ts, user_id, track_id
