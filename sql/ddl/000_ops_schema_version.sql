-- ops.schema_version: one row per applied migration (sql/ddl/NNN_name.sql).
-- Grain: version. Written only by `skipify migrate`.
CREATE SCHEMA IF NOT EXISTS ops;
CREATE TABLE IF NOT EXISTS ops.schema_version (
    version     INTEGER,      -- NNN of the file name
    name        VARCHAR,      -- rest of the file name
    checksum    VARCHAR,      -- sha256 prefix of the file text when applied
    applied_at  TIMESTAMPTZ
);
