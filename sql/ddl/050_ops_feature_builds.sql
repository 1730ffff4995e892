-- ops.feature_builds: one row per `skipify features` run. Grain: built_at.
-- The next run rebuilds rows from the earliest play ingested after the last build (docs/warehouse.md).
CREATE TABLE IF NOT EXISTS ops.feature_builds (
    as_of         DATE,          -- cut-off: plays before its midnight (UTC) have feature rows
    rebuilt_from  TIMESTAMPTZ,   -- rows from this play on were (re)built; NULL: nothing to do
    rows_written  BIGINT,
    built_at      TIMESTAMPTZ
);
