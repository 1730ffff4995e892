-- The rows the models learn from: features.training_rows in time order (skipify.data.load_rows
-- gathers the sequences from their anchors, then leaves out play_id, n and the anchors).
-- $since: the first day of a training window (days since 1970), null for all of them; $until: the day of the
-- training's cut-off (its rows are before it; null: every row built).
select *
from features.training_rows
where day >= coalesce(cast($since as integer), 0)
  and day < coalesce(cast($until as integer), 2147483647)
order by ts, user_id, track_id
