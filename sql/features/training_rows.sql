-- features.training_rows: one row per play before the last build's cut-off: key, label and every
-- feature family, joined on play_id. Models read this view; scoring_rows.sql has the same columns.
create or replace view features.training_rows as
select
    l.play_id, l.user_id, l.track_id, l.ts, l.day, l.label, l.early_skip,
    uh.* exclude (play_id, ts),
    th.* exclude (play_id, ts),
    ua.* exclude (play_id, ts),
    sc.* exclude (play_id, ts)
from features.labels as l
join features.user_history as uh using (play_id)
join features.track_history as th using (play_id)
join features.user_affinity as ua using (play_id)
join features.session_context as sc using (play_id)
