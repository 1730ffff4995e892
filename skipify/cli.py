"""The ``skipify`` command: thin wrappers over one plain function each.

    $ skipify config                      # effective configuration
    $ skipify migrate                     # create / upgrade the warehouse
    $ skipify generate --out DIR          # a planted-truth world
    $ skipify ingest DIR_OR_FILES...      # validate and load landing files
    $ skipify status [--json]             # row counts, batches, quarantine
    $ skipify sql "SELECT ..."            # query the warehouse read-only
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from pathlib import Path
from typing import Annotated, Optional

import typer

from skipify.config import ConfigError, load_config, logger
from skipify.models.kinds import KINDS

KIND_NAMES = ", ".join(KINDS)  # the model kinds, for the help texts

app = typer.Typer(help="Skipify: predict the tracks each listener is about to dislike or skip.", no_args_is_help=True)


def _done(t0: float, what: str) -> None:
    typer.echo(f"{what} in {time.perf_counter() - t0:.1f}s", err=True)


@app.command()
def config(
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    get: Annotated[Optional[str], typer.Option(help="Print one field's value only (e.g. home, world_dir).")] = None,
) -> None:
    """Print the effective configuration (defaults, then SKIPIFY_* environment variables)."""
    values = load_config().as_dict()
    if get is not None:
        if get not in values:
            raise typer.BadParameter(f"unknown field {get!r}; fields: {', '.join(values)}", param_hint="--get")
        typer.echo(values[get])
    elif as_json:
        typer.echo(json.dumps(values, indent=2))
    else:
        width = max(map(len, values))
        for k, v in values.items():
            typer.echo(f"{k:<{width}}  {v}")


@app.command()
def migrate() -> None:
    """Create the warehouse or apply the DDL migrations it lacks (idempotent)."""
    from skipify.warehouse import migrate as run_migrate

    applied = run_migrate(load_config())
    typer.echo(f"applied {len(applied)} migration(s)" + (f": {applied}" if applied else "; schema is up to date"))


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write landing/ and truth/ into.")],
    users: Annotated[Optional[int], typer.Option(help="Number of users [config world_users].")] = None,
    tracks: Annotated[Optional[int], typer.Option(help="Number of tracks [config world_tracks].")] = None,
    days: Annotated[Optional[int], typer.Option(help="Days of listening [config world_days].")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Random seed [config seed].")] = None,
    events_per_user_day: Annotated[Optional[float], typer.Option(help="Mean plays per user per day.")] = None,
    variant: Annotated[str, typer.Option(help="demo | moods: a differently built world (other effects, strengths and "
                                              "session shapes; docs/world.md).")] = "demo",
    domains: Annotated[str, typer.Option(help="music, then other media: music,podcast (any of podcast, audiobook, "
                                              "video; docs/world.md, 'Other media').")] = "music",
    coupling: Annotated[float, typer.Option(help="rho, 0..1: how much a listener's taste and pickiness in another "
                                                 "domain follow their music's (0: independent).")] = 0.6,
    other_plays: Annotated[float, typer.Option(help="Mean plays of each listener in each other domain over the "
                                                    "whole period.")] = 20.0,
) -> None:
    """Generate a planted-truth world and print its oracle ROC AUC."""
    from skipify.generate import VARIANTS, WorldParams, generate as run_generate

    cfg = load_config()
    if variant not in VARIANTS:
        typer.echo(f"error: unknown world variant {variant!r}; choose from {', '.join(VARIANTS)}", err=True)
        raise typer.Exit(2)
    try:
        params = WorldParams(
            users=users if users is not None else cfg.world_users,
            tracks=tracks if tracks is not None else cfg.world_tracks,
            days=days if days is not None else cfg.world_days,
            seed=seed if seed is not None else cfg.seed,
            start=cfg.world_start,
            events_per_user_day=events_per_user_day if events_per_user_day is not None else cfg.world_events_per_user_day,
            variant=variant,
            domains=tuple(d.strip() for d in domains.split(",") if d.strip()),
            coupling=coupling,
            other_plays_per_user=other_plays,
        )
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    s = run_generate(out, params)
    typer.echo(
        f"world: {s['n_users']:,} users, {s['n_tracks']:,} tracks, {s['n_events']:,} events, "
        f"dislike rate {s['dislike_rate']:.3f}, in {s['seconds']}s\n"
        f"oracle ROC AUC: {s['oracle_roc_auc']:.4f} (all), {s['oracle_roc_auc_last_7_days']:.4f} (last 7 days)\n"
        f"landing files: {Path(out) / 'landing'}   truth: {Path(out) / 'truth'}"
    )
    for domain, d in s.get("by_domain", {}).items():
        typer.echo(f"  {domain}: {d['n_items']:,} items, {d['n_events']:,} events, oracle ROC AUC {d['oracle_roc_auc']:.4f}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files or folders of landing files.")],
    format: Annotated[
        Optional[str], typer.Option("--format", help="contract | spotify-history | mssd (detected when not given).")
    ] = None,
    user: Annotated[Optional[str], typer.Option(help="User id for Spotify history files (default: the export's username).")] = None,
) -> None:
    """Validate and load landing files. Bad rows go to quarantine; a bad file stops the run before any write."""
    from skipify.ingest import IngestError, ingest_paths

    t0 = time.perf_counter()
    try:
        reports = ingest_paths(paths, fmt=format, user=user, cfg=load_config())
    except IngestError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for r in reports:
        typer.echo(r.line())
    _done(t0, f"ingested {sum(r.rows_loaded for r in reports):,} new rows from {len({r.source_file for r in reports})} file(s)")


@app.command()
def features(
    as_of: Annotated[
        Optional[datetime.datetime], typer.Option("--as-of", formats=["%Y-%m-%d"], help="Cut-off date [default: the day after the last play].")
    ] = None,
    text: Annotated[bool, typer.Option(help="Also embed new or changed track texts.")] = True,
    list_: Annotated[bool, typer.Option("--list", help="Print the feature catalogue (column, label, what it says) instead.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="With --list: as JSON.")] = False,
) -> None:
    """Build point-in-time feature tables for the plays before --as-of (incremental, idempotent)."""
    if list_:
        from skipify.catalogue import catalogue

        features = list(catalogue().values())
        if as_json:
            typer.echo(json.dumps([f.as_dict() for f in features], indent=2))
        else:
            for f in features:
                typer.echo(f"{f.name:<26} {f.label:<48} {f.description}")
        return
    from skipify.features import build_features, default_as_of

    t0 = time.perf_counter()
    cfg = load_config()
    day = as_of.date() if as_of else default_as_of(cfg)
    report = build_features(day, cfg, with_text=text)
    for line in report.lines():
        typer.echo(line)
    if text:
        typer.echo(f"track texts encoded: {report.texts_encoded:,}")
    _done(t0, "features built")


@app.command()
def train(
    as_of: Annotated[
        Optional[datetime.datetime], typer.Option("--as-of", formats=["%Y-%m-%d"], help="Feature cut-off [default: the day after the last play].")
    ] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda, for the kinds that train on a device.")] = "auto",
    epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs per stage of a kind trained in epochs "
                                                  "[config train_epochs].")] = None,
    warm_start: Annotated[bool, typer.Option("--warm-start", help="Train on from a version's models, on the plays since "
                                             "its training window (faster than a full retrain).")] = False,
    start: Annotated[Optional[str], typer.Option("--from", help="With --warm-start: the version to start from "
                                                 "[the served one: the champion, else the newest].")] = None,
) -> None:
    """Train every model kind, evaluate on the test split, register the version, run the gate (which chooses
    the kind the version serves and whether it replaces the champion). Kinds: skipify.models.kinds.KINDS."""
    from skipify.train import train as run_train

    if start and not warm_start:
        raise typer.BadParameter("--from needs --warm-start")
    try:
        r = run_train(as_of.date() if as_of else None, device=device, cfg=load_config(), epochs=epochs,
                      warm_start=(start or "served") if warm_start else None)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo("stage seconds: " + ", ".join(f"{k} {v}" for k, v in r["stages"].items()))
    typer.echo(_summary_text(r["evaluation"]))
    typer.echo(f"version {r['version']} serves {r['served_model']}: {'PROMOTED to champion' if r['promoted'] else 'not promoted'} "
               f"({'; '.join(r['reasons'])})")


@app.command()
def tune(
    model: Annotated[Optional[list[str]], typer.Option(help=f"Model kinds to tune, of {KIND_NAMES}: repeat the option; "
                                                      "default: every kind with a search space.")] = None,
    trials: Annotated[Optional[int], typer.Option(help="Trials per model [config tune_trials].")] = None,
    timeout: Annotated[Optional[int], typer.Option(help="Seconds per model [config tune_timeout_s].")] = None,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda, for the kinds that train on a device.")] = "auto",
) -> None:
    """Search hyperparameters on the validation split; `skipify train` then uses the chosen values."""
    from skipify.tune import tune as run_tune

    t0 = time.perf_counter()
    try:
        r = run_tune(tuple(model) if model else None, trials=trials, timeout_s=timeout, device=device, cfg=load_config())
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)
    for name, b in r["best"].items():
        typer.echo(f"{name}: best valid ROC AUC {b['valid_roc_auc']:.4f} (trial {b['trial']} of {b['trials']})")
    typer.echo(f"tuning run {r['run_id']} recorded in models.tuning; `skipify train` uses its chosen values")
    _done(t0, "tuning done")


@contextlib.contextmanager
def _night_errors(night_failed: type[Exception]):
    """A night that failed its checks exits 1, a bad argument 2, each with the reason on stderr."""
    try:
        yield
    except night_failed as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2)


@app.command()
def nightly(
    date: Annotated[datetime.datetime, typer.Option("--date", formats=["%Y-%m-%d"], help="The night to run (scores for that day).")],
) -> None:
    """One night end to end: ingest, features, candidates, scoring, checks, atomic publish."""
    from skipify.nightly import NightFailed, run_night

    t0 = time.perf_counter()
    with _night_errors(NightFailed):
        report = run_night(date.date(), load_config())
    for line in report.lines():
        typer.echo(line)
    _done(t0, "night done")


ANALYST_QUERIES = ("riskiest_tracks", "user_at_risk", "model_disagreement")


@app.command("night-report")
def night_report() -> None:
    """The latest published night: three example queries an analyst can paste, with their answers."""
    from skipify.warehouse import connect, read_sql

    con = connect(load_config(), read_only=True)
    try:
        for name in ANALYST_QUERIES:
            text = read_sql(f"analyst/{name}")
            cur = con.execute(text)
            rows, cols = cur.fetchmany(5), [d[0] for d in cur.description]
            typer.echo(f"\n{text.strip()}\n")
            typer.echo("  " + " | ".join(cols))
            for r in rows:
                typer.echo("  " + " | ".join(str(v) for v in r))
            if not rows:
                typer.echo("  (no rows: no night published yet — run `skipify nightly --date D`)")
    finally:
        con.close()
    typer.echo("\nPaste any of them into `skipify sql` (or the DuckDB CLI: `cd warehouse && ../.venv/bin/duckdb -init "
               "attach.sql`); more in docs/warehouse.md.")


@app.command("app")
def run_app(
    port: Annotated[Optional[int], typer.Option(help="Port [config app_port].")] = None,
) -> None:
    """Start the Streamlit app for product managers (reads the warehouse of SKIPIFY_HOME, read-only)."""
    import os
    import sys

    from skipify.config import REPO_ROOT

    cfg = load_config()
    port = port or cfg.app_port
    script = REPO_ROOT / "app" / "skipify_app.py"
    typer.echo(f"Skipify app on http://localhost:{port}  (warehouse {cfg.home}; Ctrl-C stops it)", err=True)
    cmd = [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port), "--server.headless", "true",
           "--browser.gatherUsageStats", "false"]
    # exec, not a child process: a signal to `skipify app` (Ctrl-C, a test's terminate) reaches Streamlit itself
    sys.stderr.flush()
    os.execve(sys.executable, cmd, {**os.environ, "SKIPIFY_HOME": str(cfg.home)})


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="Interface [config serve_host].")] = None,
    port: Annotated[Optional[int], typer.Option(help="Port [config serve_port].")] = None,
    as_of: Annotated[Optional[datetime.datetime], typer.Option("--as-of", formats=["%Y-%m-%d"],
                     help="Features as of this day [default: the latest published night].")] = None,
    reload_s: Annotated[Optional[float], typer.Option("--reload-s", help="Seconds between checks for a new champion or night; 0 never [config serve_reload_s].")] = None,
    workers: Annotated[Optional[int], typer.Option(help="Processes behind the one port, each with its own copy of the model "
                                                        "and features [config serve_workers].")] = None,
) -> None:
    """The prediction API (FastAPI on uvicorn; docs at /docs): POST /v1/predict, GET /v1/users/{id}/at-risk,
    GET /v1/model, GET /healthz. Loads the served version and its features once; never holds the warehouse."""
    from skipify.api import serve as run_server
    from skipify.warehouse import WarehouseError

    try:
        run_server(load_config(), host, port, as_of.date() if as_of else None, reload_s, workers)
    except (WarehouseError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@app.command()
def events(
    path: Annotated[Path, typer.Argument(help="A file of plays in the contract's events format (csv, jsonl, parquet).")],
    url: Annotated[Optional[str], typer.Option(help="The server [http://<serve_host>:<serve_port>].")] = None,
    batch: Annotated[int, typer.Option(help="Events per request (at most the server's serve_max_events).")] = 500,
) -> None:
    """Replay a file of plays into a running `skipify serve` (POST /v1/events), in batches, in file order."""
    import httpx

    from skipify.events import Refused, read_plays, send

    cfg = load_config()
    url = url or f"http://{cfg.serve_host}:{cfg.serve_port}"
    try:
        plays = read_plays(path)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    t0 = time.perf_counter()
    try:
        n = send(url, plays, batch, progress=lambda k: logger.info("%s / %s events accepted (%.1fs)", f"{k:,}", f"{len(plays):,}", time.perf_counter() - t0))
    except Refused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    except httpx.TransportError as exc:
        typer.echo(f"error: cannot reach {url}: {exc}", err=True)
        raise typer.Exit(2) from exc
    seconds = time.perf_counter() - t0
    typer.echo(f"{n:,} events accepted by {url} in {seconds:.1f}s ({n / seconds if seconds else 0:,.0f} events/s)")


@app.command()
def maintain() -> None:
    """Delete data files no snapshot references (left by a killed writer), merge small files, expire old snapshots."""
    from skipify.warehouse import maintain as run_maintain

    t0 = time.perf_counter()
    out = run_maintain(load_config())
    typer.echo(", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in out.items()))
    _done(t0, "maintenance done")


@app.command()
def forget(
    user: Annotated[Optional[list[str]], typer.Option("--user", help="A listener's id (repeat it for more).")] = None,
    file: Annotated[Optional[Path], typer.Option("--file", help="A file of ids, one per line.")] = None,
    by: Annotated[Optional[str], typer.Option(help="Who asks (recorded; default: the OS user).")] = None,
    list_: Annotated[bool, typer.Option("--list", help="Print the erasures done instead.")] = False,
) -> None:
    """Forget listeners: their rows in every table, the event log and landing files, the lake's old files; recorded
    without their ids in clear (ops.erasures). What remains and for how long: docs/warehouse.md."""
    from skipify.forget import erasures, forget as run_forget, read_ids

    cfg = load_config()
    if list_:
        for e in erasures(cfg):
            typer.echo(f"{e['erased_at']:%Y-%m-%d %H:%M} {e['erasure_id']} by {e['erased_by']}: {e['users']} listener(s), "
                       f"{e['rows_removed']:,} rows, {e['files_rewritten']} files")
        return
    try:
        ids = read_ids(user or [], file)
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    t0 = time.perf_counter()
    for line in run_forget(ids, cfg, by).lines():
        typer.echo(line)
    _done(t0, "forgotten")


@app.command("default-date")
def default_date() -> None:
    """The day after the last play: the night `make demo` scores and the default training cut-off."""
    from skipify.features import default_as_of

    typer.echo(str(default_as_of(load_config())))


@app.command()
def backfill(
    start: Annotated[datetime.datetime, typer.Option("--start", formats=["%Y-%m-%d"], help="First night.")],
    end: Annotated[datetime.datetime, typer.Option("--end", formats=["%Y-%m-%d"], help="Last night (inclusive).")],
    backtest: Annotated[bool, typer.Option("--backtest", help="Only backtest the published nights start..end (the "
                                           "guard's trade-off on the plays that followed: skipify guard); run nothing again.")] = False,
) -> None:
    """Run the nights start..end in order (each as `skipify nightly`); stops at the first failure."""
    t0 = time.perf_counter()
    if backtest:
        from skipify.guard import backtest as run_backtest

        done = run_backtest(start.date(), end.date(), load_config())
        for night, plays in done.items():
            typer.echo(f"night {night}: backtested on {plays:,} plays" + ("" if plays else " (none of its pairs was played that day)"))
        _done(t0, f"{len(done)} published nights backtested")
        return
    from skipify.nightly import NightFailed, backfill as run_backfill

    with _night_errors(NightFailed):
        reports = run_backfill(start.date(), end.date(), load_config())
    for r in reports:
        typer.echo(r.lines()[0])
    _done(t0, f"{len(reports)} nights done")


@app.command()
def guard(
    nights: Annotated[Optional[int], typer.Option(min=1, help="Read the latest N backtested nights [default: guard_nights].")] = None,
    catch: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Goal: catch at least this share of dislikes (e.g. 0.5).")] = None,
    max_withheld: Annotated[Optional[float], typer.Option("--max-withheld", min=0.0,
                                                          help="Goal: withhold at most this many good plays per 1,000 plays.")] = None,
    threshold: Annotated[Optional[float], typer.Option(min=0.0, max=1.0, help="Look at this threshold (no goal).")] = None,
    save: Annotated[bool, typer.Option("--save", help="Put the threshold looked at in force from now on (needs --by).")] = False,
    by: Annotated[Optional[str], typer.Option("--by", help="Who chooses it (saved with it).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The guard's trade-off: of the scored pairs then played, the dislikes a threshold would have caught and the
    good plays it would have withheld (per 1,000 plays), over the latest backtested nights; the threshold that meets
    a goal; what it would flag on the latest night. With --save --by NAME, that threshold is in force from now on."""
    from skipify import guard as g
    from skipify.versions import find_version
    from skipify.warehouse import WarehouseError

    if catch is not None and max_withheld is not None:
        raise typer.BadParameter("state one goal: --catch or --max-withheld", param_hint="--catch")
    if save and not by:
        raise typer.BadParameter("say who chooses the threshold", param_hint="--by")
    cfg = load_config()
    try:
        version = find_version(None, cfg)
    except (ValueError, WarehouseError):
        version = None
    try:
        out = g.report(version, cfg, nights, catch, max_withheld, threshold)
    except (ValueError, WarehouseError) as exc:  # no warehouse, or no model and no threshold chosen
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if save:
        if out["threshold"] is None:
            raise typer.BadParameter(f"no threshold meets the goal ({out['goal']['text']}): nothing saved", param_hint="--catch")
        goal = out["goal"]["text"] if "goal" in out else None
        chosen = g.choose(out["threshold"], by, cfg, goal=goal, nights=out["nights_read"] or None)
        out["saved"] = {"threshold": chosen.threshold, "chosen_by": chosen.chosen_by, "chosen_at": chosen.chosen_at, "goal": goal}
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=str))
        return
    typer.echo("\n".join(g.report_lines(out)))


