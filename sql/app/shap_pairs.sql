-- The pairs explained on one night, with the track's title and artist and the scores (riskiest first).
select distinct r.user_id, r.track_id, t.title, t.artist, s.p_dislike, s.p_dislike_baseline
from scores.shap_local as r
join scores.dislike_scores as s using (run_date, user_id, track_id)
left join raw.tracks as t on t.track_id = r.track_id
where r.run_date = $run_date
order by s.p_dislike desc, r.user_id, r.track_id
