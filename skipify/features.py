"""Point-in-time features: one definition per family, three uses.

    $ skipify features --as-of 2026-03-01

Two layers, both in DuckDB SQL under ``sql/features/`` (docs/features.md):

* **state** (``state/<name>.sql``): per key (listener, track, listener x track / artist / genre,
  everything) and day with plays, running totals up to that day. A build extends them by its new
  days only: each key's totals carry on from its last row before them.
* **families** (``families/NN_<name>.sql``): the features of a key *as of the start of a day*,
  read from the state with ASOF joins (the totals before the day, and before each window), or,
  for a per-row family (grain ``play_id``), from the row itself and the earlier plays of its
  session. Every family reads its rows from the temp table ``fx_rows_out`` and a state table as the
  temp view ``fx_state_<name>`` (:func:`state_inputs`: for a night or probes only their keys' rows).

The same family SQL gives

* **training rows**: ``fx_rows_out`` = the plays being built; per-key families are stored per
  (key, day), per-row ones per play; the view ``features.training_rows`` joins each play to them;
* **scoring rows** (:func:`scoring_rows`, the embeddings and tests): ``fx_rows_out`` = probes,
  all as of the cut-off's day;
* **the API's snapshot** (:mod:`skipify.serving`): ``fx_rows_out`` = every key at the cut-off.

A night costs its day: it extends the state by the new day and builds the rows of the new plays,
reading the lake's state tables once each, for the keys the day touches. Everything is computed into
temp tables before the transaction, which writes the results (reading rows written in the same
transaction is slower in DuckDB).
Late plays rebuild from their day on. A table whose definition changed (its SQL, the shared macros,
the settings it reads), or a new one, is rebuilt for all of history (``ops.feature_tables``).

What a row may see (docs/warehouse.md, "features"): history as of the **start of the row's day**
(UTC), exactly what a nightly run at that cut-off knows; session features the earlier plays of the
same session; no feature reads the row's own outcome (ms_played, skipped, feedback, reason_end).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from dataclasses import dataclass, field

import duckdb
import polars as pl

from skipify.catalogue import Definition, families, states
from skipify.config import Config, cutoff_of, load_config, logger
from skipify.sequences import ANCHORS, attach, reach, read_log
from skipify.warehouse import connect, create_temp, insert_sql, migrate, read_sql, run_script, run_sql, transaction, used_params, with_retry

LABELS = Definition("labels", "features/labels", ("play_id",))
TRAINING_KEYS = ("play_id", "user_id", "track_id", "ts", "day", "label", "early_skip", "n")
SCORING_KEYS = ("probe_id", "user_id", "track_id", "ts")
PROBE_COLUMNS = {
    "probe_id": "BIGINT",
    "user_id": "VARCHAR",
    "track_id": "VARCHAR",
    "ts": "TIMESTAMPTZ",
    "session_id": "VARCHAR",
    "session_position": "INTEGER",
    "context_type": "VARCHAR",
    "platform": "VARCHAR",
    "shuffle": "BOOLEAN",
    "reason_start": "VARCHAR",
}
EPOCH = dt.date(1970, 1, 1)


@dataclass
class FeatureReport:
    """What one ``skipify features`` run did."""

    as_of: dt.date
    rebuilt_from: dt.datetime | None
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    full: list[str] = field(default_factory=list)  # tables rebuilt for all of history (new or changed)
    texts_encoded: int = 0

    def lines(self) -> list[str]:
        if self.rebuilt_from is None and not self.full:
            return [f"features as of {self.as_of}: up to date, nothing rebuilt"]
        since = f"from {self.rebuilt_from:%Y-%m-%d}" if self.rebuilt_from else "nothing new"
        out = [f"features as of {self.as_of}: rows {since}"]
        if self.full:
            out.append(f"  rebuilt for all of history (new or changed definition): {', '.join(self.full)}")
        out += [f"  features.{t:<18} {self.rows[t]:>11,} new rows  {self.seconds[t]:6.1f}s" for t in self.rows]
        return out


def day_number(d: dt.date) -> int:
    """Days since 1970-01-01: the ``day`` of feature rows and state."""
    return (d - EPOCH).days


def feature_params(cfg: Config, cutoff: dt.datetime | None) -> dict:
    """The ``$`` parameters of the feature SQL: the cut-off and the settings the definitions read."""
    return {"cutoff": cutoff, **cfg.label_params(), "smoothing": cfg.feature_smoothing, "prior": cfg.feature_prior,
            "history_len": cfg.history_len, "lookback_hours": cfg.session_lookback_hours}


def definition_hash(d: Definition, cfg: Config) -> str:
    """What a table's rows depend on besides the data: its SQL, the shared macros, the settings."""
    text = read_sql(d.sql) + read_sql("features/play_macros") + read_sql("features/macros")
    text += read_sql("features/state_carried") + read_sql("features/state_extend")
    settings = json.dumps({k: v for k, v in feature_params(cfg, None).items() if k != "cutoff"}, sort_keys=True)
    return hashlib.sha256((text + settings).encode()).hexdigest()[:16]