def _summary_text(evaluation: dict) -> str:
    s = evaluation["summary"]
    lines = [f"test rows {s['n_test_rows']:,} ({s['test_from']} .. {s['test_to']}), oracle ROC AUC {s['oracle_roc_auc'] if s['oracle_roc_auc'] is None else round(s['oracle_roc_auc'], 4)}"]
    lines += [f"  ({note})" for note in s.get("split_notes") or []]
    if s.get("oracle_error"):
        lines.append(f"  (no oracle comparison: {s['oracle_error']})")
    lines.append(f"  {'model':<20} {'valid':>7} {'roc_auc':>8} {'pr_auc':>7} {'logloss':>8} {'ece':>6} {'recall':>7} {'fpr':>6} {'lift':>6}")
    for name, m in evaluation["models"].items():
        c = m["test"]
        lift = c.get("lift_share")
        lines.append(
            f"  {name:<20} {m.get('valid_roc_auc', float('nan')):>7.4f} {c['roc_auc']:>8.4f} {c['pr_auc']:>7.4f} {c['log_loss']:>8.4f} {c['ece']:>6.3f} "
            f"{c['recall']:>7.3f} {c['false_positive_rate']:>6.3f} {'' if lift is None else f'{lift:.3f}':>6}"
        )
    return "\n".join(lines)


