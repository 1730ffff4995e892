-- raw.mssd_session_logs: MSSD log rows as delivered, beside their contract mapping in raw.events
-- (user_id = 'mssd:' || session_id, track_id = track_id_clean, ts as in docs/ingest.md).
-- Key (session_id, session_position). Outcome columns are listed in ops.column_policy.
CREATE TABLE IF NOT EXISTS raw.mssd_session_logs (
    session_id                       VARCHAR,
    session_position                 INTEGER,
    session_length                   INTEGER,
    track_id_clean                   VARCHAR,
    skip_1                           BOOLEAN,
    skip_2                           BOOLEAN,
    skip_3                           BOOLEAN,
    not_skipped                      BOOLEAN,
    context_switch                   INTEGER,
    no_pause_before_play             INTEGER,
    short_pause_before_play          INTEGER,
    long_pause_before_play           INTEGER,
    hist_user_behavior_n_seekfwd     INTEGER,
    hist_user_behavior_n_seekback    INTEGER,
    hist_user_behavior_is_shuffle    BOOLEAN,
    hour_of_day                      INTEGER,
    date                             DATE,
    premium                          BOOLEAN,
    context_type                     VARCHAR,
    hist_user_behavior_reason_start  VARCHAR,
    hist_user_behavior_reason_end    VARCHAR,
    user_id                          VARCHAR,
    ts                               TIMESTAMPTZ,
    batch_id                         VARCHAR,
    ingested_at                      TIMESTAMPTZ
);
