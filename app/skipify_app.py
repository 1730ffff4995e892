"""Skipify for product managers: tonight's risks, a listener's view, why (SHAP), the model scorecard.

    $ skipify app            # or: make app   (port and warehouse from the config)

Every number comes from the warehouse through ``skipify.app_data`` (read-only, one query per read,
cached for ``app_cache_ttl_s`` seconds), so the app never blocks the nightly run and a new night
shows up without a restart. Pages: the sidebar, or ``?page=tonight|listener|why|scorecard``.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from skipify import app_data
from skipify.app_data import feature_label as label
from skipify.config import cutoff_of, load_config

CFG = load_config()
PAGES = {"tonight": "Tonight", "listener": "Listener", "why": "Why", "scorecard": "Scorecard"}

st.set_page_config(page_title="Skipify", layout="wide")


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def q(name: str, **params) -> pl.DataFrame:
    return app_data.query(name, CFG, **params)


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def versions() -> list[dict]:
    return app_data.versions(CFG)


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def night_outcomes() -> pl.DataFrame:
    return app_data.night_outcomes(CFG)


def version_row(version: str) -> dict:
    """A version's registry row (app_data.versions): the kinds it holds, their labels, the one it serves."""
    return next(v for v in versions() if v["version"] == version)


def empty(message: str) -> None:
    st.info(message)
    st.stop()


def pick_night() -> tuple[dt.date, str]:
    """The night picker (published nights, newest first); stops the page when there is none."""
    try:
        nights = q("nights")
    except app_data.NoWarehouse:
        empty("No warehouse yet: run `make demo` (or `skipify migrate` and `skipify ingest`).")
    if nights.is_empty():
        empty("No night published yet: run `skipify nightly --date D` (or `make demo`).")
    dates = nights["run_date"].to_list()
    day = st.sidebar.selectbox("Night", dates, index=0, format_func=str, key="night")
    return day, nights.filter(pl.col("run_date") == day)["model_version"][0]


def pick_domain(day: dt.date) -> str | None:
    """The medium picker (music, podcast, ...: docs/domains.md), shown when the night scored more than one;
    None: every domain."""
    domains = q("domains", run_date=day)["domain"].to_list()
    if len(domains) < 2:
        return None
    chosen = st.sidebar.selectbox("Medium", ["all", *domains], index=0, key="domain")
    return None if chosen == "all" else chosen


