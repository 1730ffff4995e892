-- ops.batches: one row per (ingested file, target table). Grain: (batch_id, table_name).
-- A batch is identified by its content: the same file ingested twice is found here and skipped.
CREATE TABLE IF NOT EXISTS ops.batches (
    batch_id          VARCHAR,     -- sha256 prefix of (format, user override, file bytes)
    table_name        VARCHAR,     -- e.g. raw.events
    source_format     VARCHAR,     -- contract | spotify-history | mssd
    source_file       VARCHAR,     -- absolute path at ingest time
    rows_read         BIGINT,      -- records read from the file for this table
    rows_loaded       BIGINT,      -- new rows written to the table
    rows_duplicate    BIGINT,      -- rows already present (or repeated in the file): not written again
    rows_quarantined  BIGINT,      -- invalid rows, in quarantine.rows with their reason
    rows_excluded     BIGINT,      -- valid records left out by policy (podcasts, incognito plays)
    ignored_columns   VARCHAR[],   -- columns of the file that the contract does not know
    ingested_at       TIMESTAMPTZ
);
