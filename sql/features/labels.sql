-- features.labels: the key and the label of each play (the target the models learn), one row per
-- play, with the artist, genre and domain its family rows are keyed by, and running counts in the listener's
-- play order: n, the play's number among the listener's plays (1 = their first; in time order);
-- n_dislikes, the listener's dislikes up to and including it; n_genre / n_genre_dislikes and n_artist /
-- n_artist_dislikes, the same among the listener's plays of its genre and of its artist. Each counts on
-- from the state's totals (features.state_user, state_user_genre, state_user_artist) before the first
-- day being built. The listening history (families/50_listening_history.sql) reads a listener's last plays
-- by their numbers; its counts of the last plays by genre and artist (families/31, 32) read the running
-- counts where those plays begin.
with firsts as (
    select user_id, min(day) as day from fx_rows_out group by user_id
),

before as (
    select f.user_id, coalesce(a.plays, 0) as plays, coalesce(a.dislikes, 0) as dislikes
    from firsts as f
    asof left join fx_state_user as a on a.user_id = f.user_id and f.day > a.day
),

genre_firsts as (
    select user_id, genre, min(day) as day from fx_rows_out group by user_id, genre
),

genre_before as (
    select f.user_id, f.genre, coalesce(a.plays, 0) as plays, coalesce(a.dislikes, 0) as dislikes
    from genre_firsts as f
    asof left join fx_state_user_genre as a on a.user_id = f.user_id and a.genre = f.genre and f.day > a.day
),

artist_firsts as (
    select user_id, artist, min(day) as day from fx_rows_out group by user_id, artist
),

artist_before as (
    select f.user_id, f.artist, coalesce(a.plays, 0) as plays, coalesce(a.dislikes, 0) as dislikes
    from artist_firsts as f
    asof left join fx_state_user_artist as a on a.user_id = f.user_id and a.artist = f.artist and f.day > a.day
)

select
    r.play_id, r.user_id, r.track_id, r.ts, r.day, r.label, r.early_skip, r.artist, r.genre, r.domain,
    b.plays + row_number() over (partition by r.user_id order by r.ts, r.play_id) as n,
    (b.dislikes + sum(r.label) over (partition by r.user_id order by r.ts, r.play_id))::bigint as n_dislikes,
    g.plays + row_number() over (partition by r.user_id, r.genre order by r.ts, r.play_id) as n_genre,
    (g.dislikes + sum(r.label) over (partition by r.user_id, r.genre order by r.ts, r.play_id))::bigint as n_genre_dislikes,
    a.plays + row_number() over (partition by r.user_id, r.artist order by r.ts, r.play_id) as n_artist,
    (a.dislikes + sum(r.label) over (partition by r.user_id, r.artist order by r.ts, r.play_id))::bigint as n_artist_dislikes
from fx_rows_out as r
join before as b on b.user_id = r.user_id
join genre_before as g on g.user_id = r.user_id and g.genre = r.genre
join artist_before as a on a.user_id = r.user_id and a.artist = r.artist
