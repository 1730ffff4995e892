-- Distribution of p_dislike on one night, in 20 bins of 0.05 (deep model and baseline).
select least(floor(p_dislike * 20), 19) / 20 as bin, 'deep' as model, count(*) as pairs
from scores.dislike_scores where run_date = $run_date group by all
union all
select least(floor(p_dislike_baseline * 20), 19) / 20, 'lightgbm', count(*)
from scores.dislike_scores where run_date = $run_date group by all
order by model, bin
