-- The rows the models learn from: features.training_rows in time order (skipify.data.load_rows
-- gathers the sequences from their anchors, then leaves out play_id, n and the anchors).
-- $since: the first day of a training window (days since 1970), null for all of them.
select *
from features.training_rows
where day >= coalesce(cast($since as integer), 0)
order by ts, user_id, track_id
