-- raw.tracks holds items of every domain, not music tracks only (docs/domains.md): domain (music | podcast |
-- audiobook | video, the set open to more: Config.domains), and the item's own metadata beside the track's:
-- show_name (a podcast's show, an audiobook's book, a video's series), publisher, chapter (an audiobook chapter's number).
-- For an item, title is the episode's, chapter's or video's own title and artist its creator (host, author,
-- channel) where known. Every item stored before this migration is music.
ALTER TABLE raw.tracks ADD COLUMN domain VARCHAR;
ALTER TABLE raw.tracks ADD COLUMN show_name VARCHAR;
ALTER TABLE raw.tracks ADD COLUMN publisher VARCHAR;
ALTER TABLE raw.tracks ADD COLUMN chapter INTEGER;
UPDATE raw.tracks SET domain = 'music' WHERE domain IS NULL;
