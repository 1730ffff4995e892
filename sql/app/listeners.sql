-- Listeners of one night, most at-risk candidates first (for the picker).
select user_id, n_candidates, n_at_risk, max_p_dislike
from scores.user_risk
where run_date = $run_date
order by n_at_risk desc, max_p_dislike desc, user_id
limit 500
