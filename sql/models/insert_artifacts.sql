-- The files of a version's folder ($folder, a glob of its files) as models.artifacts rows of $version.
insert into models.artifacts
select $version, parse_filename(filename), size, content
from read_blob($files)
