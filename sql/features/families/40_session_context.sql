-- grain: play_id
-- features.session_context: per row (play or probe), where it sits in its session and what happened just before it
-- in that session (the strongest simple signal for skips), and its context. Never reason_end, nor
-- any outcome of the play itself: only earlier rows of the same session are read.
--
-- hs_prev: the play_id of the previous play of the row's session (NULL for a session's first play or
-- a row without a session). The row's session history is that play, then its own hs_prev, and so on
-- back, up to $history_len plays, most recent first; skipify.sequences follows the links and gives
-- three lists of the same length (empty without earlier plays): the track, the outcome (0 completed,
-- 1 early skip, 2 dislike without an early skip) and the minutes from the play's start to the row's.
-- Probes carry no outcome: they are not plays of anyone's history. (In the same window as the
-- session features: as a family of its own it cost 1.5 s more at 10M plays, 1.5 ms more per request.)
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature s_position | Position in the session | The play's position in its listening session (1 = first).
-- feature s_plays_before | Earlier plays in the session | Plays earlier in the same session.
-- feature s_dislikes_before | Earlier dislikes in the session | Dislikes or early skips earlier in the same session.
-- feature s_dislike_share_before | Session dislike share so far | Share of the session's earlier plays that were dislikes or early skips (empty for its first play).
-- feature s_prev_dislike | Previous play disliked | Whether the session's previous play was a dislike or early skip (1) or not (0).
-- feature s_prev_early_skip | Previous play skipped early | Whether the session's previous play was skipped before the label threshold.
-- feature s_minutes_since_prev | Minutes since the previous play | Minutes between the start of the session's previous play and this one.
-- feature c_hour | Hour of day (UTC) | The hour the play starts, in UTC.
-- feature c_weekday | Day of week | ISO day of the week of the play (1 Monday to 7 Sunday).
-- feature c_platform | Platform | Where it plays: android, ios, desktop, web, cast or other.
-- feature c_shuffle | Shuffle on | Whether shuffle was on (1) or off (0).
-- feature c_context_type | Context type | What the play belongs to: a playlist, an album, the listener's collection, radio ...
-- feature c_reason_start | Why the play started | How the play began (clickrow, trackdone, fwdbtn ...): it tells how the previous play ended.
-- feature hs_track_ids | Session's earlier plays (tracks) | The tracks played earlier in the row's session, most recent first (up to 50).
-- feature hs_outcomes | Session's earlier plays (outcomes) | How each of those plays ended: 0 completed, 1 early skip, 2 dislike.
-- feature hs_minutes_before | Session's earlier plays (minutes ago) | Minutes from the start of each of those plays to the row's.
-- feature hsx_genre_plays | Session's plays of this genre | How many of the session's earlier plays (its last 50) were of the track's genre.
-- feature hsx_genre_dislike_share | Session's dislike share in this genre | Share of the session's earlier plays of the track's genre that ended in a dislike or an early skip.
--
-- hsx_genre_*: among the same earlier plays (the session's last $history_len before the row), those of the
-- row's genre: a RANGE window over the number of the session's plays before each row (s_plays_before),
-- partitioned by session and genre.
with session_rows as (
    -- the rows being built (built) and the earlier plays of their sessions; probes carry no outcome
    select play_id, is_event, session_id, ts, day, label, early_skip, session_position,
           platform, shuffle, context_type, reason_start, genre, true as built
    from fx_rows_out
    union all
    select play_id, is_event, session_id, ts, day, label, early_skip, session_position,
           platform, shuffle, context_type, reason_start, genre, false
    from fx_earlier
),

ordered as (
    select
        *,
        sum(is_event::int) over w as plays_before,
        sum(label) over w as dislikes_before,
        last_value(label ignore nulls) over w as prev_label,
        last_value(case when is_event then early_skip end ignore nulls) over w as prev_early_skip,
        last_value(case when is_event then ts end ignore nulls) over w as prev_ts,
        last_value(case when is_event then play_id end ignore nulls) over w as hs_prev
    from session_rows
    -- a row without a session is alone in its partition: nothing before it
    window w as (
        partition by session_id, case when session_id is null then play_id end
        order by ts, play_id rows between unbounded preceding and 1 preceding
    )
),

by_genre as (
    select
        *,
        sum(is_event::int) over g as genre_plays_before,
        sum(label) over g as genre_dislikes_before
    from ordered
    -- the session's plays of the row's genre numbered from k - $history_len to k - 1 (k: plays before the row)
    window g as (
        partition by session_id, genre, case when session_id is null then play_id end
        order by coalesce(plays_before, 0) range between $history_len preceding and 1 preceding
    )
)

select
    play_id,
    day,
    coalesce(session_position, plays_before + 1) as s_position,
    coalesce(plays_before, 0) as s_plays_before,
    coalesce(dislikes_before, 0) as s_dislikes_before,
    dislikes_before / nullif(plays_before, 0) as s_dislike_share_before,
    prev_label as s_prev_dislike,
    prev_early_skip as s_prev_early_skip,
    -- arithmetic on epoch seconds (UTC): DuckDB's calendar functions on TIMESTAMPTZ cost 10x more
    (floor(epoch(ts)) - floor(epoch(prev_ts))) / 60.0 as s_minutes_since_prev,  -- whole seconds crossed
    (floor(epoch(ts) / 3600)::bigint % 24) as c_hour,
    -- 1970-01-01 was a Thursday (ISO day 4)
    ((floor(epoch(ts) / 86400)::bigint + 3) % 7 + 1) as c_weekday,
    platform as c_platform,
    shuffle::int as c_shuffle,
    context_type as c_context_type,
    reason_start as c_reason_start,
    coalesce(genre_plays_before, 0)::bigint as hsx_genre_plays,
    genre_dislikes_before / nullif(genre_plays_before, 0) as hsx_genre_dislike_share,
    hs_prev
from by_genre
where built
