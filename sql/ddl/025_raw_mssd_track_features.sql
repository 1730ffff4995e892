-- raw.mssd_track_features: the MSSD tf_*.csv columns that the contract's raw.tracks has no room for.
-- Key: track_id.
CREATE TABLE IF NOT EXISTS raw.mssd_track_features (
    track_id               VARCHAR,
    us_popularity_estimate DOUBLE,
    beat_strength          DOUBLE,
    bounciness             DOUBLE,
    dyn_range_mean         DOUBLE,
    flatness               DOUBLE,
    mechanism              DOUBLE,
    organism               DOUBLE,
    acoustic_vector        DOUBLE[],     -- acoustic_vector_0 .. acoustic_vector_7
    batch_id               VARCHAR,
    ingested_at            TIMESTAMPTZ
);
