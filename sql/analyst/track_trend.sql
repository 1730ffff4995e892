-- A track's risk over the published nights (the track most often scored).
select run_date, n_listeners, round(mean_p_dislike, 3) as mean_p, round(share_at_risk, 3) as share_at_risk, category
from scores.track_dislike_profile
where track_id = (select track_id from scores.dislike_scores group by track_id order by count(*) desc, track_id limit 1)
order by run_date;
