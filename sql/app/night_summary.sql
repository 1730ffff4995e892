-- Headline numbers of one night and of the night before it.
-- $domain: one domain's scores only (NULL: every domain).
select
    run_date,
    count(*) as scored_pairs,
    sum(at_risk::int) as at_risk_pairs,
    count(distinct user_id) as listeners,
    count(distinct user_id) filter (where at_risk) as listeners_at_risk,
    avg(p_dislike) as mean_p_dislike
from scores.dislike_scores
where run_date in ($run_date, (select max(run_date) from scores.dislike_scores where run_date < $run_date))
  and (cast($domain as varchar) is null or domain = $domain)
group by run_date
order by run_date desc
