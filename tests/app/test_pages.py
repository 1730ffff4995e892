"""Every page of the Streamlit app on a small warehouse (Streamlit's AppTest): no exception, and the
numbers it shows are the warehouse's."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from skipify import app_data
from skipify.catalogue import catalogue, label
from skipify.config import load_config
from skipify.warehouse import connect, migrate

APP = Path(__file__).resolve().parents[2] / "app" / "skipify_app.py"


def open_page(page: str, monkeypatch, home: Path) -> AppTest:
    monkeypatch.setenv("SKIPIFY_HOME", str(home))
    st.cache_data.clear()  # caches outlive one AppTest
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.query_params["page"] = page
    return at.run()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


@pytest.mark.parametrize("page", ["tonight", "listener", "why", "scorecard", "guard"])
def test_every_page_runs_without_an_exception(page, app_home, monkeypatch):
    at = open_page(page, monkeypatch, app_home)
    assert not at.exception, [e.value for e in at.exception]
    assert at.header and at.header[0].value.split(":")[0] in {"Tonight's risks", "Listener view", "Why", "Scorecard", "Guard"}


def test_tonight_shows_the_warehouse_numbers(app_home, monkeypatch, night):
    at = open_page("tonight", monkeypatch, app_home)
    con = connect(load_config(home=app_home), read_only=True)
    at_risk, listeners = con.execute("SELECT sum(at_risk::int), count(DISTINCT user_id) FILTER (WHERE at_risk) "
                                     "FROM scores.dislike_scores WHERE run_date = $d", {"d": night}).fetchone()
    assert metric(at, "At-risk pairs") == f"{at_risk:,}" and metric(at, "Listeners at risk") == f"{listeners:,}"
    assert str(night) in at.header[0].value
    top = con.execute("SELECT track_id FROM scores.track_dislike_profile WHERE run_date = $d AND category <> 'niche' "
                      "ORDER BY share_at_risk DESC, mean_p_dislike DESC, track_id LIMIT 1", {"d": night}).fetchone()[0]
    riskiest = at.dataframe[0].value
    assert riskiest["Track id"][0] == top and list(riskiest.columns)[:3] == ["Title", "Artist", "Genre"]  # labels, the id last
    assert list(riskiest.columns)[-1] == "Track id"


def test_listener_shows_the_chosen_listeners_candidates(app_home, monkeypatch, night):
    at = open_page("listener", monkeypatch, app_home)
    user = at.sidebar.selectbox(key="listener").value
    con = connect(load_config(home=app_home), read_only=True)
    n, risky = con.execute("SELECT count(*), sum(at_risk::int) FROM scores.dislike_scores WHERE run_date = $d AND user_id = $u",
                           {"d": night, "u": user}).fetchone()
    assert metric(at, "Candidates tonight") == f"{n:,}" and metric(at, "At risk") == f"{risky:,}"
    assert len(at.dataframe[0].value) == n  # the candidates table
    assert len(at.dataframe[2].value) == 15  # nearest 10 + furthest 5 in the two-tower space


def test_why_and_scorecard_show_shap_and_metrics_of_the_version(app_home, monkeypatch, night):
    at = open_page("why", monkeypatch, app_home)
    con = connect(load_config(home=app_home), read_only=True)
    kinds = con.execute("SELECT kinds FROM models.registry").fetchone()[0]
    top = con.execute("SELECT block FROM models.shap_global WHERE model = 'lightgbm' ORDER BY rank LIMIT 1").fetchone()[0]
    con.close()
    charts = [c.proto.spec for c in at.get("plotly_chart")]
    assert not at.exception and len(charts) == 2 * len(kinds)  # per kind: its global bar chart and a pair's waterfall
    assert top in catalogue()  # the bars are named by the catalogue's labels, not the column names
    bars = next(spec for spec in charts if "LightGBM (TreeSHAP)" in spec)
    assert label(top) in bars and f'"{top}"' not in bars
    at = open_page("scorecard", monkeypatch, app_home)
    con = connect(load_config(home=app_home), read_only=True)
    import json

    metrics, served = con.execute("SELECT metrics, served_model FROM models.registry").fetchone()
    summary = json.loads(metrics)["summary"]
    assert metric(at, "Deep model ROC AUC") == f"{summary['deep_roc_auc']:.4f}"
    assert metric(at, "Served model") == app_data.title(app_data.versions(load_config(home=app_home))[0]["labels"][served]["label"])
    assert metric(at, "Oracle ROC AUC") == f"{summary['oracle_roc_auc']:.4f}"
    assert len(at.get("plotly_chart")) == 3  # ROC, PR, calibration
    per_night = at.dataframe[2].value  # scored pairs later played: only the earlier night's day has its plays in
    assert len(per_night) == 1 and str(per_night["Night"][0])[:10] == str(night - dt.timedelta(days=1))
    assert (per_night["Pairs then played"] > 0).all() and per_night["Served model"][0] == metric(at, "Served model")
    played = con.execute("SELECT count(*) FROM scores.dislike_scores AS s JOIN raw.events AS e USING (user_id, track_id) "
                         "WHERE s.run_date = $d AND e.ts::date = s.run_date", {"d": per_night["Night"][0]}).fetchone()[0]
    assert per_night["Pairs then played"][0] == played


def test_empty_states_say_what_to_run(tmp_path, monkeypatch):
    at = open_page("tonight", monkeypatch, tmp_path / "none")
    assert not at.exception and "No warehouse yet" in at.info[0].value
    migrate(load_config(home=tmp_path / "empty"))
    at = open_page("tonight", monkeypatch, tmp_path / "empty")
    assert "No night published yet" in at.info[0].value
    at = open_page("scorecard", monkeypatch, tmp_path / "empty")
    assert "No model trained yet" in at.info[0].value
    at = open_page("guard", monkeypatch, tmp_path / "empty")
    assert "No model trained yet" in at.info[0].value


def test_the_guard_page_before_any_backtest_says_how_one_comes(copy_scored_home, monkeypatch, night):
    """A model and published nights, no backtest yet: the slider and tonight's figures, and what writes a backtest."""
    home = copy_scored_home("guard_empty")
    con = connect(load_config(home=home))
    con.execute("DELETE FROM scores.guard_backtest")
    con.close()
    at = open_page("guard", monkeypatch, home)
    assert not at.exception, [e.value for e in at.exception]
    assert any("No night backtested yet" in i.value for i in at.info)
    con = connect(load_config(home=home), read_only=True)
    flagged = con.execute("SELECT sum(at_risk::int) FROM scores.dislike_scores WHERE run_date = $d", {"d": night}).fetchone()[0]
    con.close()
    assert metric(at, "Pairs at risk tonight") == f"{flagged:,}"  # at the threshold in force: the night's own flags


