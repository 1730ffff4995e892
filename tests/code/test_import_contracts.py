"""The one-way flow where import-linter cannot see it: the Streamlit app (a script, not a package) reads the
warehouse through its own data layer (skipify.app_data) and the configuration, nothing else of skipify; and
the contracts of pyproject.toml hold a layers contract in the order of the flow."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def skipify_imports(path: Path) -> set[str]:
    """The skipify modules a file imports, wherever in it (``from skipify import x`` counts as skipify.x)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "skipify"}
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "skipify":
            out |= {f"{node.module}.{a.name}" for a in node.names} if node.module == "skipify" else {node.module}
    return out


def test_the_app_reads_only_its_data_layer_and_the_configuration():
    seen = skipify_imports(ROOT / "app" / "skipify_app.py")
    assert seen and seen <= {"skipify.app_data", "skipify.config"}, seen


def test_the_layers_contract_follows_the_flow():
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    layers = next(c["layers"] for c in contracts if c["type"] == "layers")
    order = [name.strip() for line in layers for name in line.split("|")]
    # top to bottom: the CLI and the app's data; the night and the API; serving; models; features; ingest; configuration
    for upper, lower in (("cli", "nightly"), ("api", "serving"), ("nightly", "serving"), ("serving", "models"),
                         ("models", "features"), ("features", "ingest"), ("ingest", "warehouse"), ("warehouse", "config")):
        assert order.index(upper) < order.index(lower), (upper, lower)
    assert order[-1] == "config"


def test_the_import_walk_sees_every_form(tmp_path):
    f = tmp_path / "x.py"
    f.write_text("import os\nfrom skipify import app_data\nimport skipify.config\ndef g():\n    from skipify.train import train\n")
    assert skipify_imports(f) == {"skipify.app_data", "skipify.config", "skipify.train"}
