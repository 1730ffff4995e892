-- models.artifacts.sha256: each file's SHA-256, recorded when the version is registered. Before a version is loaded
-- its local files are compared with it (and with bytes): a damaged file is fetched again from here, and a copy here
-- that no longer matches it stops the load, naming the file. NULL for files registered before: their content's hash.
ALTER TABLE models.artifacts ADD COLUMN sha256 VARCHAR;
