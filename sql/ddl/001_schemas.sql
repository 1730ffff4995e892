-- The warehouse's schemas, in the order data flows through them (docs/warehouse.md).
CREATE SCHEMA IF NOT EXISTS raw;          -- landing files, validated, mapped onto the data contract
CREATE SCHEMA IF NOT EXISTS quarantine;   -- rows that were not loaded, with the reason
CREATE SCHEMA IF NOT EXISTS features;     -- point-in-time feature tables
CREATE SCHEMA IF NOT EXISTS embeddings;   -- text and two-tower embeddings
CREATE SCHEMA IF NOT EXISTS models;       -- registry, metrics, gate verdicts
CREATE SCHEMA IF NOT EXISTS scores;       -- nightly dislike scores, one partition per run_date
