-- Scoring rows: the probes (pairs to score at a cut-off) with the same feature columns as
-- features.training_rows, from the temp tables the feature SQL built for them.
select
    p.probe_id, r.user_id, r.track_id, r.ts,
    uh.* exclude (play_id, ts),
    th.* exclude (play_id, ts),
    ua.* exclude (play_id, ts),
    sc.* exclude (play_id, ts)
from fx_rows_out as r
join probes as p on hash('probe', p.probe_id) = r.play_id
join new_user_history as uh using (play_id)
join new_track_history as th using (play_id)
join new_user_affinity as ua using (play_id)
join new_session_context as sc using (play_id)
order by p.probe_id
