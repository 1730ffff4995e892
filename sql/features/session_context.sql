-- features.session_context: where the play sits in its session and what happened just before it
-- in that session (the strongest simple signal for skips), and its context. Never reason_end, nor
-- any outcome of the play itself: only earlier rows of the same session are read.
with ordered as (
    select
        play_id,
        session_id,
        ts,
        sum(is_event::int) over w as plays_before,
        sum(label) over w as dislikes_before,
        last_value(label ignore nulls) over w as prev_label,
        last_value(case when is_event then early_skip end ignore nulls) over w as prev_early_skip,
        last_value(case when is_event then ts end ignore nulls) over w as prev_ts
    from fx_rows
    where session_id is not null
    window w as (partition by session_id order by ts, play_id rows between unbounded preceding and 1 preceding)
)

select
    r.play_id,
    r.ts,
    coalesce(r.session_position, o.plays_before + 1) as s_position,
    coalesce(o.plays_before, 0) as s_plays_before,
    coalesce(o.dislikes_before, 0) as s_dislikes_before,
    o.dislikes_before / nullif(o.plays_before, 0) as s_dislike_share_before,
    o.prev_label as s_prev_dislike,
    o.prev_early_skip as s_prev_early_skip,
    datediff('second', o.prev_ts, r.ts) / 60.0 as s_minutes_since_prev,
    hour(r.ts) as c_hour,
    isodow(r.ts) as c_weekday,
    r.platform as c_platform,
    r.shuffle::int as c_shuffle,
    r.context_type as c_context_type,
    r.reason_start as c_reason_start
from fx_rows_out as r
left join ordered as o on o.play_id = r.play_id
