"""Benchmark: the event log with many files, what a night's re-read and a prediction's look at it cost.

    $ .venv/bin/python bench/eventlog.py                  # 1,000 files
    $ .venv/bin/python bench/eventlog.py --files 3000

In a scratch SKIPIFY_HOME, N event-log files of one play each (one file per hour, as N requests of plays
at N distinct hours make: one request makes one file at most), then:

* ingest      - `skipify ingest` of the folder, the first time (every file is new)
* re-ingest   - the same folder again: every file already loaded (the night's re-read; one query for all)
* look        - a LogTail look with nothing appended since the last (what each prediction pays), and one
                right after an append (every file since the cut-off is stat-ed)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="skipify-eventlog-"))
    os.environ["SKIPIFY_HOME"] = str(home)
    from skipify.config import load_config
    from skipify.events import EventLog, LogTail
    from skipify.ingest import ingest_paths

    cfg = load_config()
    log = EventLog(cfg.events_folder)
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for h in range(args.files):
        ts = start + dt.timedelta(hours=h)
        log.append([{"user_id": "u1", "track_id": f"t{h}", "ts": ts.isoformat()}], [ts])
    logging.getLogger("skipify").setLevel("WARNING")
    t0 = time.perf_counter()
    ingest_paths([cfg.events_folder], cfg=cfg)
    t1 = time.perf_counter()
    ingest_paths([cfg.events_folder], cfg=cfg)
    t2 = time.perf_counter()
    first, again = t1 - t0, t2 - t1
    print(f"{args.files:,} files: ingest {first:.1f} s, re-ingest (all loaded) {again:.2f} s")

    tail = LogTail(cfg.events_folder)
    tail.new_lines(start)  # reads them all once
    time.sleep(LogTail.RECENT_S)  # a mark older than this is trusted
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        tail.new_lines(start)
    idle = (time.perf_counter() - t0) / n
    ts = start + dt.timedelta(hours=args.files - 1)
    log.append([{"user_id": "u2", "track_id": "t0", "ts": ts.isoformat()}], [ts])
    t0 = time.perf_counter()
    events, _ = tail.new_lines(start)
    busy = time.perf_counter() - t0
    assert len(events) == 1
    print(f"a look at the log: {idle * 1e3:.3f} ms with nothing appended, {busy * 1e3:.1f} ms right after an append")
    print(json.dumps({"files": args.files, "ingest_s": round(first, 2), "reingest_s": round(again, 2), "look_idle_ms": round(idle * 1e3, 4),
                      "look_after_append_ms": round(busy * 1e3, 2)}))


if __name__ == "__main__":
    main()
