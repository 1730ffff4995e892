"""One gate per domain (docs/domains.md): the shared scored version (music and podcasts) holds podcast models of
their own beside its joint ones; the gate's choice per domain is in the registry; the night and the API score each
row with its domain's choice, and agree."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import httpx
import numpy as np
import polars as pl
import pytest

from skipify.config import load_config
from skipify.models.kinds import KINDS
from skipify.warehouse import connect
from tests.scored import NIGHT, SCORED_SETTINGS, read
from tests.servers import free_port, running

pytestmark = pytest.mark.slow  # a night and `skipify serve` on a real uvicorn

BIN = Path(sys.executable).parent


def registry_row(cfg) -> dict:
    from skipify.versions import find_version

    return find_version(None, cfg)


def test_the_version_holds_the_podcasts_own_models_and_the_gates_choice_per_domain(copy_scored_home):
    from skipify.versions import load_version

    home = copy_scored_home("domain_gate_files")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    row = registry_row(cfg)
    choices = json.loads(row["domain_served"])
    figures = json.loads(row["gate_figures"])["domains"]
    assert set(choices) == {"music", "podcast"}
    # music, the largest domain, has no models of its own: served by the version's served kind
    assert choices["music"] == {"trained_on": "all", "served_model": row["served_model"], "baseline_model": row["baseline_model"]}
    # the podcasts: every joint kind and their own on their validation rows, each against the served kind
    valid, beyond = figures["podcast"]["valid"], figures["podcast"]["valid_minus_served"]
    assert set(valid) == {f"{t}/{k}" for t in ("all", "podcast") for k in row["kinds"]}
    assert set(beyond) == set(valid) - {f"all/{row['served_model']}"}
    for name, ci in beyond.items():
        assert ci["diff"] == pytest.approx(valid[name] - valid[f"all/{row['served_model']}"]) and ci["lo"] <= ci["diff"] <= ci["hi"]
    winners = {n: ci["diff"] for n, ci in beyond.items() if ci["lo"] > 0}
    chosen = max(winners, key=winners.get) if winners else f"all/{row['served_model']}"
    assert f"{choices['podcast']['trained_on']}/{choices['podcast']['served_model']}" == chosen
    assert figures["podcast"]["own"] and not figures["music"]["own"] and figures["podcast"]["rows"]["valid"] >= 50

    # the own models are files of the version, registered with their path in its folder ...
    folder = cfg.models_dir / row["version"]
    for kind in row["kinds"]:
        assert (folder / "domain-podcast" / KINDS[kind].marker).is_file()
    con = connect(cfg, read_only=True)
    names = {n for (n,) in con.execute("SELECT name FROM models.artifacts WHERE version = $v", {"v": row["version"]}).fetchall()}
    con.close()
    assert "domain-podcast/lightgbm.txt" in names and "lightgbm.txt" in names
    # ... so a machine without the folder fetches them with the rest
    shutil.rmtree(folder)
    chosen, _ = load_version(None, cfg)
    assert (folder / "domain-podcast" / "lightgbm.txt").is_file()
    assert set(chosen["domain_models"]) == ({"podcast"} if choices["podcast"]["trained_on"] == "podcast" else set())


@pytest.fixture(scope="module")
def routed(copy_scored_home):
    """A copy of the scored home whose version serves the podcasts with their own LightGBM (a choice the gate makes
    when it wins on their validation rows: set here, so that the routing is tested whatever the tiny world's gate
    chose), with NIGHT's shards scored again (scores.staged_scores: what the night publishes)."""
    from skipify.nightly import score_shard

    home = copy_scored_home("domain_gate_routed")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    row = registry_row(cfg)
    choice = {"music": {"trained_on": "all", "served_model": row["served_model"], "baseline_model": row["baseline_model"]},
              "podcast": {"trained_on": "podcast", "served_model": "lightgbm", "baseline_model": "deep"}}
    con = connect(cfg)
    con.execute("UPDATE models.registry SET domain_served = $c WHERE version = $v", {"c": json.dumps(choice), "v": row["version"]})
    con.close()
    for shard in range(cfg.nightly_shards):
        score_shard(NIGHT, shard, cfg)
    return home, cfg


def night_scores(cfg, table: str = "staged_scores") -> pl.DataFrame:
    """The night's scores of each pair with its domain (the catalogue's), in one order."""
    return read(cfg, f"SELECT s.user_id, s.track_id, coalesce(t.domain, 'music') AS domain, s.p_dislike, s.p_dislike_baseline "
                     f"FROM scores.{table} AS s LEFT JOIN raw.tracks AS t USING (track_id) "
                     "WHERE s.run_date = $d ORDER BY s.user_id, s.track_id", {"d": NIGHT})


