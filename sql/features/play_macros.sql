-- What a play says, one definition for every reader (temp macros, run before macros.sql and on the
-- API's in-memory DuckDB, where the plays of POST /v1/events become feature rows: skipify.features.load_macros).
--
-- fx_play_id: a play's key as one number (user, track, start). fx_day: its day, days since
-- 1970-01-01 UTC (history is as of the start of a row's day). fx_abandon_ms: the early-skip threshold of
-- an item's domain (domains and abandon_ms: Config.label_params(), the bound lists $label_domains and
-- $label_abandon_ms, a NULL domain is music). fx_early_skip: played less than that threshold or, with
-- ms_played unknown, skipped. fx_label (the target): a dislike, or an early skip. This is the one place the
-- label is defined (docs/domains.md says why each domain's threshold).
-- (Statements are split at semicolons: none in these comments.)
create or replace temp macro fx_play_id(user_id, track_id, ts) as hash(user_id, track_id, ts);

-- floor: a cast of the quotient would round (noon boundaries)
create or replace temp macro fx_day(ts) as floor(epoch(ts) / 86400)::int;

create or replace temp macro fx_abandon_ms(domain, domains, abandon_ms) as
    abandon_ms[list_position(domains, coalesce(domain, 'music'))];

create or replace temp macro fx_early_skip(ms_played, skipped, abandon_ms) as
    coalesce(ms_played < abandon_ms, skipped, false)::int;

create or replace temp macro fx_label(feedback, ms_played, skipped, abandon_ms) as
    (coalesce(feedback = 'dislike', false) or coalesce(ms_played < abandon_ms, skipped, false))::int;