def load_macros(con: duckdb.DuckDBPyConnection) -> None:
    """Create the temp macros every feature query uses on this connection: what a play says, the label
    included (sql/features/play_macros.sql), then the plays and tracks of raw.* as feature rows
    (sql/features/macros.sql)."""
    for name in ("features/play_macros", "features/macros"):
        run_script(con, name)


def _fill(state: Definition) -> dict[str, str]:
    """What fills in sql/features/state_carried.sql and state_extend.sql for ``state``: its names and keys."""
    keys = list(state.grain)
    return {
        "table": state.name, "daily": f"fx_daily_{state.name}", "state": f"fx_{state.name}",
        "keys": ", ".join(keys) or "true",
        "key_match": " and ".join(f"k.{k} = s.{k}" for k in keys) or "true",
        "key_join": " and ".join(f"p.{k} = d.{k}" for k in keys) or "true",
        "partition": f"partition by {', '.join(f'd.{k}' for k in keys)}" if keys else "",
    }


def _hold(con: duckdb.DuckDBPyConnection, state: Definition, query: str, params: dict | None = None) -> None:
    """Point the view ``fx_<state>`` at the temp table ``fx_held_<state>``, made by ``query``."""
    con.execute(f"CREATE OR REPLACE TEMP TABLE fx_held_{state.name} AS {query}", params)
    con.execute(f"CREATE OR REPLACE TEMP VIEW fx_{state.name} AS SELECT * FROM fx_held_{state.name}")


def _carried_sql(state: Definition) -> str:
    """The state's rows before $from_day for the keys of fx_rows_out (sql/features/state_carried.sql)."""
    return read_sql("features/state_carried").format(**_fill(state))


def state_inputs(con: duckdb.DuckDBPyConnection, before_day: int | None = None) -> None:
    """Point the views ``fx_state_<name>``, what the families read of each state table: with
    ``before_day``, at its rows before that day for the keys of fx_rows_out (temp tables: a few keys'
    rows, read once); without, at the whole table (every key is wanted)."""
    for s in states():
        if before_day is None:
            con.execute(f"CREATE OR REPLACE TEMP VIEW fx_{s.name} AS SELECT * FROM {s.table}")
        else:
            _hold(con, s, _carried_sql(s), {"from_day": before_day})


def _extend_state(con: duckdb.DuckDBPyConnection, state: Definition, params: dict, from_day: int | None) -> int:
    """Extend ``state`` by the days of fx_rows_out into the temp table ``fx_<state>`` (what the families
    then read) and return the number of new rows. It first holds the state's rows before ``from_day``
    for the keys of fx_rows_out (none for a table built from scratch: ``from_day`` None); the new days'
    running totals carry on from them (sql/features/state_extend.sql). The build publishes the rows
    from ``from_day`` on to features.<state> in its transaction."""
    fill = _fill(state)
    create_temp(con, fill["daily"], state.sql, params)
    types = {r[0]: r[1] for r in con.execute(f"DESCRIBE {fill['daily']}").fetchall()}
    keys = list(state.grain)
    totals = [c for c in types if c not in (*keys, "day")]
    if from_day is None:  # from scratch: nothing carried, the state's columns
        _hold(con, state, f"SELECT {', '.join([*keys, 'day', *totals])}, day AS first_day FROM {fill['daily']} LIMIT 0")
    else:
        _hold(con, state, _carried_sql(state), {"from_day": from_day})
    columns = [f"d.{k}" for k in keys] + ["d.day"]
    columns += [f"cast(coalesce(p.{c}, 0) + sum(d.{c}) over w as {types[c]}) as {c}" for c in totals]
    extend = read_sql("features/state_extend").format(**fill, columns=", ".join(columns))
    n = con.execute(f"INSERT INTO fx_held_{state.name} {extend}").fetchone()[0]
    con.execute(f"DROP TABLE {fill['daily']}")
    return n


def _join_keys(fam: Definition) -> tuple[str, ...]:
    """What a row is joined to its family row on: its key and day, or its play_id."""
    return fam.grain if fam.per_row else (*fam.grain, "day")


