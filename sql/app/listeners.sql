-- Listeners of one night, most at-risk candidates first (for the picker), over every domain or one ($domain).
select user_id, sum(n_candidates) as n_candidates, sum(n_at_risk) as n_at_risk, max(max_p_dislike) as max_p_dislike
from scores.user_risk
where run_date = $run_date and (cast($domain as varchar) is null or domain = $domain)
group by user_id
order by n_at_risk desc, max_p_dislike desc, user_id
limit 500
