-- features.labels: the key and the label of each play (the target the models learn), one row per
-- play, with the artist and genre its family rows are keyed by, and n: the play's number among the
-- listener's plays (1 = their first; in time order), counted on from features.state_user's total
-- before the first day being built. The listening history (families/50_listening_history.sql)
-- reads a listener's last plays by their numbers.
with firsts as (
    select user_id, min(day) as day from fx_rows_out group by user_id
),

before as (
    select f.user_id, coalesce(a.plays, 0) as plays
    from firsts as f
    asof left join fx_state_user as a on a.user_id = f.user_id and f.day > a.day
)

select
    r.play_id, r.user_id, r.track_id, r.ts, r.day, r.label, r.early_skip, r.artist, r.genre,
    b.plays + row_number() over (partition by r.user_id order by r.ts, r.play_id) as n
from fx_rows_out as r
join before as b on b.user_id = r.user_id
