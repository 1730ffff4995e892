"""The notebooks run top to bottom on a tiny world (so they never rot), and show their figures."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from skipify.config import load_config
from skipify.generate import WorldParams, build_world, write_world
from skipify.ingest import ingest_paths

pytestmark = pytest.mark.slow  # the notebooks run in a kernel (`make test-fast` leaves it out)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


@pytest.fixture(scope="module")
def tiny_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("notebook_home")
    cfg = load_config(home=home)
    write_world(build_world(WorldParams(users=150, tracks=150, days=14, seed=9)), cfg.world_dir)
    ingest_paths([cfg.world_dir / "landing"], cfg=cfg)
    return home


def run(name: str, home: Path, monkeypatch) -> nbformat.NotebookNode:
    for key, value in {"SKIPIFY_HOME": str(home), "SKIPIFY_SPLIT_TEST_DAYS": "3", "SKIPIFY_SPLIT_VALID_DAYS": "3",
                       "SKIPIFY_TRAIN_EPOCHS": "2", "SKIPIFY_SHAP_SAMPLE": "200"}.items():
        monkeypatch.setenv(key, value)  # the kernel inherits the environment
    book = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(book, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    return book


def outputs(book, kind: str) -> list:
    return [o for c in book.cells if c.cell_type == "code" for o in c.outputs if kind in o.get("data", {})]


def test_notebooks_run_in_order_and_show_their_figures(tiny_home, monkeypatch):
    train = run("train_pipeline.ipynb", tiny_home, monkeypatch)
    assert len(outputs(train, "image/png")) == 3  # daily splits, importance, training curves
    assert any("deep" in o["data"]["text/plain"] and "lightgbm" in o["data"]["text/plain"] for o in outputs(train, "text/plain"))

    test = run("test_pipeline.ipynb", tiny_home, monkeypatch)
    assert len(outputs(test, "image/png")) == 2  # ROC, calibration
    text = "\n".join(o["data"]["text/plain"] for o in outputs(test, "text/plain"))
    assert "oracle" in text and ("champion" in text or "rejected" in text)
