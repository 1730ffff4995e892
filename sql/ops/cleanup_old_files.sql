-- Data files only expired snapshots used (a night's replaced scores, rewritten tables). Returns the paths deleted.
select path from ducklake_cleanup_old_files('lake', cleanup_all => true)
