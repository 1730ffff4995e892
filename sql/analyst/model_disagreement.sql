-- Where tonight's served kind and its baseline disagree most: p_dislike comes from the kind the version
-- serves (models.registry.served_model), p_dislike_baseline from its baseline kind (baseline_model).
select s.user_id, s.track_id, r.served_model, r.baseline_model,
       round(s.p_dislike, 3) as p_served, round(s.p_dislike_baseline, 3) as p_other,
       round(s.p_dislike - s.p_dislike_baseline, 3) as difference
from scores.latest_dislike_scores as s
join models.registry as r on r.version = s.model_version
order by abs(s.p_dislike - s.p_dislike_baseline) desc, s.user_id, s.track_id
limit 10;
