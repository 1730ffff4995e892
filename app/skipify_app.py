"""Skipify for product managers: tonight's risks, a listener's view, why (SHAP), the model scorecard, the guard.

    $ skipify app            # or: make app   (port and warehouse from the config)

Every number comes from the warehouse through ``skipify.app_data`` (read-only, one query per read,
cached for ``app_cache_ttl_s`` seconds), so the app never blocks the nightly run and a new night
shows up without a restart. Pages: the sidebar, or ``?page=tonight|listener|why|scorecard|guard``. Tables show
labels, not column names, and name tracks by title, artist and genre (``app_data.readable``: ids last).
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from skipify import app_data
from skipify.app_data import feature_label as label
from skipify.app_data import readable
from skipify.config import cutoff_of, load_config

CFG = load_config()
PAGES = {"tonight": "Tonight", "listener": "Listener", "why": "Why", "scorecard": "Scorecard", "guard": "Guard"}

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


def table(frame: pl.DataFrame, titles: dict[str, str] | None = None, **kwargs) -> None:
    """A table as people read it (labels, ids last: app_data.readable)."""
    st.dataframe(readable(frame, titles), hide_index=True, width="stretch", **kwargs)


def known_versions() -> list[dict]:
    """The registered versions, newest first; stops the page with what to run when there is none."""
    try:
        known = versions()
    except app_data.NoWarehouse:
        empty("No warehouse yet: run `make demo`.")
    if not known:
        empty("No model trained yet: run `skipify train` (or `make demo`).")
    return known


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


def now_threshold(day: dt.date) -> str:
    """The threshold the night's flags were set with, as a phrase."""
    rows = q("night_threshold", run_date=day)
    if rows.is_empty() or rows["risk_threshold"][0] is None:
        return "its threshold chosen on validation"
    return f"p = {rows['risk_threshold'][0]:.3f}"


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
    st.caption(f"Model version {version}, serving its {v['labels'][v['served_model']]['label']}. A pair is at risk when "
               f"that model's p(dislike) reaches the threshold: {now_threshold(day)} (the Guard page says what it costs).")

    left, right = st.columns(2)
    with left:
        st.subheader("Riskiest tracks")
        table(q("riskiest_tracks", run_date=day, domain=domain))
    with right:
        st.subheader("Riskiest artists")
        table(q("riskiest_artists", run_date=day, domain=domain))
    left, right = st.columns(2)
    with left:
        st.subheader("Dislike categories")
        cats = q("categories", run_date=day, domain=domain)
        st.plotly_chart(go.Figure(go.Bar(x=cats["category"].replace(app_data.VALUES["category"]).to_list(), y=cats["tracks"].to_list())).update_layout(
            yaxis_title="tracks", height=320, margin=dict(t=10)), width="stretch")
    with right:
        st.subheader("Distribution of p(dislike)")
        hist = q("p_histogram", run_date=day, domain=domain)
        fig = go.Figure([go.Bar(x=g["bin"].to_list(), y=g["pairs"].to_list(), name=titles.get(m, m), offsetgroup=m)
                         for (m,), g in hist.group_by("model", maintain_order=True)])
        st.plotly_chart(fig.update_layout(xaxis_title="p(dislike), bins of 0.05", yaxis_title="pairs", height=320,
                                          margin=dict(t=10)), width="stretch")


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
    table(q("listener_candidates", run_date=day, user_id=user, domain=domain))
    left, right = st.columns(2)
    with left:
        st.subheader("Recent listening")
        table(q("listener_history", user_id=user, cutoff=cutoff_of(day), **CFG.label_params()))
    with right:
        st.subheader("Nearest tracks in the two-tower space")
        st.caption("Lowest dislike interaction ⟨listener, track⟩ learned by the towers (furthest for contrast).")
        table(q("listener_nearest", version=version, user_id=user))


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
                               f"{app_data.title(names[kind]['label'])} ({names[kind]['explainer']})"), width="stretch")

    st.subheader("One pair: its top reasons")
    pairs = q("shap_pairs", run_date=day)
    if pairs.is_empty():
        empty("No pair of this night was explained (shap_night_sample = 0?).")
    labels = [f"{u} × {title or t} by {artist or '?'}  (p = {p:.3f})"
              for u, t, title, artist, p in pairs.select("user_id", "track_id", "title", "artist", "p_dislike").iter_rows()]
    i = labels.index(st.selectbox("Pair (riskiest first)", labels, key="pair"))
    user, track = pairs["user_id"][i], pairs["track_id"][i]
    reasons = q("shap_local", run_date=day, user_id=user, track_id=track)
    explained = [k for k in kinds if k in set(reasons["model"])]
    for col, kind in zip(st.columns(max(len(explained), 1)), explained):
        r = reasons.filter(pl.col("model") == kind).sort("rank").reverse()
        fig = go.Figure(go.Waterfall(orientation="h", y=[label(b) for b in r["block"]], x=r["shap"].to_list(),
                                     measure=["relative"] * r.height))
        col.plotly_chart(fig.update_layout(title=f"{app_data.title(names[kind]['label'])}: contributions to log-odds", height=420,
                                           margin=dict(l=10, t=40)), width="stretch")


