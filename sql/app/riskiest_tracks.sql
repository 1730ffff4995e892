-- The night's riskiest tracks (enough listeners to say), with their category.
select track_id, artist, n_listeners, mean_p_dislike, share_at_risk, category
from scores.track_dislike_profile
where run_date = $run_date and category <> 'niche'
order by share_at_risk desc, mean_p_dislike desc, track_id
limit 15
