-- embeddings.user_vectors / embeddings.track_vectors: the two-tower vectors of every known listener
-- and track, per model version, computed from the features as of the version's cut-off (as_of).
-- Grain: (model_version, user_id) and (model_version, track_id). They serve candidate generation
-- (nearest tracks to a listener) and the app's "nearest tracks" view; old versions stay.
CREATE TABLE IF NOT EXISTS embeddings.user_vectors (
    model_version  VARCHAR,
    as_of          DATE,
    user_id        VARCHAR,
    vector         FLOAT[]       -- two-tower dim (32 by default)
);
CREATE TABLE IF NOT EXISTS embeddings.track_vectors (
    model_version  VARCHAR,
    as_of          DATE,
    track_id       VARCHAR,
    vector         FLOAT[]
);
