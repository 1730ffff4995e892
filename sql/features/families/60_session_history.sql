-- grain: play_id
-- features.session_history: per row, the earlier plays of its session (up to $history_len, most
-- recent first) as three lists of the same length (empty for a session's first play or a row
-- without a session): the track, the outcome (0 completed, 1 early skip, 2 dislike without an early
-- skip) and the minutes from the play's start to the row's. Probes carry no outcome: they are not
-- plays of anyone's history.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature hs_track_ids | Session's earlier plays (tracks) | The tracks played earlier in the row's session, most recent first (up to 50).
-- feature hs_outcomes | Session's earlier plays (outcomes) | How each of those plays ended: 0 completed, 1 early skip, 2 dislike.
-- feature hs_minutes_before | Session's earlier plays (minutes ago) | Minutes from the start of each of those plays to the row's.
with session_rows as (
    select play_id, is_event, session_id, ts, day, track_id, label, early_skip, true as built from fx_rows_out
    union all
    select play_id, is_event, session_id, ts, day, track_id, label, early_skip, false from fx_earlier
),

ordered as (
    select
        play_id, day, built, ts,
        list({
            'track': track_id,
            'outcome': (case when early_skip = 1 then 1 when label = 1 then 2 else 0 end)::utinyint,
            'start': ts
        }) filter (where is_event) over w as plays
    from session_rows
    -- a row without a session is alone in its partition: nothing before it
    window w as (
        partition by session_id, case when session_id is null then play_id end
        order by ts, play_id rows between $history_len preceding and 1 preceding
    )
)

select
    play_id,
    day,
    coalesce(list_reverse(list_transform(plays, x -> x.track)), [])::varchar[] as hs_track_ids,
    coalesce(list_reverse(list_transform(plays, x -> x.outcome)), [])::utinyint[] as hs_outcomes,
    coalesce(list_reverse(list_transform(plays, x -> (floor(epoch(ts)) - floor(epoch(x.start))) / 60.0)), [])::double[] as hs_minutes_before
from ordered
where built
