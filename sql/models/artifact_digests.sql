-- What a version's files must be: name, size and SHA-256 as registered (models.artifacts; files registered before
-- the hash was recorded: their content's). A local copy that differs is fetched again from here before it is loaded.
select name, bytes, coalesce(sha256, sha256(content)) as sha256 from models.artifacts where version = $version order by name