def page_tonight() -> None:
    day, version = pick_night()
    domain = pick_domain(day)
    st.header(f"Tonight's risks: {day}" + ("" if domain is None else f" ({domain})"))
    summary = q("night_summary", run_date=day, domain=domain)
    now = summary.row(0, named=True)
    before = summary.row(1, named=True) if summary.height > 1 else None

    def delta(key: str):
        return None if before is None else f"{now[key] - before[key]:+,} vs {before['run_date']}"

    c = st.columns(4)
    c[0].metric("At-risk pairs", f"{now['at_risk_pairs']:,}", delta("at_risk_pairs"), delta_color="inverse")
    c[1].metric("Listeners at risk", f"{now['listeners_at_risk']:,}", delta("listeners_at_risk"), delta_color="inverse")
    c[2].metric("Pairs scored", f"{now['scored_pairs']:,}", delta("scored_pairs"), delta_color="off")
    c[3].metric("Mean p(dislike)", f"{now['mean_p_dislike']:.3f}")
    v = version_row(version)
    titles = app_data.kind_titles(v)
    st.caption(f"Model version {version}, serving its {v['labels'][v['served_model']]['label']}. "
               "A pair is at risk when that model's p(dislike) reaches its threshold chosen on validation.")

    left, right = st.columns(2)
    with left:
        st.subheader("Riskiest tracks")
        st.dataframe(q("riskiest_tracks", run_date=day, domain=domain), hide_index=True, use_container_width=True)
    with right:
        st.subheader("Riskiest artists")
        st.dataframe(q("riskiest_artists", run_date=day, domain=domain), hide_index=True, use_container_width=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Dislike categories")
        cats = q("categories", run_date=day, domain=domain)
        st.plotly_chart(go.Figure(go.Bar(x=cats["category"].to_list(), y=cats["tracks"].to_list())).update_layout(
            yaxis_title="tracks", height=320, margin=dict(t=10)), use_container_width=True)
    with right:
        st.subheader("Distribution of p(dislike)")
        hist = q("p_histogram", run_date=day, domain=domain)
        fig = go.Figure([go.Bar(x=g["bin"].to_list(), y=g["pairs"].to_list(), name=titles.get(m, m), offsetgroup=m)
                         for (m,), g in hist.group_by("model", maintain_order=True)])
        st.plotly_chart(fig.update_layout(xaxis_title="p(dislike), bins of 0.05", yaxis_title="pairs", height=320,
                                          margin=dict(t=10)), use_container_width=True)


def page_listener() -> None:
    day, version = pick_night()
    domain = pick_domain(day)
    st.header(f"Listener view: {day}" + ("" if domain is None else f" ({domain})"))
    listeners = q("listeners", run_date=day, domain=domain)
    user = st.sidebar.selectbox("Listener (most at risk first)", listeners["user_id"].to_list(), key="listener")
    row = listeners.filter(pl.col("user_id") == user).row(0, named=True)
    c = st.columns(3)
    c[0].metric("Candidates tonight", f"{row['n_candidates']:,}")
    c[1].metric("At risk", f"{row['n_at_risk']:,}")
    c[2].metric("Highest p(dislike)", f"{row['max_p_dislike']:.3f}")
    st.subheader("Tonight's candidates, riskiest first")
    st.dataframe(q("listener_candidates", run_date=day, user_id=user, domain=domain), hide_index=True, use_container_width=True)
    left, right = st.columns(2)
    with left:
        st.subheader("Recent listening")
        st.dataframe(q("listener_history", user_id=user, cutoff=cutoff_of(day), **CFG.label_params()),
                     hide_index=True, use_container_width=True)
    with right:
        st.subheader("Nearest tracks in the two-tower space")
        st.caption("Lowest dislike interaction ⟨listener, track⟩ learned by the towers (furthest for contrast).")
        st.dataframe(q("listener_nearest", version=version, user_id=user), hide_index=True, use_container_width=True)


def _bars(frame: pl.DataFrame, title: str) -> go.Figure:
    top = frame.head(15).reverse()
    return go.Figure(go.Bar(x=top["mean_abs_shap"].to_list(), y=[label(b) for b in top["block"]], orientation="h")).update_layout(
        title=title, xaxis_title="mean |SHAP| (log-odds)", height=460, margin=dict(l=10, t=40))


def page_why() -> None:
    day, version = pick_night()
    st.header(f"Why: SHAP reasons ({version})")
    imp = q("shap_global", version=version)
    if imp.is_empty():
        empty("No SHAP importances for this version: retrain with `skipify train`.")
    names = version_row(version)["labels"]
    kinds = [k for k in names if k in set(imp["model"])]  # the version's kinds, served first
    kinds.sort(key=lambda k: k != version_row(version)["served_model"])
    st.subheader("What the models lean on (global)")
    st.caption("Features by their catalogue labels (`skipify features --list`); embedding dimensions are summed into "
               "blocks: user embedding, track embedding, artist embedding, text embedding, listening history.")
    for col, kind in zip(st.columns(len(kinds)), kinds):
        col.plotly_chart(_bars(imp.filter(pl.col("model") == kind),
                               f"{app_data.title(names[kind]['label'])} ({names[kind]['explainer']})"), use_container_width=True)

    st.subheader("One pair: its top reasons")
    pairs = q("shap_pairs", run_date=day)
    if pairs.is_empty():
        empty("No pair of this night was explained (shap_night_sample = 0?).")
    labels = [f"{u} × {t}  (p = {p:.3f})" for u, t, p in pairs.select("user_id", "track_id", "p_dislike").iter_rows()]
    i = labels.index(st.selectbox("Pair (riskiest first)", labels, key="pair"))
    user, track = pairs["user_id"][i], pairs["track_id"][i]
    reasons = q("shap_local", run_date=day, user_id=user, track_id=track)
    explained = [k for k in kinds if k in set(reasons["model"])]
    for col, kind in zip(st.columns(max(len(explained), 1)), explained):
        r = reasons.filter(pl.col("model") == kind).sort("rank").reverse()
        fig = go.Figure(go.Waterfall(orientation="h", y=[label(b) for b in r["block"]], x=r["shap"].to_list(),
                                     measure=["relative"] * r.height))
        col.plotly_chart(fig.update_layout(title=f"{app_data.title(names[kind]['label'])}: contributions to log-odds", height=420,
                                           margin=dict(l=10, t=40)), use_container_width=True)


def page_scorecard() -> None:
    st.header("Scorecard: every model kind and the simple baselines")
    try:
        known = versions()
    except app_data.NoWarehouse:
        empty("No warehouse yet: run `make demo`.")
    if not known:
        empty("No model trained yet: run `skipify train` (or `make demo`).")
    labels = [f"{v['version']} ({v['status']})" for v in known]
    v = known[labels.index(st.sidebar.selectbox("Model version", labels, key="version"))]
    s = v["metrics"]["summary"]
    served, names = v["served_model"], v["labels"]
    kinds = sorted(names, key=lambda k: k != served)  # the served kind first
    c = st.columns(len(kinds) + 3)
    c[0].metric("Served model", served)
    for col, kind in zip(c[1:], kinds):
        auc = s.get(f"{kind}_roc_auc")
        col.metric(f"{app_data.title(names[kind]['label'])} ROC AUC", "—" if auc is None else f"{auc:.4f}")
    c[-2].metric("Oracle ROC AUC", "no truth file" if s["oracle_roc_auc"] is None else f"{s['oracle_roc_auc']:.4f}")
    lift = s.get(f"{served}_lift_share")
    c[-1].metric("Served lift share", "—" if lift is None else f"{lift:.3f}")
    st.caption(f"The gate serves the kind that wins on validation. Gate: {v['gate_verdict']}: {v['gate_reasons']}. Test split {s['test_from']} to {s['test_to']}, {s['n_test_rows']:,} rows.")
    st.subheader("Every model on the test split")
    st.dataframe(app_data.scorecard(v), hide_index=True, use_container_width=True)
    st.subheader("ROC AUC by segment")
    st.dataframe(app_data.segments(v), hide_index=True, use_container_width=True)
    plotted = v["metrics"].get("curves", {})
    if plotted:
        cols = st.columns(3)
        for col, (kind, xt, yt) in zip(cols, (("roc", "false positive rate", "true positive rate"),
                                              ("pr", "recall", "precision"), ("calibration", "predicted", "observed"))):
            fig = go.Figure([go.Scatter(x=[p[0] for p in c[kind]], y=[p[1] for p in c[kind]], name=m, mode="lines+markers"
                                        if kind == "calibration" else "lines") for m, c in plotted.items() if kind in c])
            if kind != "pr":
                fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], name="diagonal", line=dict(dash="dot", color="grey")))
            col.plotly_chart(fig.update_layout(title=kind.upper() if kind != "calibration" else "Calibration",
                                               xaxis_title=xt, yaxis_title=yt, height=380, margin=dict(t=40)), use_container_width=True)
    st.subheader("Per night: the scored pairs that were then played")
    outcomes = night_outcomes()
    if outcomes.is_empty():
        st.info("No scored pair has been played yet: a night's outcomes arrive with the next day's landing files.")
    else:
        st.dataframe(outcomes, hide_index=True, use_container_width=True)
    st.subheader("Versions and the gate's verdicts")
    st.dataframe(app_data.version_table(known), hide_index=True, use_container_width=True)


page = st.query_params.get("page", "tonight")
choice = st.sidebar.radio("Page", list(PAGES), index=list(PAGES).index(page) if page in PAGES else 0,
                          format_func=PAGES.get, key="page")
{"tonight": page_tonight, "listener": page_listener, "why": page_why, "scorecard": page_scorecard}[choice]()
