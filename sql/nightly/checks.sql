-- Checks a night must pass before it is published (as dbt tests do). One row per check:
-- name, failed, detail. Compared: the staged scores, the night's candidates, the previous night.
with staged as (select * from scores.staged_scores where run_date = $run_date),
cand as (select * from scores.candidates where run_date = $run_date),
previous as (
    select count(*) as n from scores.dislike_scores
    where run_date = (select max(run_date) from scores.dislike_scores where run_date < $run_date)
),
counts as (
    select
        (select count(*) from staged) as n,
        (select count(*) from (select distinct user_id, track_id from staged)) as n_keys,
        (select count(*) from cand) as n_cand,
        (select count(*) from staged where user_id is null or track_id is null or p_dislike is null
             or p_dislike_baseline is null or model_version is null) as n_null,
        (select count(*) from staged where not (p_dislike between 0 and 1) or not (p_dislike_baseline between 0 and 1)) as n_out,
        (select count(*) from cand anti join staged using (user_id, track_id)) as n_unscored,
        (select count(distinct model_version) from staged) as n_versions,
        (select n from previous) as n_prev
)
select 'not_empty' as name, n = 0 as failed, format('{} rows', n) as detail from counts
union all select 'unique_key', n_keys <> n, format('{} rows, {} distinct (user_id, track_id)', n, n_keys) from counts
union all select 'no_nulls', n_null > 0, format('{} rows with a null', n_null) from counts
union all select 'probabilities_in_0_1', n_out > 0, format('{} probabilities outside [0, 1]', n_out) from counts
union all select 'one_row_per_candidate', n <> n_cand or n_unscored > 0,
    format('{} scores for {} candidates, {} candidates unscored', n, n_cand, n_unscored) from counts
union all select 'one_model_version', n_versions > 1, format('{} model versions', n_versions) from counts
union all select 'row_count_within_bounds',
    n_prev > 0 and (n < $min_ratio * n_prev or n > $max_ratio * n_prev),
    format('{} rows; previous night {} (allowed {}x to {}x)', n, n_prev, $min_ratio, $max_ratio) from counts
