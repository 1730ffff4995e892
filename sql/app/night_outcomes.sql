-- Scored pairs that the listener then played on the night's day, with the outcome (the label,
-- sql/features/play_macros.sql): how each night's scores did, once the day's plays have arrived. served_model: the kind
-- p_dislike came from, baseline_model the kind of p_dislike_baseline.
select s.run_date, r.served_model, r.baseline_model, s.p_dislike, s.p_dislike_baseline,
       fx_label(e.feedback, e.ms_played, e.skipped, fx_abandon_ms(t.domain, $label_domains, $label_abandon_ms)) as label
from scores.dislike_scores as s
join raw.events as e
  on e.user_id = s.user_id and e.track_id = s.track_id
 and e.ts >= s.run_date::timestamptz and e.ts < s.run_date::timestamptz + interval 1 day
left join raw.tracks as t on t.track_id = s.track_id
left join models.registry as r on r.version = s.model_version
