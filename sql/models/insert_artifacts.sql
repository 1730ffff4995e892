-- The files of a version's folder ($files: a glob of every file under it, $folder: its path with a trailing slash)
-- as models.artifacts rows of $version, each named by its path in the folder (domain-podcast/lightgbm.txt).
insert into models.artifacts (version, name, bytes, content, sha256)
select $version, substr(filename, length($folder) + 1), size, content, sha256(content)
from read_blob($files)
