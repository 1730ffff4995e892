-- Published nights, newest first, with their model version.
select run_date, any_value(model_version) as model_version, count(*) as scores
from scores.dislike_scores
group by run_date
order by run_date desc
