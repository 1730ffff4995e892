-- Tonight's riskiest tracks: the most candidate listeners at risk (at least 5 listeners).
select track_id, artist, n_listeners, round(mean_p_dislike, 3) as mean_p, round(share_at_risk, 3) as share_at_risk, category
from scores.latest_track_dislike_profile
where n_listeners >= 5
order by share_at_risk desc, mean_p_dislike desc, track_id
limit 10;
