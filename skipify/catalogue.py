"""The feature families and the feature catalogue, read from the SQL that defines them.

A **family** is one file ``sql/features/families/NN_<name>.sql`` (NN orders the columns of the
feature rows). Its header names its grain, the columns one of its rows is keyed by besides the day::

    -- grain: user_id            (one row per listener and day: history as of the start of the day)
    -- grain: play_id            (one row per row to score or train on: the session and context)

and lists each column it builds, with a label and one sentence::

    -- feature u_plays_7d | Listener plays, last 7 days | Plays by the listener in the 7 days before the row's day.

The **state** tables (``sql/features/state/<name>.sql``, running totals per key and day that a
night extends by its own days) name their grain the same way. ``skipify features --list [--json]``
prints the catalogue; the app's SHAP pages and the API's reasons show the labels, which product
managers read, instead of the column names. docs/features.md says how to add a family.
"""

from __future__ import annotations

import functools
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from skipify.config import SQL_DIR

ENTRY = re.compile(r"^-- feature (\w+) \| ([^|]+?) \| (.+?)\s*$")
GRAIN = re.compile(r"^-- grain:(.*)$", re.MULTILINE)
ROW_GRAIN = ("play_id",)


@dataclass(frozen=True)
class Feature:
    name: str
    label: str
    description: str
    source: str  # the SQL file that defines it, e.g. features/families/10_user_history

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class Definition:
    """One SQL file that builds a table of the ``features`` schema: a family or a state table."""

    name: str  # user_history, state_user
    sql: str  # its name for read_sql: features/families/10_user_history
    grain: tuple[str, ...]  # key columns besides the day; ("play_id",) for per-row families

    @property
    def table(self) -> str:
        return f"features.{self.name}"

    @property
    def per_row(self) -> bool:
        return self.grain == ROW_GRAIN


def _grain(path: Path) -> tuple[str, ...]:
    m = GRAIN.search(path.read_text())
    if m is None:
        raise ValueError(f"{path} has no '-- grain:' line (the columns a row is keyed by besides the day)")
    return tuple(c.strip() for c in m.group(1).split(",") if c.strip())


def _definitions(folder: str, prefix: str = "") -> tuple[Definition, ...]:
    out = []
    for path in sorted((SQL_DIR / "features" / folder).glob("*.sql")):
        name = re.sub(r"^\d+_", "", path.stem)
        out.append(Definition(f"{prefix}{name}", f"features/{folder}/{path.stem}", _grain(path)))
    return tuple(out)


@functools.cache
def families() -> tuple[Definition, ...]:
    """The feature families, in column order (their files' NN prefixes)."""
    return _definitions("families")


@functools.cache
def states() -> tuple[Definition, ...]:
    """The state tables (features.state_<name>) the families read."""
    return _definitions("state", prefix="state_")


@functools.cache
def catalogue() -> dict[str, Feature]:
    """Every catalogued feature column, in family order.

    Raises:
        ValueError: a column listed twice.
    """
    out: dict[str, Feature] = {}
    for family in families():
        for line in (SQL_DIR / f"{family.sql}.sql").read_text().splitlines():
            m = ENTRY.match(line)
            if m is None:
                continue
            name, label, description = m.groups()
            if name in out:
                raise ValueError(f"feature {name} is catalogued twice: {out[name].source} and {family.sql}")
            out[name] = Feature(name, label.strip(), description, family.sql)
    return out


# The inputs a model makes itself from the rows' sequences with what it fitted at training (skipify.models.recent:
# similarities in a projection of the text vectors learnt with the model), column -> (label, what it says). Labelled
# here, beside every feature, so that the catalogue's readers (the app, the API's reasons) need no model; the counts
# and shares of the same history are feature columns (families 31, 32, 40, 50).
MODEL_INPUTS = {
    "hx_sim_completed": ("Likeness to recently finished tracks", "Mean text similarity of the track to the tracks the listener recently played to the end."),
    "hx_sim_disliked": ("Likeness to recently disliked tracks", "Mean text similarity of the track to the tracks the listener recently disliked or skipped early."),
    "hsx_sim_completed": ("Likeness to the session's finished tracks", "Mean text similarity of the track to the tracks finished earlier in the session."),
    "hsx_sim_disliked": ("Likeness to the session's disliked tracks", "Mean text similarity of the track to the tracks disliked or skipped early earlier in the session."),
}


def label(name: str) -> str:
    """A feature's label (a catalogued column, or an input a model makes from them: :data:`MODEL_INPUTS`);
    other names (the explanations' embedding blocks) stay as they are."""
    feature = catalogue().get(name)
    return feature.label if feature else MODEL_INPUTS[name][0] if name in MODEL_INPUTS else name


def markdown() -> str:
    """The catalogue as the markdown table of docs/warehouse.md (a test holds the page equal to it)."""
    rows = ["| column | label | what it says | defined in |", "| --- | --- | --- | --- |"]
    rows += [f"| `{f.name}` | {f.label} | {f.description} | `sql/{f.source}.sql` |" for f in catalogue().values()]
    return "\n".join(rows)
