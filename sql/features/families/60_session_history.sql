-- grain: play_id
-- features.session_history: per row, hs_prev, the play_id of the previous play of its session (NULL
-- for a session's first play or a row without a session). The row's session history is that play,
-- then its own hs_prev, and so on back, up to $history_len plays, most recent first; skipify.sequences
-- follows the links and gives three lists of the same length (empty without earlier plays): the
-- track, the outcome (0 completed, 1 early skip, 2 dislike without an early skip) and the minutes from
-- the play's start to the row's. Probes carry no outcome: they are not plays of anyone's history.
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature hs_track_ids | Session's earlier plays (tracks) | The tracks played earlier in the row's session, most recent first (up to 50).
-- feature hs_outcomes | Session's earlier plays (outcomes) | How each of those plays ended: 0 completed, 1 early skip, 2 dislike.
-- feature hs_minutes_before | Session's earlier plays (minutes ago) | Minutes from the start of each of those plays to the row's.
with session_rows as (
    select play_id, is_event, session_id, ts, day, true as built from fx_rows_out
    union all
    select play_id, is_event, session_id, ts, day, false from fx_earlier
),

ordered as (
    select
        play_id, day, built,
        last_value(case when is_event then play_id end ignore nulls) over (
            -- a row without a session is alone in its partition: nothing before it
            partition by session_id, case when session_id is null then play_id end
            order by ts, play_id rows between unbounded preceding and 1 preceding
        ) as hs_prev
    from session_rows
)

select play_id, day, hs_prev
from ordered
where built
