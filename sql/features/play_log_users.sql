-- Every play of some listeners (fx_log_users: user_id), with the link to the previous play of its
-- session: the play log of a sample of training rows (skipify.sequences.with_sequences).
select l.play_id, l.user_id, l.n, l.track_id, l.ts, l.label, l.early_skip, s.hs_prev
from features.labels as l
join features.session_context as s on s.play_id = l.play_id
where l.user_id in (select user_id from fx_log_users)