def test_the_night_scores_each_domains_rows_with_its_choice(routed, scored_home):
    from skipify.models.base import read_columns
    from skipify.serving import Snapshot, request_frame
    from skipify.versions import load_version

    home, cfg = routed
    got = night_scores(cfg)
    before = night_scores(load_config(home=scored_home, **SCORED_SETTINGS), "dislike_scores")  # every row the joint choice
    assert got.select("user_id", "track_id", "domain").equals(before.select("user_id", "track_id", "domain"))
    music, podcast = (pl.col("domain") == "music"), (pl.col("domain") == "podcast")
    assert got.filter(music)["p_dislike"].equals(before.filter(music)["p_dislike"])  # music as it was
    # the podcasts: p_dislike from their own LightGBM, the baseline from their own deep model, on the night's rows
    chosen, models = load_version(None, cfg)
    own = chosen["domain_models"]["podcast"]
    pairs = got.filter(podcast)
    assert pairs.height > 0
    columns = read_columns(models)
    rows, _ = Snapshot.load(NIGHT, cfg, columns).rows(request_frame(pairs.select("user_id", "track_id")), columns)
    assert np.abs(own["lightgbm"].predict(rows) - pairs["p_dislike"].to_numpy()).max() < 1e-9
    assert np.abs(own["deep"].predict(rows) - pairs["p_dislike_baseline"].to_numpy()).max() < 1e-6
    assert not np.allclose(pairs["p_dislike"].to_numpy(), before.filter(podcast)["p_dislike"].to_numpy())


def test_the_api_answers_each_domains_pairs_as_the_night_scored_them(routed):
    home, cfg = routed
    night = night_scores(cfg)
    pairs = pl.concat([night.filter(pl.col("domain") == d).head(12) for d in ("music", "podcast")])
    port = free_port()
    env = {**os.environ, "SKIPIFY_HOME": str(home), **{f"SKIPIFY_{k.upper()}": str(v) for k, v in SCORED_SETTINGS.items()}}
    with running([str(BIN / "skipify"), "serve", "--port", str(port), "--reload-s", "0"], env, f"http://127.0.0.1:{port}/healthz"):
        resp = httpx.post(f"http://127.0.0.1:{port}/v1/predict", timeout=60,
                          json={"items": pairs.select("user_id", "track_id").to_dicts()})
    assert resp.status_code == 200, resp.text
    cols = ("user_id", "track_id", "domain", "served_model", "trained_on", "p_dislike", "p_dislike_baseline")
    got = pl.DataFrame([{c: p[c] for c in cols} for p in resp.json()["predictions"]])
    assert got.select("user_id", "track_id", "domain").equals(pairs.select("user_id", "track_id", "domain"))
    assert np.abs(got["p_dislike"].to_numpy() - pairs["p_dislike"].to_numpy()).max() < 1e-6
    assert np.abs(got["p_dislike_baseline"].to_numpy() - pairs["p_dislike_baseline"].to_numpy()).max() < 1e-6
    row = registry_row(cfg)
    assert got.filter(pl.col("domain") == "podcast").select("served_model", "trained_on").unique().rows() == [("lightgbm", "podcast")]
    assert got.filter(pl.col("domain") == "music").select("served_model", "trained_on").unique().rows() == [(row["served_model"], "all")]


def test_a_version_without_a_choice_per_domain_serves_every_domain_with_its_served_kind(copy_scored_home):
    """A version registered before the per-domain gate (migration 099 leaves its domain_served NULL) or trained on
    one domain loads and serves as before: one model for every row, no domain's own models loaded."""
    from skipify.models.domains import ByDomain
    from skipify.models.kinds import served_and_baseline
    from skipify.versions import load_version

    home = copy_scored_home("domain_gate_older")
    cfg = load_config(home=home, **SCORED_SETTINGS)
    con = connect(cfg)
    con.execute("UPDATE models.registry SET domain_served = NULL")
    con.close()
    chosen, models = load_version(None, cfg)
    served, baseline = served_and_baseline(chosen, models)
    assert chosen["domain_models"] == {}
    assert served is models[chosen["served_model"]] and baseline is models[chosen["baseline_model"]]
    assert not isinstance(served, ByDomain)
