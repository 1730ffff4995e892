-- Who is new on a night, one definition for the backtest and tonight's figures (temp macros, run with run_script).
-- A listener (track) is new on a night when their first play before its cut-off is on or after $new_since
-- (the cut-off less guard_new_days), or there is none. (Statements are split at semicolons: none in comments.)
create or replace temp macro guard_first_users(cutoff) as table
    select user_id, min(ts) as first_play from raw.events where ts < cutoff group by user_id;

create or replace temp macro guard_first_tracks(cutoff) as table
    select track_id, min(ts) as first_play from raw.events where ts < cutoff group by track_id;

create or replace temp macro guard_newness(first_play, new_since) as
    case when first_play is null or first_play >= new_since then 'new' else 'known' end;
