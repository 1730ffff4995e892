"""Issue 29, item 4, measured before it is built: the eight history aggregates of skipify.models.recent that are
counts and shares, defined in SQL (sql/bench/history_counts_listening.sql, history_counts_session.sql), against
the NumPy values LightGBM reads today, on the feature rows of a built world's last days.

    $ SKIPIFY_HOME=/path/to/home .venv/bin/python bench/history_counts.py --days 2

Prints, per column, the share of rows where both agree (NaN with NaN), a few rows where they do not, and the
seconds each SQL took. These queries read features.labels whole; the family that replaces recent.py's counts
must keep the running counts as feature state instead (docs: the closing note of issue 29).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time

import numpy as np
import polars as pl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--days", type=int, default=2, help="the last days of rows compared")
    args = ap.parse_args()

    from skipify.config import load_config
    from skipify.data import load_rows
    from skipify.features import default_as_of
    from skipify.models.base import Resources
    from skipify.models.recent import Recent
    from skipify.warehouse import connect, run_sql

    cfg = load_config()
    since = default_as_of(cfg) - dt.timedelta(days=args.days)
    day = (since - dt.date(1970, 1, 1)).days
    params = {"since": day, "len": cfg.history_len}
    con = connect(cfg, read_only=True)
    try:
        seconds, parts = {}, []
        for name in ("listening", "session"):
            t0 = time.perf_counter()
            parts.append(run_sql(con, f"bench/history_counts_{name}", params).pl())
            seconds[name] = round(time.perf_counter() - t0, 2)
        keys = run_sql(con, "bench/labels_since", params).pl()
    finally:
        con.close()
    sql = keys.join(parts[0], on="play_id", how="left").join(parts[1], on="play_id", how="left")
    sql = sql.with_columns(pl.col("hsx_genre_plays").fill_null(0))  # a play without a session: none earlier
    columns = [c for p in parts for c in p.columns if c != "play_id"]
    rows = load_rows(cfg, sequences=True, since=since)
    numpy = Recent.fit(Resources(cfg), 16, cfg.history_len).add(rows).select("user_id", "track_id", "ts", *columns)
    both = sql.join(numpy, on=["user_id", "track_id", "ts"], suffix="_numpy")
    out = {"home": str(cfg.home), "since": str(since), "rows": both.height, "sql_seconds": seconds, "agree": {}, "differ": {}}
    for c in columns:
        a, b = both[c].cast(pl.Float64).to_numpy(), both[f"{c}_numpy"].cast(pl.Float64).to_numpy()
        same = np.isclose(a, b, equal_nan=True)
        out["agree"][c] = float(same.mean())
        out["differ"][c] = both.filter(~pl.Series(same)).select(c, f"{c}_numpy").head(3).rows()
    print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
