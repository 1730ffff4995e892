-- One listener's at-risk list tonight (the listener with the most at-risk candidates), per domain, riskiest first.
select user_id, domain, rank_in_user, track_id, source, round(p_dislike, 3) as p_dislike, round(p_dislike_baseline, 3) as p_baseline
from scores.latest_dislike_scores
where at_risk
  and user_id = (select user_id from scores.latest_user_risk group by user_id order by sum(n_at_risk) desc, user_id limit 1)
order by domain, rank_in_user
limit 10;
