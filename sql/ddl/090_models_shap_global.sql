-- models.shap_global: each version's global SHAP importances, computed by `skipify train` on a sample
-- of test rows (config shap_sample). Grain: (model_version, model, block). Values are in log-odds of
-- a dislike; block = a feature, or a group of embedding dimensions for the deep model
-- (user embedding, track embedding, artist embedding, text embedding), docs/models.md.
CREATE TABLE IF NOT EXISTS models.shap_global (
    model_version   VARCHAR,
    model           VARCHAR,     -- deep | lightgbm
    rank            INTEGER,     -- 1 = the most important block
    block           VARCHAR,
    mean_abs_shap   DOUBLE
);
