-- raw.tracks: one row per track_id (upserted like raw.users). Audio features where known.
CREATE TABLE IF NOT EXISTS raw.tracks (
    track_id          VARCHAR,
    title             VARCHAR,
    artist            VARCHAR,
    album             VARCHAR,
    genres            VARCHAR[],
    release_year      INTEGER,
    duration_ms       BIGINT,
    danceability      DOUBLE,    -- 0..1
    energy            DOUBLE,    -- 0..1
    valence           DOUBLE,    -- 0..1
    tempo             DOUBLE,    -- beats per minute
    acousticness      DOUBLE,    -- 0..1
    instrumentalness  DOUBLE,    -- 0..1
    speechiness       DOUBLE,    -- 0..1
    liveness          DOUBLE,    -- 0..1
    loudness          DOUBLE,    -- dB, usually -60..0
    key               INTEGER,   -- 0..11 pitch class, -1 unknown
    mode              INTEGER,   -- 1 major, 0 minor
    time_signature    INTEGER,
    source_format     VARCHAR,
    batch_id          VARCHAR,
    updated_at        TIMESTAMPTZ
);
