-- The domains one night scored (music first), for the app's medium picker.
select domain, count(*) as scores
from scores.dislike_scores
where run_date = $run_date
group by domain
order by domain <> 'music', domain
