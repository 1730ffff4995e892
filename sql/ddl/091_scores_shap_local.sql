-- Why a pair was scored as it was: the top SHAP blocks (log-odds) of both models for a sample of each
-- night's scored pairs (config shap_night_sample), written by the night's shards to
-- scores.staged_shap and published with the night into scores.shap_local.
-- Grain: (run_date, user_id, track_id, model, rank).
CREATE TABLE IF NOT EXISTS scores.staged_shap (
    run_date    DATE,
    shard       INTEGER,
    user_id     VARCHAR,
    track_id    VARCHAR,
    model       VARCHAR,
    rank        INTEGER,
    block       VARCHAR,
    shap        DOUBLE
);
CREATE TABLE IF NOT EXISTS scores.shap_local (
    run_date    DATE,
    user_id     VARCHAR,
    track_id    VARCHAR,
    model       VARCHAR,     -- deep | lightgbm
    rank        INTEGER,     -- 1 = the block that moved this score most
    block       VARCHAR,
    shap        DOUBLE       -- contribution to the log-odds of a dislike
);
