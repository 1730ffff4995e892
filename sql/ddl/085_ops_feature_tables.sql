-- ops.feature_tables: a log of the definition each table of the features schema was built with (a hash of
-- its SQL, the SQL every build shares and the settings it reads). Grain: (table_name, built_at). A table whose
-- definition changed, or that is new (a family added to a warehouse that already has features),
-- is rebuilt for all of history in the next build, never partially.
CREATE TABLE IF NOT EXISTS ops.feature_tables (
    table_name  VARCHAR,
    definition  VARCHAR,
    built_at    TIMESTAMPTZ
);
