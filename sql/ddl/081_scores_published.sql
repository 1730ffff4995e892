-- scores.dislike_scores: the published nightly scores. Grain: (run_date, user_id, track_id); every night kept.
-- p_dislike: champion deep model (calibrated); p_dislike_baseline: the same version's LightGBM;
-- rank_in_user: 1 = the listener's riskiest candidate that night; scored_at: the feature cut-off
-- the scores are as of (run_date 00:00 UTC; wall-clock times are in ops.runs).
CREATE TABLE IF NOT EXISTS scores.dislike_scores (
    run_date            DATE,
    user_id             VARCHAR,
    track_id            VARCHAR,
    source              VARCHAR,
    p_dislike           DOUBLE,
    p_dislike_baseline  DOUBLE,
    rank_in_user        INTEGER,
    at_risk             BOOLEAN,
    model_version       VARCHAR,
    scored_at           TIMESTAMPTZ
);
-- scores.track_dislike_profile: per run_date and track, over its candidate listeners that night.
-- category rules: docs/warehouse.md.
CREATE TABLE IF NOT EXISTS scores.track_dislike_profile (
    run_date        DATE,
    track_id        VARCHAR,
    artist          VARCHAR,
    n_listeners     INTEGER,
    mean_p_dislike  DOUBLE,
    std_p_dislike   DOUBLE,
    share_at_risk   DOUBLE,
    category        VARCHAR
);
-- scores.user_risk: per run_date and listener: candidates scored, how many at risk, the riskiest ones.
CREATE TABLE IF NOT EXISTS scores.user_risk (
    run_date        DATE,
    user_id         VARCHAR,
    n_candidates    INTEGER,
    n_at_risk       INTEGER,
    max_p_dislike   DOUBLE,
    top_tracks      VARCHAR[]   -- up to 5 track ids, riskiest first
);
