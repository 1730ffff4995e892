-- models.registry.served_model: the model kind a version serves (lightgbm | deep), chosen by the gate on
-- validation; the night's p_dislike and the API's come from it, p_dislike_baseline from the other.
-- NULL for versions registered before: they served their deep model.
-- models.registry.gate_figures: JSON, what the verdict rests on: every kind's validation and test ROC AUC,
-- and both versions' ROC AUC on the rows they were compared on (skipify.registry.gate).
ALTER TABLE models.registry ADD COLUMN served_model VARCHAR;
ALTER TABLE models.registry ADD COLUMN gate_figures VARCHAR;
