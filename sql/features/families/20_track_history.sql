-- grain: track_id
-- features.track_history: per track and day, the track's history as of the start of that day from
-- features.state_track (plays, smoothed dislike rate, popularity trend, age) and what the catalogue
-- says of it (raw.tracks: audio, duration, release; artist and genre as fx_track_keys reads them).
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
-- feature t_domain | Item's domain | What the item is: a music track, a podcast episode, an audiobook chapter, a video (docs/domains.md).
with keys as (
    select distinct track_id, artist, genre, day from fx_rows_out
),

hist as (
    select
        k.track_id, k.artist, k.genre, k.day,
        coalesce(a.plays, 0) - coalesce(w7.plays, 0) as plays_7d,
        coalesce(a.plays, 0) - coalesce(w30.plays, 0) as plays_30d,
        coalesce(a.dislikes, 0) - coalesce(w30.dislikes, 0) as dislikes_30d,
        coalesce(a.plays, 0) as plays_all,
        coalesce(a.dislikes, 0) as dislikes_all,
        coalesce(a.listeners, 0) - coalesce(w30.listeners, 0) as listener_days_30d,
        a.first_day
    from keys as k
    asof left join fx_state_track as a on a.track_id = k.track_id and k.day > a.day
    asof left join fx_state_track as w7 on w7.track_id = k.track_id and k.day - 7 > w7.day
    asof left join fx_state_track as w30 on w30.track_id = k.track_id and k.day - 30 > w30.day
)

select
    h.track_id,
    h.day,
    h.plays_7d as t_plays_7d,
    h.plays_30d as t_plays_30d,
    h.plays_all as t_plays_all,
    (h.dislikes_30d + g.prior * $smoothing) / (h.plays_30d + $smoothing) as t_dislike_rate_30d,
    (h.dislikes_all + g.prior * $smoothing) / (h.plays_all + $smoothing) as t_dislike_rate_all,
    -- plays per day in the last week against the last month (1 = steady, > 1 rising)
    (h.plays_7d / 7.0 + 0.1) / (h.plays_30d / 30.0 + 0.1) as t_trend,
    h.listener_days_30d as t_listener_days_30d,
    h.day - coalesce(h.first_day, h.day) as t_days_since_first_play,
    year(date '1970-01-01' + h.day) - t.release_year as t_years_since_release,
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
    h.genre as t_genre,
    h.artist as t_artist,
    coalesce(t.domain, 'music') as t_domain
from hist as h
join fx_prior as g on g.day = h.day
left join raw.tracks as t on t.track_id = h.track_id