def page_scorecard() -> None:
    st.header("Scorecard: every model kind and the simple baselines")
    known = known_versions()
    labels = [f"{v['version']} ({v['status']})" for v in known]
    v = known[labels.index(st.sidebar.selectbox("Model version", labels, key="version"))]
    s = v["metrics"]["summary"]
    served, names = v["served_model"], v["labels"]
    kinds = sorted(names, key=lambda k: k != served)  # the served kind first
    c = st.columns(len(kinds) + 3)
    c[0].metric("Served model", app_data.title(names[served]["label"]))
    for col, kind in zip(c[1:], kinds):
        auc = s.get(f"{kind}_roc_auc")
        col.metric(f"{app_data.title(names[kind]['label'])} ROC AUC", "—" if auc is None else f"{auc:.4f}")
    c[-2].metric("Oracle ROC AUC", "no truth file" if s["oracle_roc_auc"] is None else f"{s['oracle_roc_auc']:.4f}")
    lift = s.get(f"{served}_lift_share")
    c[-1].metric("Served lift share", "—" if lift is None else f"{lift:.3f}")
    st.caption(f"The gate serves the kind that wins on validation. Gate: {v['gate_verdict']}: {v['gate_reasons']}. Test split {s['test_from']} to {s['test_to']}, {s['n_test_rows']:,} rows.")
    st.subheader("Every model on the test split")
    table(app_data.scorecard(v))
    st.subheader("ROC AUC by segment")
    table(app_data.segments(v))
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
                                               xaxis_title=xt, yaxis_title=yt, height=380, margin=dict(t=40)), width="stretch")
    st.subheader("Per night: the scored pairs that were then played")
    outcomes = night_outcomes()
    if outcomes.is_empty():
        st.info("No scored pair has been played yet: a night's outcomes arrive with the next day's landing files.")
    else:
        table(outcomes.with_columns(pl.col("served_model").replace(app_data.kind_titles(v))))
    st.subheader("Versions and the gate's verdicts")
    table(app_data.version_table(known), {k: app_data.title(t["label"]) for v in known for k, t in v["labels"].items()})


GOALS = ("A threshold", "A share of dislikes to catch", "A ceiling of good plays withheld")


def threshold_text(t: float) -> str:
    """A threshold as shown: two decimals on the backtest's grid, three off it (the validation threshold)."""
    return f"{t:.2f}" if abs(t * 100 - round(t * 100)) < 1e-6 else f"{t:.3f}"


def _curve_figure(curve: pl.DataFrame, per_night: pl.DataFrame, picked: dict | None, current: dict | None) -> go.Figure:
    """Share of dislikes caught against good plays withheld per 1,000 plays, one point per threshold: the recent
    nights together (thick), each night (thin), the threshold looked at and the one in force."""
    fig = go.Figure()
    for (day,), g in per_night.group_by("run_date", maintain_order=True):
        fig.add_trace(go.Scatter(x=g["withheld_per_1000"].to_list(), y=g["share_caught"].to_list(), mode="lines",
                                 name=str(day), line=dict(width=1, color="lightgrey"), showlegend=False,
                                 hovertemplate=f"night {day}<br>threshold %{{text}}<extra></extra>", text=g["threshold"].to_list()))
    fig.add_trace(go.Scatter(x=curve["withheld_per_1000"].to_list(), y=curve["share_caught"].to_list(), mode="lines+markers",
                             name="recent nights together", marker=dict(size=4), text=curve["threshold"].to_list(),
                             hovertemplate="threshold %{text:.2f}<br>caught %{y:.1%}<br>withheld %{x:.1f} per 1,000<extra></extra>"))
    for row, name, symbol in ((current, "in force", "diamond"), (picked, "looked at", "star")):
        if row is not None and not (name == "looked at" and current is not None and row["threshold"] == current["threshold"]):
            fig.add_trace(go.Scatter(x=[row["withheld_per_1000"]], y=[row["share_caught"]], mode="markers",
                                     name=f"{name}: {row['threshold']:.2f}", marker=dict(size=14, symbol=symbol)))
    return fig.update_layout(xaxis_title="good plays withheld per 1,000 plays", yaxis_title="share of dislikes caught",
                             yaxis_tickformat=".0%", height=440, margin=dict(t=10),
                             legend=dict(orientation="h", yanchor="top", y=-0.18, x=0))


