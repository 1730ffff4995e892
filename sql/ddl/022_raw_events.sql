-- raw.events: one row per play. Key (user_id, track_id, ts); re-ingesting never duplicates a key.
-- Which columns may feed features of the same event: ops.column_policy (outcome columns never do).
CREATE TABLE IF NOT EXISTS raw.events (
    user_id           VARCHAR,
    track_id          VARCHAR,
    ts                TIMESTAMPTZ,   -- start of the play, UTC
    ms_played         BIGINT,        -- NULL when the source does not say (MSSD)
    skipped           BOOLEAN,
    feedback          VARCHAR,       -- like | dislike | NULL
    reason_start      VARCHAR,
    reason_end        VARCHAR,
    session_id        VARCHAR,
    session_position  INTEGER,       -- 1-based
    context_type      VARCHAR,
    platform          VARCHAR,
    shuffle           BOOLEAN,
    source_format     VARCHAR,       -- contract | spotify-history | mssd
    batch_id          VARCHAR,
    ingested_at       TIMESTAMPTZ
);
ALTER TABLE raw.events SET PARTITIONED BY (year(ts), month(ts));
