-- Staging for the nightly run: what a night is built from before it is published.
-- scores.candidates: the pairs to score for run_date, each in one user shard. Grain: (run_date, user_id, track_id).
-- source: supplied (raw.candidates) | taste (nearest by two-tower) | rotation (recently played).
CREATE TABLE IF NOT EXISTS scores.candidates (
    run_date        DATE,
    shard           INTEGER,
    user_id         VARCHAR,
    track_id        VARCHAR,
    source          VARCHAR
);
-- scores.staged_scores: each shard's scores, written by its own task; the publish step checks them
-- and copies them into scores.dislike_scores in one transaction, then clears the night's staging.
CREATE TABLE IF NOT EXISTS scores.staged_scores (
    run_date            DATE,
    shard               INTEGER,
    user_id             VARCHAR,
    track_id            VARCHAR,
    source              VARCHAR,
    p_dislike           DOUBLE,
    p_dislike_baseline  DOUBLE,
    model_version       VARCHAR
);
