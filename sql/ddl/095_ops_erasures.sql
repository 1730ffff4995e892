-- ops.erasures: each `skipify forget` (a listener's right to be forgotten), without the ids in clear.
-- Grain: one erasure run. user_hashes: the SHA-256 of each id erased, to answer "was this listener erased?"
-- (the hash of a short id can be guessed by trying ids: it records, it does not hide). rows: JSON, table -> rows removed.
CREATE TABLE IF NOT EXISTS ops.erasures (
    erasure_id     VARCHAR,
    erased_at      TIMESTAMPTZ,
    erased_by      VARCHAR,      -- who ran it (--by, default the OS user)
    users          INTEGER,      -- how many listeners
    user_hashes    VARCHAR[],
    rows_removed   BIGINT,
    rows           VARCHAR,      -- JSON: table -> rows removed
    files_rewritten INTEGER       -- files outside the lake rewritten without them (event log, landing, truth, models)
);
