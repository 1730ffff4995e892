-- models.registry.kinds: the model kinds a version holds (skipify.models.kinds.KINDS); it loads only those, so a
-- version trained before a kind was added still loads and serves.
-- models.registry.baseline_model: the kind whose probability the night publishes beside the served one's
-- (scores.dislike_scores.p_dislike_baseline): the first other kind the version holds.
-- Versions registered before these columns held LightGBM and the deep model; the ones registered before the
-- gate chose a kind (served_model NULL) served their deep model. Written here once, so that no query carries
-- that history.
ALTER TABLE models.registry ADD COLUMN kinds VARCHAR[];
ALTER TABLE models.registry ADD COLUMN baseline_model VARCHAR;
UPDATE models.registry SET served_model = 'deep' WHERE served_model IS NULL;
UPDATE models.registry
SET kinds = ['lightgbm', 'deep'],
    baseline_model = CASE WHEN served_model = 'lightgbm' THEN 'deep' ELSE 'lightgbm' END
WHERE kinds IS NULL;
