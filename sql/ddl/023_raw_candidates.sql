-- raw.candidates: supplied (run_date, user_id, track_id) pairs to score that night. Key: all three.
CREATE TABLE IF NOT EXISTS raw.candidates (
    run_date     DATE,
    user_id      VARCHAR,
    track_id     VARCHAR,
    batch_id     VARCHAR,
    ingested_at  TIMESTAMPTZ
);
