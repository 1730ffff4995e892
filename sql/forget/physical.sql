-- After a listener's rows are deleted: no file the lake keeps may still hold them. Inlined rows are flushed to
-- files, every file with deleted rows rewritten without them, every earlier snapshot expired (time travel to before
-- the erasure ends here) and the files only those snapshots used deleted now.
CALL ducklake_flush_inlined_data('lake');
CALL ducklake_rewrite_data_files('lake', delete_threshold => 0.0);
CALL ducklake_expire_snapshots('lake', older_than => now());
CALL ducklake_cleanup_old_files('lake', cleanup_all => true);
