"""``skipify status``: what the warehouse holds. Reads through a read-only connection."""

from __future__ import annotations

import json
from typing import Any

from skipify.config import Config, load_config
from skipify.warehouse import connect, run_sql, schema_version


def warehouse_status(cfg: Config | None = None) -> dict[str, Any]:
    """Row counts and data files per table (keyed ``schema.table``), batches, quarantine counts by reason.

    Raises:
        WarehouseError: no warehouse yet.
    """
    cfg = cfg or load_config()
    con = connect(cfg, read_only=True)
    try:
        tables = run_sql(con, "ops/status_tables").fetchall()
        counts = {
            f"{schema}.{name}": con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
            for schema, name, kind in tables
            if kind == "BASE TABLE"
        }
        cur = run_sql(con, "ops/status_batches")
        cols = [d[0] for d in cur.description]
        batches = {row[0]: dict(zip(cols[1:], row[1:])) for row in cur.fetchall()}
        quarantine = [
            {"table_name": t, "kind": k, "reason": r, "rows": n} for t, k, r, n in run_sql(con, "ops/status_quarantine").fetchall()
        ]
        unknown_track, unknown_user = run_sql(con, "ops/status_orphans").fetchone()
        snapshot = run_sql(con, "ops/status_snapshot").fetchone()[0]
        cur = run_sql(con, "ops/latest_runs", {"limit": 5})
        cols = [d[0] for d in cur.description]
        runs = [{k: (str(v) if k in ("run_date", "started_at", "finished_at") else v) for k, v in zip(cols, r)} for r in cur.fetchall()]
        files = {name: {"files": n, "bytes": size, "delete_files": deletes}
                 for name, n, size, deletes in run_sql(con, "ops/status_files").fetchall()}
        return {
            "warehouse": str(cfg.lake_dir) if cfg.local_catalog and cfg.local_data
            else f"catalog {cfg.catalog_name}, data {cfg.data_url}",
            "schema_version": schema_version(con),
            "snapshot": snapshot,
            "tables": counts,
            "files": files,
            "batches": batches,
            "quarantine": quarantine,
            "quarantine_total": counts.get("quarantine.rows", 0),
            "events_unknown_track": unknown_track,
            "events_unknown_user": unknown_user,
            "nights": runs,
        }
    finally:
        con.close()


def format_status(s: dict[str, Any]) -> str:
    """Human-readable status."""
    lines = [f"warehouse {s['warehouse']}  (schema version {s['schema_version']}, snapshot {s['snapshot']})", "", "tables:"]
    lines[-1] += f"{'rows':>40}{'files':>8}{'MiB':>10}"
    for name, n in s["tables"].items():
        f = s["files"].get(name)
        lines.append(f"  {name:<32} {n:>12,}" + (f" {f['files']:>7,} {f['bytes'] / 2**20:>9.1f}" if f else ""))
    lines += ["", "batches:"]
    if not s["batches"]:
        lines.append("  none yet: run `skipify ingest PATH`")
    for table, b in s["batches"].items():
        lines.append(
            f"  {table:<28} {b['batches']:>5} batches  read {b['rows_read']:,}  loaded {b['rows_loaded']:,}  "
            f"duplicate {b['rows_duplicate']:,}  quarantined {b['rows_quarantined']:,}  excluded {b['rows_excluded']:,}"
        )
    lines += ["", f"quarantine ({s['quarantine_total']:,} records):"]
    if not s["quarantine"]:
        lines.append("  empty")
    for q in s["quarantine"]:
        lines.append(f"  {q['rows']:>8,}  {q['table_name']:<18} {q['kind']:<9} {q['reason']}")
    if s["events_unknown_track"] or s["events_unknown_user"]:
        lines += [
            "",
            f"events of unknown tracks: {s['events_unknown_track']:,}   of unknown users: {s['events_unknown_user']:,}"
            "  (loaded; they resolve when the tracks/users files arrive)",
        ]
    lines += ["", "nightly runs (latest first):"]
    if not s.get("nights"):
        lines.append("  none yet: run `skipify nightly --date D`")
    for r in s.get("nights", []):
        rows = json.loads(r["rows"] or "{}")
        lines.append(f"  {r['run_date']}  {r['status']:<9} model {r['model_version']}  scores {rows.get('dislike_scores', 0):,}  "
                     f"at risk {rows.get('at_risk', 0):,}" + (f"  reason: {r['reason']}" if r["reason"] else ""))
    return "\n".join(lines)
