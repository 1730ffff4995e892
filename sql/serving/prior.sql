-- Serving snapshot: features/fx_global_prior.sql at the cut-off's day, the global dislike rate of
-- every play before the cut-off (temp table fx_rows), which listener and track rates are smoothed towards.
select coalesce((sum(label) + 0.3 * $smoothing) / (count(*) + $smoothing), 0.3) as prior from fx_rows
