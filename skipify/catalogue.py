"""The feature catalogue: every feature column's label and one sentence, kept beside its definition.

Each file of ``sql/features/`` that builds feature columns lists them in comment lines, one per column::

    -- feature u_plays_7d | Listener plays, last 7 days | Plays by the listener in the 7 days before the row's day.

``skipify features --list [--json]`` prints the catalogue; the app's SHAP pages and the API's reasons
show the labels, which product managers read, instead of the column names. A test holds the catalogue
equal to the feature columns of the training rows.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass

from skipify.config import SQL_DIR

ENTRY = re.compile(r"^-- feature (\w+) \| ([^|]+?) \| (.+?)\s*$")


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    description: str
    source: str  # the SQL file that defines it, e.g. features/user_history

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@functools.cache
def catalogue() -> dict[str, Feature]:
    """Every catalogued feature column, in the order its files list them.

    Raises:
        ValueError: a column listed twice.
    """
    out: dict[str, Feature] = {}
    for path in sorted((SQL_DIR / "features").glob("*.sql")):
        for line in path.read_text().splitlines():
            m = ENTRY.match(line)
            if m is None:
                continue
            name, label, description = m.groups()
            if name in out:
                raise ValueError(f"feature {name} is catalogued twice: {out[name].source} and features/{path.stem}")
            out[name] = Feature(name, label.strip(), description, f"features/{path.stem}")
    return out


def label(name: str) -> str:
    """A feature's label; other names (the explanations' embedding blocks) stay as they are."""
    feature = catalogue().get(name)
    return feature.label if feature else name


def markdown() -> str:
    """The catalogue as the markdown table of docs/warehouse.md (a test holds the page equal to it)."""
    rows = ["| column | label | what it says | defined in |", "| --- | --- | --- | --- |"]
    rows += [f"| `{f.name}` | {f.label} | {f.description} | `sql/{f.source}.sql` |" for f in catalogue().values()]
    return "\n".join(rows)
