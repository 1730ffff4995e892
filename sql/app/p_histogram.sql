-- Distribution of one night's scores in 20 bins of 0.05, per model kind: p_dislike comes from the kind
-- the version serves (models.registry.served_model; before the gate chose one, the deep model),
-- p_dislike_baseline from the other.
with scored as (
    select s.p_dislike, s.p_dislike_baseline, coalesce(r.served_model, 'deep') as served
    from scores.dislike_scores as s
    join models.registry as r on r.version = s.model_version
    where s.run_date = $run_date
)

select least(floor(p_dislike * 20), 19) / 20 as bin, served as model, count(*) as pairs
from scored group by all
union all
select least(floor(p_dislike_baseline * 20), 19) / 20, case when served = 'deep' then 'lightgbm' else 'deep' end, count(*)
from scored group by all
order by model, bin
