-- A version's files (models.artifacts), to write into a home that lacks its folder.
select name, bytes, content from models.artifacts where version = $version order by name