@app.command()
def evaluate(
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole evaluation as JSON.")] = False,
    model: Annotated[Optional[str], typer.Option(help="Model version [default: the champion].")] = None,
) -> None:
    """Evaluate a registered model version (loaded from its artefacts) and the baselines on the test split."""
    from skipify.train import evaluate_version

    try:
        out = evaluate_version(model, load_config())
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps(out, indent=2, default=float))
    else:
        typer.echo(f"model version {out['version']} ({out['status']}), serves {out['served_model']}")
        typer.echo(_summary_text(out))


@app.command()
def status(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Row counts and data files per table, batches, and quarantine counts by reason."""
    from skipify.status import format_status, warehouse_status
    from skipify.warehouse import WarehouseError

    try:
        s = warehouse_status(load_config())
    except WarehouseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(s, indent=2, default=str) if as_json else format_status(s))


@app.command()
def sql(
    query: Annotated[Optional[str], typer.Argument(help="SQL to run read-only against the warehouse (none: read "
                                                       "statements from standard input, each ending with ';').")] = None,
    attach: Annotated[bool, typer.Option(help="Print the SQL that opens the warehouse in the duckdb CLI instead.")] = False,
    timeout: Annotated[Optional[float], typer.Option(help="Seconds a statement may run before it is stopped "
                                                          "[config sql_timeout_s].")] = None,
) -> None:
    """Query the warehouse read-only (never blocks the nightly writer): the analysts' session.

    Only queries run: statements that would write, attach, detach or change settings, file access
    (COPY ... TO, read_text(), read_csv() of files outside the lake's data folder, the catalog's file) and
    functions that open files by themselves are refused with one line saying what and why (exit 2); a query
    DuckDB rejects prints its message, and a query running past the timeout is stopped (exit 1). Without a
    query, statements are read from standard input (a terminal or a pipe) and each is checked the same way.
    """
    import sys

    from skipify.warehouse import QueryRefused, WarehouseError, attach_sql, connect

    cfg = load_config()
    if attach:
        typer.echo(attach_sql(cfg, read_only=True))
        return
    limit = cfg.sql_timeout_s if timeout is None else timeout
    if limit <= 0:
        raise typer.BadParameter("must be above 0", param_hint="--timeout")
    try:
        con = connect(cfg, read_only=True)
    except WarehouseError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    try:
        if query:
            raise typer.Exit(_analyst_statement(con, query, cfg, limit))
        worst, text = 0, ""
        interactive = sys.stdin.isatty()
        while True:
            if interactive:
                typer.echo("skipify> " if not text else "    ...> ", nl=False)
            line = sys.stdin.readline()
            if line:
                text += line
            if text.strip() and (not line or text.rstrip().endswith(";")):
                worst = max(worst, _analyst_statement(con, text, cfg, limit))
                text = ""
            if not line:
                break
        raise typer.Exit(worst)
    except QueryRefused:  # pragma: no cover - _analyst_statement says it
        raise
    finally:
        con.close()


def _analyst_statement(con, query: str, cfg, limit: float) -> int:
    """Check and run one analyst's statement, print its rows; returns the exit status (0, 1 an error, 2 refused)."""
    import threading

    import duckdb

    from skipify.warehouse import QueryRefused, check_query, unreachable

    timer = threading.Timer(limit, con.interrupt)  # DuckDB has no statement timeout of its own
    try:
        check_query(con, query, cfg.data_url)
        timer.start()
        result = con.sql(query)
        if result is None:
            typer.echo("(the statement returned no rows)")
        else:
            result.show(max_rows=50)
        return 0
    except QueryRefused as exc:
        typer.echo(f"refused: {exc}", err=True)
        return 2
    except duckdb.InterruptException:
        typer.echo(f"error: the query ran past its timeout of {limit:g} s and was stopped (--timeout, sql_timeout_s)", err=True)
        return 1
    except duckdb.Error as exc:
        if unreachable(cfg, exc):
            raise  # the bucket went away mid-query: main() names it
        typer.echo(f"error: {str(exc).strip().splitlines()[0]}", err=True)
        return 1
    finally:
        timer.cancel()


def main() -> None:
    """The ``skipify`` command. A setting out of its type or range ends it with one line naming the variable
    and what it accepts (exit status 2). A warehouse whose PostgreSQL catalog or S3 bucket does not answer ends
    any command with one line naming the part, and exit status 3 (nothing was half-written: every
    write is one transaction)."""
    import duckdb

    from skipify.warehouse import Unreachable, unreachable

    try:
        app()
    except ConfigError as exc:  # a setting out of its type or range: one line, not a traceback
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except (Unreachable, duckdb.Error) as exc:
        err = exc if isinstance(exc, Unreachable) else unreachable(load_config(), exc)
        if err is None:
            raise
        typer.echo(f"error: {err}", err=True)
        raise SystemExit(3) from None


if __name__ == "__main__":
    main()
