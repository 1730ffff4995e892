-- ops.runs: one row per attempt of a night (grain: run_id). status: published | failed.
-- rows: JSON of row counts per table; seconds: JSON of seconds per stage; reason: why it failed.
CREATE TABLE IF NOT EXISTS ops.runs (
    run_id          VARCHAR,
    run_date        DATE,
    started_at      TIMESTAMPTZ,
    finished_at     TIMESTAMPTZ,
    status          VARCHAR,
    model_version   VARCHAR,
    rows            VARCHAR,
    seconds         VARCHAR,
    reason          VARCHAR
);
