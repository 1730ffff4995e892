-- models.registry.domain_served: the gate's choice per domain (docs/domains.md, "One gate per domain"), JSON:
-- {"podcast": {"trained_on": "podcast", "served_model": "lightgbm", "baseline_model": "deep"}, ...}. trained_on
-- "all": a kind trained on every domain's plays (the version's own kinds), else the kind trained on that domain's
-- plays alone (kept in the version's folder under domain-<name>/). A domain it does not name, and every domain of a
-- version registered before this column (NULL), is served by the version's served_model.
ALTER TABLE models.registry ADD COLUMN domain_served VARCHAR;