def _on(fam: Definition, alias: str) -> str:
    return " and ".join(f"{alias}.{k} = r.{k}" for k in _join_keys(fam))


def rows_sql(base: str, base_columns: tuple[str, ...], tables: dict[str, str]) -> str:
    """The feature rows of ``base`` (features.labels, or the probes in fx_rows_out): joined to each
    family's rows (``tables``: family -> table) on its key and the row's day (sql/features/rows_join.sql).

    Left joins, so that DuckDB keeps the order (from the rows, each join one-to-one); every row has a
    row in every family (the build checks it, ``_check_complete``)."""
    columns, joins = [f"r.{c}" for c in base_columns], []
    for i, fam in enumerate(families()):
        alias = f"f{i}"
        joins.append(f"left join {tables[fam.name]} as {alias} on {_on(fam, alias)}")
        columns.append(f"{alias}.* exclude ({', '.join(dict.fromkeys((*_join_keys(fam), 'day')))})")
    return read_sql("features/rows_join").format(columns=",\n    ".join(columns), base=base, joins="\n".join(joins))


def _check_complete(con: duckdb.DuckDBPyConnection, from_day: int, stale: list[Definition], everything: bool) -> None:
    """Raise if a play built in this run has no row in a family (a family's SQL that drops keys).

    Checked: the rows a night adds, and every row of a family rebuilt on its own (new or changed,
    where a mistake shows first). A build of everything from scratch (the first, or after a change
    of the state or the label) is not checked here: at 10M plays the check would cost a tenth of it.
    """
    checked = [] if everything else list(families())
    parts = [read_sql("features/missing_rows").format(table=f.table, on=_on(f, "f"), since=-(10**9) if f in stale else from_day)
             for f in checked]
    if not parts:
        return
    missing = con.execute(" UNION ALL ".join(f"({p})" for p in parts)).fetchall()
    for fam, (n,) in zip(checked, missing):
        if n:
            raise ValueError(f"{fam.sql}: {n:,} plays built in this run have no row in {fam.table}; "
                             "a family must return a row for every key and day of fx_rows_out")


def _rebuild_from(con: duckdb.DuckDBPyConnection, cutoff: dt.datetime) -> dt.datetime | None:
    """Start of the day of the earliest play whose rows must be (re)built for this cut-off; None if up to date."""
    first = run_sql(con, "features/rebuild_from", {"cutoff": cutoff}).fetchone()[0]
    if first is None:
        return None
    return cutoff_of(first.astimezone(dt.UTC).date())


def build_features(as_of: dt.date, cfg: Config | None = None, with_text: bool = True) -> FeatureReport:
    """Build the feature state and rows for the plays before ``as_of`` (00:00 UTC).

    Incremental: the state and rows are rebuilt from the day of the earliest new play on; a new or
    changed table is rebuilt for all of history. The same date twice gives identical tables. Never
    rewound: a date before the last build's builds up to that build's date (plays ingested late
    included), and rows as of the earlier date are read from the state by day.

    Args:
        as_of: cut-off date; plays before its midnight (UTC) get feature rows.
        cfg: configuration (default: load_config()).
        with_text: also embed new or changed track texts (skipify.text).

    Returns:
        Rows written and seconds per table.
    """
    cfg = cfg or load_config()
    con = connect(cfg)
    try:
        migrate(cfg, con)
        last = run_sql(con, "features/last_build_as_of").fetchone()[0]
        if last is not None and as_of < last:
            # never rewound: the state is kept by day, so rows as of an earlier day are read from it as they are
            # (a night for an old date once removed every row after its cut-off, and failed with the tables empty)
            logger.info("features: built up to %s; rows as of %s are read from the state by day (nothing removed)", last, as_of)
            as_of = last
        report = with_retry(lambda: _build(con, cfg, as_of, cutoff_of(as_of)))
    finally:
        con.close()
    if with_text:
        from skipify.text import embed_tracks

        report.texts_encoded = embed_tracks(cfg)
    return report


