-- raw.users: one row per user_id (upserted; later batches fill or change fields, never blank them).
CREATE TABLE IF NOT EXISTS raw.users (
    user_id        VARCHAR,
    country        VARCHAR,    -- ISO 3166-1 alpha-2 where known
    birth_year     INTEGER,
    age_band       VARCHAR,    -- e.g. '25-34' when only a band is known
    product        VARCHAR,    -- free | premium
    signup_date    DATE,
    source_format  VARCHAR,
    batch_id       VARCHAR,    -- last batch that changed the row
    updated_at     TIMESTAMPTZ
);
