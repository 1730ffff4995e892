"""The guard (skipify.guard, docs/guard.md): the backtest of the published nights against the plays that followed,
the goal's threshold, and the threshold chosen in force for the nights after it."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import polars as pl
import pytest

from skipify import guard
from skipify.config import load_config
from tests.scored import NIGHT, SCORED_SETTINGS, read

BEFORE = NIGHT - dt.timedelta(days=1)


def played_pairs(cfg, night: dt.date) -> pl.DataFrame:
    """The night's scored pairs then played that day, one row per play, with the label worked out here in Python
    from the raw columns (not the SQL macro the backtest uses)."""
    rows = read(cfg, "SELECT s.p_dislike, s.domain, e.platform, e.feedback, e.ms_played, e.skipped FROM scores.dislike_scores AS s "
                     "JOIN raw.events AS e ON e.user_id = s.user_id AND e.track_id = s.track_id "
                     "AND e.ts >= $d::timestamptz AND e.ts < $d::timestamptz + INTERVAL 1 DAY WHERE s.run_date = $d", {"d": night})
    abandon = dict(zip(*cfg.label_params().values()))  # domain -> its early-skip threshold in ms
    label = [int(f == "dislike" or (ms < abandon[d] if ms is not None else bool(sk)))
             for f, ms, sk, d in zip(rows["feedback"], rows["ms_played"], rows["skipped"], rows["domain"])]
    return rows.with_columns(pl.Series("label", label))


def test_the_night_that_ingests_a_day_backtests_the_night_before(scored_home):
    """The shared warehouse published NIGHT - 1 and NIGHT: the run of NIGHT (which ingested NIGHT - 1's plays) wrote
    NIGHT - 1's backtest, and the figures are the plays' own, counted here independently; NIGHT, whose day's plays
    are not in, has none."""
    cfg = load_config(home=scored_home, **SCORED_SETTINGS)
    backtest = read(cfg, "SELECT * FROM scores.guard_backtest")
    assert set(backtest["run_date"]) == {BEFORE}
    plays = played_pairs(cfg, BEFORE)
    assert plays.height > 50 and 0 < plays["label"].sum() < plays.height
    for segment, value, mask in [("all", "all", np.ones(plays.height, bool)),
                                 *[("domain", d, (plays["domain"] == d).to_numpy()) for d in plays["domain"].unique()],
                                 *[("platform", p, (plays["platform"] == p).to_numpy()) for p in plays["platform"].unique()]]:
        p, y = plays["p_dislike"].to_numpy()[mask], plays["label"].to_numpy()[mask]
        rows = backtest.filter((pl.col("segment") == segment) & (pl.col("segment_value") == value)).sort("threshold")
        assert rows["threshold"].to_list() == list(guard.GRID)
        for r in rows.iter_rows(named=True):
            flag = p >= r["threshold"]
            assert (r["plays"], r["dislikes"]) == (len(p), int(y.sum())), (segment, value)
            assert (r["caught"], r["withheld_good"]) == (int((flag & (y == 1)).sum()), int((flag & (y == 0)).sum())), (segment, value, r["threshold"])
            assert r["withheld_per_1000"] == pytest.approx(1000 * r["withheld_good"] / len(p))
    # each of the new/known splits covers every play once; a higher threshold never catches more
    for segment in ("listener", "track"):
        split = backtest.filter((pl.col("segment") == segment) & (pl.col("threshold") == 0.5))
        assert set(split["segment_value"]) <= {"new", "known"} and split["plays"].sum() == plays.height
    caught = backtest.filter(pl.col("segment") == "all").sort("threshold")["caught"].to_numpy()
    assert (np.diff(caught) <= 0).all() and caught[0] > caught[-1]


def test_the_backtest_is_idempotent_and_backfill_writes_older_nights(copy_scored_home):
    cfg = load_config(home=copy_scored_home("guard_idem"), **SCORED_SETTINGS)
    columns = "run_date, segment, segment_value, threshold, plays, dislikes, caught, withheld_good, model_version"
    first = read(cfg, f"SELECT {columns} FROM scores.guard_backtest ORDER BY ALL")
    done = guard.backtest(BEFORE - dt.timedelta(days=3), NIGHT, cfg)  # NIGHT - 1 again, and NIGHT: no play of its day yet
    assert done[BEFORE] == first.filter(pl.col("segment") == "all")["plays"][0] and done.get(NIGHT, 0) == 0
    assert read(cfg, f"SELECT {columns} FROM scores.guard_backtest ORDER BY ALL").equals(first)
    # a night published before the guard existed: its backtest deleted, then written by `skipify backfill --backtest`
    from typer.testing import CliRunner

    from skipify.cli import app
    from skipify.warehouse import connect

    con = connect(cfg)
    con.execute("DELETE FROM scores.guard_backtest")
    con.close()
    result = CliRunner().invoke(app, ["backfill", "--start", str(BEFORE), "--end", str(BEFORE), "--backtest"],
                                env={"SKIPIFY_HOME": str(cfg.home)})
    assert result.exit_code == 0, result.output
    assert f"night {BEFORE}: backtested on {done[BEFORE]:,} plays" in result.output
    assert read(cfg, f"SELECT {columns} FROM scores.guard_backtest ORDER BY ALL").equals(first)


def test_the_goal_picks_the_threshold_that_meets_it():
    curve = pl.DataFrame({"threshold": [0.2, 0.4, 0.6, 0.8], "share_caught": [0.9, 0.7, 0.5, 0.2],
                          "withheld_per_1000": [300.0, 120.0, 40.0, 5.0]})
    assert guard.meet(curve, catch=0.7)["threshold"] == 0.4  # the highest that catches 70%: fewer good plays withheld
    assert guard.meet(curve, catch=0.6)["threshold"] == 0.4
    assert guard.meet(curve, max_withheld=50)["threshold"] == 0.6  # the lowest under the ceiling: more dislikes caught
    assert guard.meet(curve, catch=0.95) is None and guard.meet(curve, max_withheld=1) is None
    with pytest.raises(ValueError, match="one goal"):
        guard.meet(curve, catch=0.5, max_withheld=10)


def test_a_chosen_threshold_sets_the_next_nights_flags_and_cli_says_the_trade_off(copy_scored_home):
    """The validation threshold until one is chosen; `skipify guard --catch --save --by` puts the goal's threshold in
    force: the next night's flags, its user_risk counts and ops.runs follow it, the nights before keep theirs."""
    from typer.testing import CliRunner

    from skipify.cli import app
    from skipify.nightly import run_night
    from skipify.versions import find_version

    cfg = load_config(home=copy_scored_home("guard_choose"), **SCORED_SETTINGS)
    version = find_version(None, cfg)
    assert guard.in_force(cfg, version) == guard.InForce(guard.validation_threshold(version), "validation")
    before = read(cfg, "SELECT user_id, track_id, at_risk FROM scores.dislike_scores WHERE run_date = $d ORDER BY ALL", {"d": NIGHT})
    env = {"SKIPIFY_HOME": str(cfg.home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    result = CliRunner().invoke(app, ["guard", "--catch", "0.4", "--json"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    curve = pl.DataFrame(out["curve"])
    goal = out["goal"]["threshold"]
    assert out["in_force"]["source"] == "validation" and out["nights"] == [str(BEFORE)]
    assert curve.filter(pl.col("threshold") == goal)["share_caught"][0] >= 0.4
    assert curve.filter(pl.col("threshold") == round(goal + 0.01, 2))["share_caught"][0] < 0.4  # the highest that does
    tonight = next(r for r in out["tonight"]["segments"] if r["segment"] == "all")
    n_risky = read(cfg, "SELECT count(*) AS n FROM scores.dislike_scores WHERE run_date = $d AND p_dislike >= $t",
                   {"d": NIGHT, "t": goal})["n"][0]
    assert tonight["pairs_at_risk"] == n_risky and out["tonight"]["run_date"] == str(NIGHT)

    result = CliRunner().invoke(app, ["guard", "--catch", "0.4", "--save", "--by", "Ada (product)"], env=env)
    assert result.exit_code == 0, result.output
    assert f"saved: {goal:.2f} in force from now on, chosen by Ada (product)" in result.output
    chosen = guard.in_force(cfg, version)
    assert (chosen.threshold, chosen.source, chosen.chosen_by, chosen.goal) == (goal, "chosen", "Ada (product)", "catch 40% of dislikes")

    after = NIGHT + dt.timedelta(days=1)
    report = run_night(after, cfg)
    assert report.risk_threshold == goal
    flags = read(cfg, "SELECT p_dislike, at_risk FROM scores.dislike_scores WHERE run_date = $d", {"d": after})
    assert flags["at_risk"].to_list() == (flags["p_dislike"] >= goal).to_list() and 0 < flags["at_risk"].sum() < flags.height
    risk = read(cfg, "SELECT sum(n_at_risk) AS n FROM scores.user_risk WHERE run_date = $d", {"d": after})["n"][0]
    assert risk == flags["at_risk"].sum()
    assert read(cfg, "SELECT risk_threshold FROM ops.runs WHERE run_date = $d AND status = 'published'", {"d": after}).item() == goal
    assert read(cfg, "SELECT user_id, track_id, at_risk FROM scores.dislike_scores WHERE run_date = $d ORDER BY ALL",
                {"d": NIGHT}).equals(before)  # from then on: a night published before keeps its flags
    assert set(read(cfg, "SELECT DISTINCT run_date FROM scores.guard_backtest")["run_date"]) == {BEFORE, NIGHT}
    with pytest.raises(ValueError, match="between 0 and 1"):
        guard.choose(1.5, "Ada", cfg)


def test_guard_on_a_warehouse_without_a_model_says_what_is_missing(cfg):
    """No version and no threshold chosen: one line and exit 2; a threshold chosen is in force without a model."""
    from typer.testing import CliRunner

    from skipify.cli import app

    result = CliRunner().invoke(app, ["guard"])
    assert result.exit_code == 2 and "no threshold chosen and no model version" in result.output
    guard.choose(0.42, "Ada", cfg)
    result = CliRunner().invoke(app, ["guard", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["in_force"]["threshold"] == 0.42 and out["in_force"]["chosen_by"] == "Ada" and out["curve"] == []


def test_the_threshold_in_force_is_the_chosen_then_the_configs_then_validations(cfg):
    """docs/guard.md's order: without a choice, the config's risk_threshold over the version's validation threshold;
    a product manager's choice over both; the newest choice over an older one."""
    import dataclasses

    version = {"served_model": "lightgbm", "metrics": json.dumps({"models": {"lightgbm": {"threshold": 0.31}}})}
    assert guard.in_force(cfg, version) == guard.InForce(0.31, "validation")
    configured = dataclasses.replace(cfg, risk_threshold=0.45)
    assert guard.in_force(configured, version) == guard.InForce(0.45, "config")
    guard.choose(0.6, "Ada", cfg, goal="catch 20% of dislikes")
    guard.choose(0.55, "Grace", cfg)
    chosen = guard.in_force(configured, version)
    assert (chosen.threshold, chosen.source, chosen.chosen_by) == (0.55, "chosen", "Grace")
    assert guard.choices(cfg)["chosen_by"].to_list() == ["Grace", "Ada"]