def _segment_table(at_t: pl.DataFrame, tonight: pl.DataFrame) -> pl.DataFrame:
    """Per segment at the threshold: the backtest's figures and what it would flag tonight, labelled."""
    names = {"all": "All", "new": "New", "known": "Known"}
    backtest = at_t.select(
        pl.col("segment").replace(app_data.guard.SEGMENTS).alias("Segment"),
        pl.col("segment_value").replace(names).alias("Which"),
        pl.col("plays").alias("Plays backtested"), pl.col("dislikes").alias("Dislikes"),
        pl.col("share_caught").alias("Share of dislikes caught"),
        pl.col("withheld_per_1000").alias("Good plays withheld per 1,000"))
    if tonight.is_empty():
        return backtest
    now = tonight.select(pl.col("segment").replace(app_data.guard.SEGMENTS).alias("Segment"),
                         pl.col("segment_value").replace(names).alias("Which"),
                         pl.col("pairs_at_risk").alias("Pairs at risk tonight"),
                         pl.col("listeners_at_risk").alias("Listeners at risk tonight"))
    return backtest.join(now, on=["Segment", "Which"], how="full", coalesce=True, maintain_order="left")


def page_guard() -> None:
    st.header("Guard: what a threshold would catch, and what it would cost")
    known = known_versions()
    served = next((v for v in known if v["status"] == "champion"), known[0])  # the version the night scores with
    current = app_data.threshold_in_force(served, CFG)
    if "guard_saved" in st.session_state:
        st.success(st.session_state.pop("guard_saved"))
    st.caption(f"A night keeps a pair out of the listener's queue when its p(dislike) reaches the threshold. In force: "
               f"{current.describe()}. Of each night's scored pairs that were then played, the backtest counts the "
               "dislikes a threshold would have caught and the good plays it would have withheld.")
    n = st.sidebar.number_input("Backtested nights to read", min_value=1, max_value=365, value=CFG.guard_nights, key="guard_nights")
    everything = guard_tradeoff(int(n))
    curve = everything.filter(pl.col("segment") == "all")
    how = st.radio("Choose", GOALS, horizontal=True, key="guard_goal")
    goal, picked = None, None
    if how == GOALS[0]:
        t = st.slider("Threshold on p(dislike)", min_value=0.01, max_value=0.99, value=round(min(max(current.threshold, 0.01), 0.99), 2),
                      step=0.01, key="guard_threshold")
    elif curve.is_empty():
        empty("No night backtested yet: a goal needs the backtest (see below).")
    elif how == GOALS[1]:
        share = st.slider("Catch at least this share of dislikes", 0.05, 0.95, 0.5, 0.05, format="%.2f", key="guard_catch")
        goal, picked = app_data.guard.goal_text(catch=share), app_data.guard.meet(curve, catch=share)
        t = None if picked is None else picked["threshold"]
    else:
        ceiling = st.number_input("Withhold at most this many good plays per 1,000 plays", 0.0, 1000.0, 50.0, 5.0, key="guard_ceiling")
        goal, picked = app_data.guard.goal_text(max_withheld=ceiling), app_data.guard.meet(curve, max_withheld=ceiling)
        t = None if picked is None else picked["threshold"]
    if t is None:
        st.warning(f"No threshold between 0.01 and 0.99 meets the goal ({goal}) on these nights.")
        st.stop()
    if round(t, 2) == round(current.threshold, 2):
        t = current.threshold  # the slider's step holds the one in force: tonight's figures are then exactly the night's

    if curve.is_empty():
        st.info("No night backtested yet: a night is backtested by the run that ingests its day's plays (the next "
                "night), or `skipify backfill --start D --end D --backtest` for nights published before.")
        at_t, at_now = everything, None
    else:
        picked = app_data.guard.nearest(curve, t)  # the backtest's grid point
        at_now = app_data.guard.nearest(curve, current.threshold)
        at_t = everything.filter(pl.col("threshold") == picked["threshold"])
    tonight = guard_tonight(t)
    now_all = tonight.filter(pl.col("segment") == "all").row(0, named=True) if tonight.height else None
    then_all = guard_tonight(current.threshold).filter(pl.col("segment") == "all").row(0, named=True) if tonight.height else None

    moved = abs(t - current.threshold) >= 0.005  # another threshold of the grid than the one in force: say the difference

    def delta(now, then, fmt: str) -> str | None:
        return None if not moved or now is None or then is None else f"{now - then:{fmt}} vs in force"

    c = st.columns(5)
    c[0].metric("Threshold", threshold_text(t), delta(t, current.threshold, "+.2f"), delta_color="off")
    if picked is not None:
        c[1].metric("Dislikes caught", "—" if picked["share_caught"] is None else f"{picked['share_caught']:.1%}",
                    delta(picked["share_caught"], at_now and at_now["share_caught"], "+.1%"))
        c[2].metric("Good plays withheld per 1,000", f"{picked['withheld_per_1000']:.1f}",
                    delta(picked["withheld_per_1000"], at_now and at_now["withheld_per_1000"], "+.1f"), delta_color="inverse")
    if now_all is not None:
        c[3].metric("Pairs at risk tonight", f"{now_all['pairs_at_risk']:,}",
                    delta(now_all["pairs_at_risk"], then_all["pairs_at_risk"], "+,"), delta_color="off")
        c[4].metric("Listeners at risk tonight", f"{now_all['listeners_at_risk']:,}",
                    delta(now_all["listeners_at_risk"], then_all["listeners_at_risk"], "+,"), delta_color="off")
    if not curve.is_empty():
        first, last = curve["first_night"].min(), curve["last_night"].max()
        nights_read = int(curve["nights"].max())
        spread = ("" if nights_read < 2 or picked["lowest_night_share_caught"] is None else
                  f" One night at a time, this threshold caught {picked['lowest_night_share_caught']:.0%} to "
                  f"{picked['highest_night_share_caught']:.0%} of them.")
        st.caption(f"{nights_read} backtested night(s), {first} to {last}: {picked['plays']:,} plays of scored pairs, "
                   f"{picked['dislikes']:,} dislikes.{spread}")
        st.subheader("The trade-off")
        st.plotly_chart(_curve_figure(curve, guard_per_night(int(n)), picked, at_now), width="stretch")
    st.subheader("By segment")
    st.caption(f"New: a listener's (track's) first play within the {CFG.guard_new_days} days before the night. The "
               "platform is the play's: known once played, so tonight's columns leave it empty.")
    st.dataframe(_segment_table(at_t, tonight), hide_index=True, width="stretch", column_config={
        "Share of dislikes caught": st.column_config.NumberColumn(format="percent"),
        "Good plays withheld per 1,000": st.column_config.NumberColumn(format="%.1f")})

    st.subheader("Put it in force")
    st.caption("From the next night on, its at-risk lists, the API's at_risk flag and this app use it. The threshold "
               "chosen on validation stays the default until one is chosen.")
    left, right = st.columns([2, 1])
    who = left.text_input("Your name", key="guard_who")
    if right.button(f"Use {threshold_text(t)} from now on", key="guard_save", disabled=not who.strip(), type="primary"):
        chosen = app_data.choose_threshold(t, who, goal, int(curve["nights"].max()) if curve.height else None, CFG)
        st.session_state["guard_saved"] = f"In force from now on: {chosen.describe()}."
        st.rerun()  # the page again, with the new threshold in force
    history = app_data.threshold_choices(CFG)
    if history.height:
        st.subheader("Thresholds chosen")
        table(history)


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def guard_tradeoff(nights: int) -> pl.DataFrame:
    return app_data.guard_tradeoff(CFG, nights)


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def guard_per_night(nights: int) -> pl.DataFrame:
    return app_data.guard_nights(CFG, nights)


@st.cache_data(ttl=CFG.app_cache_ttl_s, show_spinner=False)
def guard_tonight(threshold: float) -> pl.DataFrame:
    return app_data.guard_tonight(threshold, CFG)


page = st.query_params.get("page", "tonight")
choice = st.sidebar.radio("Page", list(PAGES), index=list(PAGES).index(page) if page in PAGES else 0,
                          format_func=PAGES.get, key="page")
{"tonight": page_tonight, "listener": page_listener, "why": page_why, "scorecard": page_scorecard, "guard": page_guard}[choice]()
