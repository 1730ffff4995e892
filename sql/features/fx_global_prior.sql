-- The global dislike rate of all plays before each day of fx_rows: the prior that user and track
-- dislike rates are smoothed towards ($smoothing pseudo-plays; 0.3 before any history exists).
with global_day as (
    select day, sum(is_event::int) as plays, sum(label) as dislikes
    from fx_rows
    group by day
)

select
    day,
    coalesce((sum(dislikes) over w + 0.3 * $smoothing) / (sum(plays) over w + $smoothing), 0.3) as prior
from global_day
window w as (order by day rows between unbounded preceding and 1 preceding)
