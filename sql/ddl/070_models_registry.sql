-- models.registry: one row per trained model version. Grain: version.
-- status: champion (serves the nightly scores; at most one), challenger (trained, gate not passed
-- yet or not better than the champion), rejected (failed the gate). Artefacts live under
-- <SKIPIFY_HOME>/models/<version>/ and load without retraining.
CREATE TABLE IF NOT EXISTS models.registry (
    version        VARCHAR,      -- e.g. 20260303-101502
    created_at     TIMESTAMPTZ,
    as_of          DATE,         -- feature cut-off the model was trained with
    train_from     DATE,
    valid_from     DATE,
    test_from      DATE,
    test_to        DATE,
    params         VARCHAR,      -- JSON: hyperparameters of every model
    metrics        VARCHAR,      -- JSON: the evaluation (summary, per model, per segment)
    artefacts      VARCHAR,      -- JSON: name -> path
    status         VARCHAR,
    gate_verdict   VARCHAR,      -- promoted | rejected
    gate_reasons   VARCHAR
);
