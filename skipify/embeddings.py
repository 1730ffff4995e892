"""Two-tower vectors of every known listener and track, written to the warehouse per model version.

    users, tracks = tower_vectors(model, as_of, cfg)      # Polars: id, vector
    with transaction(con):
        write_vectors(con, version, as_of, users, tracks)

The vectors come from the features as of the version's cut-off (the same SQL as training), so a
listener's vector says what the model knew about them that night. They serve candidate generation
(tracks nearest to a listener) and the app's "nearest tracks".
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from skipify.config import Config, cutoff_of, load_config, logger
from skipify.features import scoring_rows
from skipify.models.base import Model
from skipify.warehouse import connect, run_sql


def lists(x) -> pl.Series:
    """A float matrix as a list column (DuckLake stores lists, not fixed-size arrays)."""
    return pl.Series(x).cast(pl.List(pl.Float32))


def tower_vectors(model: Model, as_of: dt.date, cfg: Config | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(users, tracks) of ``model``, the night's retriever (skipify.models.base.retriever): one row per known id
    with its ``vector`` (list of floats)."""
    cfg = cfg or load_config()
    cutoff = cutoff_of(as_of)
    con = connect(cfg, read_only=True)
    try:
        probes = run_sql(con, "models/embedding_probes", {"cutoff": cutoff}).pl()
        rows = scoring_rows(con, probes, cutoff, cfg)
    finally:
        con.close()
    u, t = model.vectors(rows)
    users = pl.DataFrame({"user_id": rows["user_id"], "vector": lists(u)}).unique("user_id", keep="first", maintain_order=True)
    tracks = pl.DataFrame({"track_id": rows["track_id"], "vector": lists(t)}).unique("track_id", keep="first", maintain_order=True)
    logger.info("tower vectors: %d users, %d tracks as of %s", users.height, tracks.height, as_of)
    return users, tracks


def write_vectors(con: duckdb.DuckDBPyConnection, version: str, as_of: dt.date, users: pl.DataFrame, tracks: pl.DataFrame) -> None:
    """Replace the version's vectors (call inside the caller's transaction)."""
    params = {"version": version, "as_of": as_of}
    for kind, frame in (("user", users), ("track", tracks)):
        con.register(f"new_{kind}_vectors", frame.to_arrow())
        try:
            run_sql(con, f"models/delete_{kind}_vectors", params)
            run_sql(con, f"models/insert_{kind}_vectors", params)
        finally:
            con.unregister(f"new_{kind}_vectors")
