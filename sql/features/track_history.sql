-- features.track_history: the track's history as of the start of the row's day (plays, smoothed
-- dislike rate, popularity trend, age) and what the catalogue says of it (audio, duration, release).
--
-- The feature catalogue (skipify.catalogue; `skipify features --list`): column | label | what it says.
-- feature t_plays_7d | Track plays, last 7 days | Plays of the track, by anyone, in the 7 days before the row's day.
-- feature t_plays_30d | Track plays, last 30 days | Plays of the track, by anyone, in the 30 days before the row's day.
-- feature t_plays_all | Track plays, all time | Plays of the track, by anyone, before the row's day.
-- feature t_dislike_rate_30d | Track dislike rate, last 30 days | Share of the track's plays of the last 30 days that were dislikes or early skips, smoothed towards the global rate.
-- feature t_dislike_rate_all | Track dislike rate, all time | Share of all the track's earlier plays that were dislikes or early skips, smoothed towards the global rate.
-- feature t_trend | Track popularity trend | Plays per day of the last 7 days against those of the last 30 (above 1: rising).
-- feature t_listener_days_30d | Track listener-days, last 30 days | Sum over the last 30 days of the distinct listeners who played the track that day.
-- feature t_days_since_first_play | Days since the track's first play | Days from the track's first play to the row's day (0 for a new track).
-- feature t_years_since_release | Track age in years | Years from the track's release year to the play.
-- feature t_duration_s | Track length (s) | The track's duration in seconds.
-- feature t_danceability | Danceability | How suitable the track is for dancing, 0 to 1 (audio feature).
-- feature t_energy | Energy | Perceived intensity and activity, 0 to 1 (audio feature).
-- feature t_valence | Valence (mood) | Musical positiveness, 0 (sad) to 1 (happy) (audio feature).
-- feature t_tempo | Tempo (BPM) | Estimated tempo in beats per minute (audio feature).
-- feature t_acousticness | Acousticness | Confidence that the track is acoustic, 0 to 1 (audio feature).
-- feature t_instrumentalness | Instrumentalness | Likelihood that the track has no vocals, 0 to 1 (audio feature).
-- feature t_speechiness | Speechiness | Presence of spoken words, 0 to 1 (audio feature).
-- feature t_liveness | Liveness | Likelihood that the track was recorded live, 0 to 1 (audio feature).
-- feature t_loudness | Loudness (dB) | Overall loudness in decibels (audio feature).
-- feature t_mode | Major or minor | The track's mode: 1 major, 0 minor.
-- feature t_genre | Track genre | The track's genre (its first listed).
-- feature t_artist | Track artist | The track's artist (its name as the catalogue gives it).
with track_day as (
    select track_id, day, sum(is_event::int) as plays, sum(label) as dislikes, count(distinct user_id) filter (where is_event) as listeners
    from fx_rows
    group by track_id, day
),

windows as (
    select
        track_id, day,
        coalesce(sum(plays) over w7, 0) as plays_7d,
        coalesce(sum(plays) over w30, 0) as plays_30d,
        coalesce(sum(dislikes) over w30, 0) as dislikes_30d,
        coalesce(sum(plays) over wall, 0) as plays_all,
        coalesce(sum(dislikes) over wall, 0) as dislikes_all,
        coalesce(sum(listeners) over w30, 0) as listener_days_30d,
        min(day) filter (where plays > 0) over wall as first_day
    from track_day
    window
        w7 as (partition by track_id order by day range between 7 preceding and 1 preceding),
        w30 as (partition by track_id order by day range between 30 preceding and 1 preceding),
        wall as (partition by track_id order by day rows between unbounded preceding and 1 preceding)
)

select
    r.play_id,
    r.ts,
    w.plays_7d as t_plays_7d,
    w.plays_30d as t_plays_30d,
    w.plays_all as t_plays_all,
    (w.dislikes_30d + g.prior * $smoothing) / (w.plays_30d + $smoothing) as t_dislike_rate_30d,
    (w.dislikes_all + g.prior * $smoothing) / (w.plays_all + $smoothing) as t_dislike_rate_all,
    -- plays per day in the last week against the last month (1 = steady, > 1 rising)
    (w.plays_7d / 7.0 + 0.1) / (w.plays_30d / 30.0 + 0.1) as t_trend,
    w.listener_days_30d as t_listener_days_30d,
    r.day - coalesce(w.first_day, r.day) as t_days_since_first_play,
    year(r.ts) - t.release_year as t_years_since_release,
    t.duration_ms / 1000.0 as t_duration_s,
    t.danceability as t_danceability,
    t.energy as t_energy,
    t.valence as t_valence,
    t.tempo as t_tempo,
    t.acousticness as t_acousticness,
    t.instrumentalness as t_instrumentalness,
    t.speechiness as t_speechiness,
    t.liveness as t_liveness,
    t.loudness as t_loudness,
    t.mode as t_mode,
    r.genre as t_genre,
    r.artist as t_artist
from fx_rows_out as r
join windows as w on w.track_id = r.track_id and w.day = r.day
join fx_global_prior as g on g.day = r.day
left join raw.tracks as t on t.track_id = r.track_id
