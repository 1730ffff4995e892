-- The files of a version's folder ($folder, a glob of its files) as models.artifacts rows of $version.
insert into models.artifacts (version, name, bytes, content, sha256)
select $version, parse_filename(filename), size, content, sha256(content)
from read_blob($files)
