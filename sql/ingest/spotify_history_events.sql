-- Spotify Extended Streaming History plays (`src`, one row per play, personal fields already removed)
-- mapped onto the events contract. Each play is of one item, by the URI it carries: a music track
-- (spotify_track_uri; its id is the URI's last part, as before items had domains), a podcast episode
-- (spotify_episode_uri), an audiobook chapter (audiobook_chapter_uri, else the book's audiobook_uri); the
-- item's id is then its whole URI. Every play of a Streaming_History_Video_*.json file ($video_file) is a video.
-- Plays that are valid but cannot be kept get `excluded` with the reason: incognito plays, plays that name no
-- item (a local file, an unavailable track), items of a domain not configured ($label_domains).
--   * ts in the export is when the play ENDED; the contract's ts is when it started: ts - ms_played.
--   * skipped may be null in older exports: fwdbtn/backbtn -> true, trackdone -> false, any other
--     end reason -> played for less than $skip_threshold_ms.
--   * sessions: a new session starts when a play begins more than 30 minutes after the previous ended.
with plays as (
    select
        record_number,
        coalesce(clean_text($user), clean_text(username)) as user_id,
        clean_text(spotify_track_uri) as spotify_track_uri,
        regexp_extract(clean_text(spotify_track_uri), '^spotify:track:([A-Za-z0-9]+)$', 1) as uri_id,
        ts as ts_raw,
        try_cast(ts as timestamptz) as end_ts,
        ms_played,
        whole_number(ms_played) as ms,
        try_cast(skipped as boolean) as skipped_flag,
        clean_text(reason_start) as reason_start,
        clean_text(reason_end) as reason_end,
        shuffle,
        lower(platform) as platform_raw,
        coalesce(try_cast(incognito_mode as boolean), false) as incognito,
        clean_text(spotify_episode_uri) as episode_uri,
        coalesce(clean_text(audiobook_chapter_uri), clean_text(audiobook_uri)) as chapter_uri
    from src
),

items as (
    select
        *,
        case
            when spotify_track_uri is not null then case when uri_id <> '' then uri_id else spotify_track_uri end
            else coalesce(episode_uri, chapter_uri)
        end as item_id,
        case
            when $video_file then 'video'
            when spotify_track_uri is not null then 'music'
            when episode_uri is not null then 'podcast'
            when chapter_uri is not null then 'audiobook'
        end as domain
    from plays
),

mapped as (
    select
        *,
        end_ts - to_milliseconds(coalesce(ms, 0)) as start_ts,
        case
            when incognito then 'incognito play: not tracked at the listener''s request'
            when item_id is null then 'no spotify_track_uri, spotify_episode_uri or audiobook uri (a local file or an unavailable item)'
            when not list_contains($label_domains, domain)
                then 'a ' || domain || ' play: domain not configured (Config.label_domain_abandon_ms)'
        end as excluded
    from items
),

sessions as (
    select
        *,
        -- minutes between the end of the previous play and the start of this one
        datediff('minute', lag(end_ts) over w, start_ts) > 30
            or lag(end_ts) over w is null as starts_session
    from mapped
    window w as (partition by user_id, excluded is null order by start_ts, record_number)
),

numbered as (
    select
        *,
        sum(starts_session::int) over (partition by user_id, excluded is null order by start_ts, record_number) as session_no
    from sessions
)

select
    record_number,
    user_id,
    item_id as track_id,
    coalesce(cast(start_ts as varchar), ts_raw) as ts,
    ms_played,
    coalesce(
        skipped_flag,
        case
            when reason_end in ('fwdbtn', 'backbtn') then true
            when reason_end = 'trackdone' then false
            when ms is not null then ms < $skip_threshold_ms
        end
    ) as skipped,
    null as feedback,
    reason_start,
    reason_end,
    case when start_ts is not null then user_id || ':' || session_no end as session_id,
    row_number() over (partition by user_id, excluded is null, session_no order by start_ts, record_number) as session_position,
    null as context_type,
    case
        when platform_raw like '%android%' then 'android'
        when platform_raw like '%ios%' or platform_raw like '%iphone%' then 'ios'
        when platform_raw like '%web%' then 'web'
        when platform_raw like '%cast%' or platform_raw like '%partner%' or platform_raw like '%sonos%' then 'cast'
        when platform_raw like '%windows%' or platform_raw like '%os x%' or platform_raw like '%linux%' then 'desktop'
        when platform_raw is not null then 'other'
    end as platform,
    shuffle,
    domain,
    excluded
from numbered
