-- models.tuning: every trial of `skipify tune` (a budgeted Optuna search on the validation split).
-- Grain: (run_id, model, trial). chosen marks the best trial of each (run_id, model): `skipify train`
-- uses the chosen values of the latest run and records them with the version it trains.
CREATE TABLE IF NOT EXISTS models.tuning (
    run_id         VARCHAR,      -- e.g. 20260303-101502
    created_at     TIMESTAMPTZ,
    model          VARCHAR,      -- lightgbm | deep
    trial          INTEGER,
    params         VARCHAR,      -- JSON: the model's whole configuration in this trial
    valid_roc_auc  DOUBLE,
    seconds        DOUBLE,
    chosen         BOOLEAN
);
