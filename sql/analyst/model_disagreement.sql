-- Where the deep model and the LightGBM baseline disagree most tonight.
select user_id, track_id, round(p_dislike, 3) as p_deep, round(p_dislike_baseline, 3) as p_lightgbm,
       round(p_dislike - p_dislike_baseline, 3) as difference
from scores.latest_dislike_scores
order by abs(p_dislike - p_dislike_baseline) desc, user_id, track_id
limit 10;
