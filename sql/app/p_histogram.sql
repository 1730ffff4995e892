-- Distribution of one night's scores in 20 bins of 0.05, per model kind: p_dislike comes from the kind
-- the version serves (models.registry.served_model), p_dislike_baseline from its baseline kind
-- (models.registry.baseline_model).
-- $domain: one domain's scores only (NULL: every domain).
with scored as (
    select s.p_dislike, s.p_dislike_baseline, r.served_model, r.baseline_model
    from scores.dislike_scores as s
    join models.registry as r on r.version = s.model_version
    where s.run_date = $run_date and (cast($domain as varchar) is null or s.domain = $domain)
)

select least(floor(p_dislike * 20), 19) / 20 as bin, served_model as model, count(*) as pairs
from scored group by all
union all
select least(floor(p_dislike_baseline * 20), 19) / 20, baseline_model, count(*)
from scored where baseline_model <> served_model group by all
order by model, bin
