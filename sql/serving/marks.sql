-- What the API serves: the version the nightly run scores with (the champion, else the newest), the latest
-- published night and when the at-risk threshold was last chosen (skipify.guard). The server's reload watcher
-- runs this every serve_reload_s seconds.
select
    coalesce(
        (select version from models.registry where status = 'champion' order by created_at desc limit 1),
        (select version from models.registry order by created_at desc limit 1)
    ) as version,
    (select max(run_date) from ops.runs where status = 'published') as night,
    (select max(chosen_at) from ops.guard_thresholds) as guard