def _build(con: duckdb.DuckDBPyConnection, cfg: Config, as_of: dt.date, cutoff: dt.datetime) -> FeatureReport:
    t0 = time.perf_counter()
    # rows are keyed, their order in a table means nothing; keeping it makes DuckDB hold whole results
    con.execute("SET preserve_insertion_order = false")
    load_macros(con)
    params = feature_params(cfg, cutoff)
    built = dict(run_sql(con, "features/feature_tables").fetchall())
    existing = {r[0] for r in run_sql(con, "features/existing_tables").fetchall()}
    tables = (LABELS, *states(), *families())
    wanted = {d.name: definition_hash(d, cfg) for d in tables}
    stale = [d for d in tables if built.get(d.name) != wanted[d.name]]
    # the state and the labels are what every family reads: if one of them changed, everything is rebuilt
    if any(d is LABELS or d in states() for d in stale):
        stale = list(tables)
    start = None if len(stale) == len(tables) else _rebuild_from(con, cutoff)
    report = FeatureReport(as_of=as_of, rebuilt_from=start, full=[d.name for d in stale])
    fresh_from = start or cutoff  # what a table already up to date rebuilds from
    base_from = dt.datetime.min.replace(tzinfo=dt.UTC) if stale else fresh_from
    # Temp tables are made before the transaction: made inside one, DuckDB scans them far slower.
    n = create_temp(con, "fx_plays", "features/fx_plays", {**params, "from": base_from})
    if len(stale) == len(tables):  # everything from the first play
        first = run_sql(con, "features/first_play").fetchone()[0]
        report.rebuilt_from = start = cutoff_of(first.astimezone(dt.UTC).date()) if first else None
    _rows_for(con, fresh_from, earlier=False)
    create_temp(con, "fx_earlier_rows", "features/fx_earlier", {**params, "from": fresh_from})
    _rows_for(con, fresh_from)
    logger.info("features: %s plays read (new ones from %s; %d tables rebuilt for all of history) (%.1fs)", f"{n:,}",
                f"{start:%Y-%m-%d}" if start else "none", len(stale), time.perf_counter() - t0)
    from_day = day_number(fresh_from.date())
    extend = start is not None or bool(stale)
    for s in states() if extend else ():  # computed before the transaction: it only publishes them
        t1 = time.perf_counter()
        _rows_for(con, None if s in stale else fresh_from)
        report.rows[s.name] = _extend_state(con, s, params, None if s in stale else from_day)
        report.seconds[s.name] = time.perf_counter() - t1
    with transaction(con):
        for t in existing - {d.name for d in tables} - {"training_rows"}:
            logger.info("features: dropping features.%s (no family defines it any more)", t)
            _publish(con, "drop_training_rows")
            _publish(con, "drop_table", table=f"features.{t}")
        for d in tables:
            if d in stale:
                _publish(con, "drop_training_rows")
                _publish(con, "drop_table", table=d.table)
            elif d.name in existing:
                _publish(con, "delete_days", {"from_day": from_day}, table=d.table)
        if extend:
            for s in states():
                t1 = time.perf_counter()
                _publish(con, "create_state", table=s.table, name=s.name)
                _publish(con, "insert_state", {"from_day": -10**9 if s in stale else from_day}, table=s.table, name=s.name)
                report.seconds[s.name] += time.perf_counter() - t1
            # the tables up to date get the new plays' rows, the stale ones every play's
            for group, since in (([d for d in (LABELS, *families()) if d not in stale] if start else [], fresh_from),
                                 ([d for d in (LABELS, *families()) if d in stale], None)):
                if not group:
                    continue
                _rows_for(con, since)
                if since is None and not any(s in stale for s in states()):
                    state_inputs(con)  # fx_state_* held the new days' keys: a family rebuilt on its own reads every key
                create_temp(con, "fx_prior", "features/fx_prior", params)
                for d in group:
                    t1 = time.perf_counter()
                    report.rows[d.name] = insert_sql(con, d.table, d.sql, params)
                    report.seconds[d.name] = time.perf_counter() - t1
                    logger.info("features.%s: %s rows (%.1fs)", d.name, f"{report.rows[d.name]:,}", report.seconds[d.name])
        _check_complete(con, from_day, stale, everything=len(stale) == len(tables))
        _publish(con, "training_rows", rows=rows_sql("features.labels", TRAINING_KEYS, {f.name: f.table for f in families()}))
        run_sql(con, "features/record_tables", {"names": list(wanted), "definitions": list(wanted.values())})
        run_sql(con, "features/record_build", {"as_of": as_of, "rebuilt_from": start, "rows": report.rows.get("labels", 0)})
    return report


def _publish(con: duckdb.DuckDBPyConnection, statement: str, params: dict | None = None, **names: str) -> None:
    """One of the build's writes, ``sql/features/publish/<statement>.sql``: the names of the tables a definition
    makes filled in (identifiers from the catalogue, never values), its values bound."""
    text = read_sql(f"features/publish/{statement}").format(**names)
    con.execute(text, used_params(text, params))


