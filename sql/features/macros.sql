-- Temp macros of every feature build (run once per connection before the other features/ SQL, after
-- play_macros.sql: what a play says).
--
-- fx_track_keys(): what a play's item adds to its row, as every feature reads it: its domain (music when
-- unknown), the artist (an episode's or chapter's show_name when it names no creator) and the (first) genre,
-- '?' when the catalogue does not know them.
create or replace temp macro fx_track_keys() as table
select track_id, coalesce(domain, 'music') as domain, coalesce(artist, show_name, '?') as artist,
       coalesce(genres[1], '?') as genre
from raw.tracks;

-- fx_events(from_ts, to_ts, domains, abandon_ms): the plays with from_ts <= ts < to_ts as feature rows:
-- key, day (days since 1970-01-01, UTC: history is as of the start of the row's day), label and
-- early skip (their outcome: never read as a feature of the row itself), session and context,
-- the item's domain, artist and genre. probe_id is NULL: a play is not a probe.
-- label: feedback 'dislike', or played for less than its domain's threshold (fx_abandon_ms), or (ms_played
-- unknown) skipped.
create or replace temp macro fx_events(from_ts, to_ts, domains, abandon_ms) as table
select
    fx_play_id(e.user_id, e.track_id, e.ts) as play_id,
    null::bigint as probe_id,
    true as is_event,
    e.user_id, e.track_id, e.ts,
    fx_day(e.ts) as day,
    fx_label(e.feedback, e.ms_played, e.skipped, fx_abandon_ms(k.domain, domains, abandon_ms)) as label,
    fx_early_skip(e.ms_played, e.skipped, fx_abandon_ms(k.domain, domains, abandon_ms)) as early_skip,
    e.session_id, e.session_position, e.context_type, e.platform, e.shuffle, e.reason_start,
    coalesce(k.artist, '?') as artist,
    coalesce(k.genre, '?') as genre,
    coalesce(k.domain, 'music') as domain
from raw.events as e
left join fx_track_keys() as k on k.track_id = e.track_id
where e.ts >= from_ts and e.ts < to_ts;
