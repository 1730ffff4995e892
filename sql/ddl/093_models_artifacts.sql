-- models.artifacts: the files of each registered version (its models, preprocessing and evaluation),
-- written in the transaction that registers it. A process whose home lacks a version's folder (another
-- machine: a shard worker, the API) fetches it from here (skipify.train.version_folder), so that every
-- machine scores with the same bytes.
CREATE TABLE IF NOT EXISTS models.artifacts (
    version VARCHAR NOT NULL,
    name VARCHAR NOT NULL,
    bytes BIGINT NOT NULL,
    content BLOB NOT NULL
);
