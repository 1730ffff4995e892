"""Write small landing files in every format the contract accepts."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl


def write(rows: list[dict], path: Path) -> Path:
    """Write rows as Parquet, CSV or JSON lines, by the path's suffix (values as given)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".parquet":
        pl.DataFrame(rows).write_parquet(path)
    elif path.suffix == ".csv":
        cols = list(dict.fromkeys(k for r in rows for k in r))
        lines = [",".join(cols)] + [",".join("" if r.get(c) is None else str(r.get(c)) for c in cols) for r in rows]
        path.write_text("\n".join(lines) + "\n")
    else:
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def event(user="u1", track="t1", ts="2026-01-05T10:00:00Z", **kw) -> dict:
    row = {"user_id": user, "track_id": track, "ts": ts, "ms_played": 200000, "skipped": "false", "feedback": None,
           "reason_start": "clickrow", "reason_end": "trackdone", "session_id": "s1", "session_position": 1,
           "context_type": "playlist", "platform": "ios", "shuffle": "true"}
    row.update(kw)
    return row


def track(track_id="t1", **kw) -> dict:
    row = {"track_id": track_id, "title": "Neon Pulse", "artist": "Circuit", "album": "Volt", "genres": "electronic|pop",
           "release_year": 2020, "duration_ms": 210000, "danceability": 0.7, "energy": 0.8, "valence": 0.5, "tempo": 124.0}
    row.update(kw)
    return row


def user(user_id="u1", **kw) -> dict:
    row = {"user_id": user_id, "country": "SE", "birth_year": 1990, "product": "premium", "signup_date": "2024-02-01"}
    row.update(kw)
    return row