def test_a_night_of_two_media_can_be_shown_one_medium_at_a_time(app_home, monkeypatch, night):
    """The shared warehouse's nights scored music and podcasts: a medium picker shows, and choosing podcast shows
    the podcasts' numbers only, on the Tonight page and the Listener page."""
    con = connect(load_config(home=app_home), read_only=True)
    pairs, at_risk = con.execute("SELECT count(*), sum(at_risk::int) FROM scores.dislike_scores WHERE run_date = $d "
                                 "AND domain = 'podcast'", {"d": night}).fetchone()
    hosts = {r[0] for r in con.execute("SELECT DISTINCT artist FROM raw.tracks WHERE domain = 'podcast'").fetchall()}
    assert 0 < pairs < con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d", {"d": night}).fetchone()[0]
    at = open_page("tonight", monkeypatch, app_home)
    assert at.sidebar.selectbox(key="domain").options == ["all", "music", "podcast"]
    at = at.sidebar.selectbox(key="domain").select("podcast").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "(podcast)" in at.header[0].value
    assert metric(at, "Pairs scored") == f"{pairs:,}" and metric(at, "At-risk pairs") == f"{at_risk:,}"
    assert set(at.dataframe[1].value["Artist"].to_list()) <= hosts  # the riskiest artists: podcast hosts
    at = open_page("listener", monkeypatch, app_home)
    at = at.sidebar.selectbox(key="domain").select("podcast").run()
    user = at.sidebar.selectbox(key="listener").value
    n = con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d AND user_id = $u AND domain = 'podcast'",
                    {"d": night, "u": user}).fetchone()[0]
    assert metric(at, "Candidates tonight") == f"{n:,}" and set(at.dataframe[0].value["Medium"]) == {"podcast"}


def test_the_guard_page_shows_the_backtest_at_the_threshold_and_the_goal(app_home, monkeypatch, night):
    """The shared warehouse's NIGHT - 1 is backtested: the slider starts at the threshold in force (the validation
    one: none chosen) and the page shows that threshold's figures; a goal picks the backtest's threshold for it."""
    from skipify import guard
    from skipify.versions import find_version

    cfg = load_config(home=app_home)
    current = guard.in_force(cfg, find_version(None, cfg))
    curve = guard.tradeoff(cfg).filter(pl.col("segment") == "all")
    at = open_page("guard", monkeypatch, app_home)
    assert not at.exception, [e.value for e in at.exception]
    t = round(current.threshold, 2)  # the slider's step; the page shows the threshold in force itself
    assert at.slider(key="guard_threshold").value == t and metric(at, "Threshold") == f"{current.threshold:.3f}"
    row = curve.filter(pl.col("threshold") == t).row(0, named=True)
    assert metric(at, "Dislikes caught") == f"{row['share_caught']:.1%}"
    assert metric(at, "Good plays withheld per 1,000") == f"{row['withheld_per_1000']:.1f}"
    segments = at.dataframe[0].value
    assert {"Medium", "Platform", "Listeners", "Tracks"} <= set(segments["Segment"])
    tonight = con_read(cfg, night, current.threshold)
    assert metric(at, "Pairs at risk tonight") == f"{tonight:,}"  # exactly the night's flags: the threshold in force
    at = at.radio(key="guard_goal").set_value("A share of dislikes to catch").run()
    at = at.slider(key="guard_catch").set_value(0.6).run()
    goal = guard.meet(curve, catch=0.6)
    assert not at.exception and metric(at, "Threshold") == f"{goal['threshold']:.2f}"
    assert metric(at, "Pairs at risk tonight") == f"{con_read(cfg, night, goal['threshold']):,}"


def con_read(cfg, night, threshold: float) -> int:
    """The night's pairs with p_dislike at or above ``threshold``."""
    con = connect(cfg, read_only=True)
    try:
        return con.execute("SELECT count(*) FROM scores.dislike_scores WHERE run_date = $d AND p_dislike >= $t",
                           {"d": night, "t": threshold}).fetchone()[0]
    finally:
        con.close()
