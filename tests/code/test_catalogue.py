"""The feature catalogue: every feature column has a label and a sentence, kept beside its SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from skipify.catalogue import catalogue, label, markdown
from skipify.config import REPO_ROOT
from skipify.models.preprocess import NOT_FEATURES
from skipify.sequences import SEQUENCES


def test_every_feature_column_of_the_training_rows_is_catalogued_and_nothing_else(small_rows):
    columns = [c for c in small_rows.columns if c not in NOT_FEATURES]
    assert set(catalogue()) == set(columns)
    labels = [f.label for f in catalogue().values()]
    assert len(set(labels)) == len(labels)  # a label names one feature
    assert all(f.description.endswith(".") and len(f.description) > 20 for f in catalogue().values())
    assert label("ug_dislike_rate") == "Listener's dislike rate for this genre" and label("user embedding") == "user embedding"


def test_the_catalogue_lives_beside_each_definition():
    anchors = {c: seq.anchor for seq in SEQUENCES.values() for c in seq.columns}
    for f in catalogue().values():
        sql = (REPO_ROOT / "sql" / f"{f.source}.sql").read_text()
        # a sequence's lists are gathered from the anchor its family builds (skipify.sequences)
        built = f" as {anchors.get(f.name, f.name)}"
        assert built in sql, f"{f.name} is catalogued in {f.source} but not built there"


def test_features_list_prints_it_and_the_docs_show_it():
    out = subprocess.run([str(Path(sys.executable).parent / "skipify"), "features", "--list", "--json"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [f.as_dict() for f in catalogue().values()]
    assert markdown() in (REPO_ROOT / "docs" / "warehouse.md").read_text()  # docs/warehouse.md, "The feature catalogue"