def _rows_for(con: duckdb.DuckDBPyConnection, since: dt.datetime | None, earlier: bool = True) -> None:
    """Point the views every family reads at the rows a table is built for: ``fx_rows_out``, the plays
    of fx_plays from ``since`` on (all of them: None), and ``fx_earlier``, the plays before ``since`` in
    their sessions (the temp table fx_earlier_rows, once made; none when every play is in fx_rows_out)."""
    where = f"WHERE ts >= '{since.isoformat()}'::TIMESTAMPTZ" if since is not None else ""
    con.execute(f"CREATE OR REPLACE TEMP VIEW fx_rows_out AS SELECT * FROM fx_plays {where}")
    if earlier:
        keep = "" if since is not None else "WHERE false"
        con.execute(f"CREATE OR REPLACE TEMP VIEW fx_earlier AS SELECT * FROM fx_earlier_rows {keep}")


def check_built(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> None:
    """Raise unless the feature state holds every day before ``as_of``; warn about plays ingested
    since the last build for those days (the rows see the state as built).

    Raises:
        ValueError: the last build's cut-off is before ``as_of``.
    """
    last = run_sql(con, "features/last_build_as_of").fetchone()[0]
    if last is None or last < as_of:
        raise ValueError(f"features are built up to {last or 'no day'}; rows as of {as_of} need "
                         f"`skipify features --as-of {as_of}` (or a nightly run) first")
    late = run_sql(con, "features/rebuild_from", {"cutoff": cutoff_of(as_of)}).fetchone()[0]
    if late is not None:
        logger.warning("plays from %s were ingested after the last feature build: rows as of %s do not see them "
                       "until `skipify features` runs", late, as_of)


def scoring_rows(con: duckdb.DuckDBPyConnection, probes: pl.DataFrame, cutoff: dt.datetime, cfg: Config | None = None) -> pl.DataFrame:
    """Feature rows for (user, track) probes at ``cutoff``, from the same family SQL as the training rows.

    Args:
        con: an open warehouse connection (read-only is enough).
        probes: columns probe_id, user_id, track_id and optionally the context (session_id,
            session_position, context_type, platform, shuffle, reason_start); ``ts`` defaults to the cut-off.
        cutoff: history is that of the start of its day; a probe's session sees the plays before it.

    Returns:
        One row per probe: probe_id, user_id, track_id, ts and every feature column of features.training_rows.
    """
    cfg = cfg or load_config()
    check_built(con, cutoff.astimezone(dt.UTC).date())  # the state must hold every day before the cut-off's
    if "ts" not in probes.columns:
        probes = probes.with_columns(pl.lit(cutoff).alias("ts"))
    load_macros(con)
    cols = ", ".join(f"{c} {t}" for c, t in PROBE_COLUMNS.items())
    con.execute(f"CREATE OR REPLACE TEMP TABLE probes ({cols})")
    if probes.height:
        frame = probes.select([pl.col(c) if c in probes.columns else pl.lit(None).alias(c) for c in PROBE_COLUMNS]).to_arrow()
        con.register("probes_in", frame)
        casts = ", ".join(f"CAST({c} AS {t})" for c, t in PROBE_COLUMNS.items())
        con.execute(f"INSERT INTO probes SELECT {casts} FROM probes_in")
        con.unregister("probes_in")
    params = {**feature_params(cfg, cutoff), "from": cutoff}
    create_temp(con, "fx_rows_out", "features/fx_probes", params)
    state_inputs(con, day_number(cutoff.astimezone(dt.UTC).date()))
    create_temp(con, "fx_earlier", "features/fx_earlier", params)
    create_temp(con, "fx_prior", "features/fx_prior", params)
    for fam in families():
        create_temp(con, f"new_{fam.name}", fam.sql, params)
    query = rows_sql("fx_rows_out", SCORING_KEYS, {f.name: f"new_{f.name}" for f in families()})
    rows = con.execute(f"{query}\nORDER BY r.probe_id").pl()
    if any(a in rows.columns for a in ANCHORS):  # the sequences, from the plays their anchors reach
        log = read_log(con, reach(rows), None, cfg.history_len)
        rows = attach(rows, log, cfg.history_len, day=day_number(cutoff.astimezone(dt.UTC).date()))
    return rows


def default_as_of(cfg: Config | None = None) -> dt.date:
    """The day after the last play: every play gets a feature row."""
    con = connect(cfg or load_config(), read_only=True)
    try:
        last = run_sql(con, "features/last_play").fetchone()[0]
    finally:
        con.close()
    if last is None:
        raise ValueError("no plays in raw.events yet: run `skipify ingest` first")
    return last.astimezone(dt.UTC).date() + dt.timedelta(days=1)
