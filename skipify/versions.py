"""Registered model versions, found and loaded: the registry's row of a version (default: the champion)
and its models by kind, from this home's folder or fetched from models.artifacts, every file checked
against the size and SHA-256 registration kept.

The night, the API and the app load versions through here, not through the training stage (which this
module does not import).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path

from skipify.config import Config, load_config, logger
from skipify.models.base import Model, Resources
from skipify.models.domains import load_own
from skipify.models.kinds import load_models
from skipify.registry import versions
from skipify.warehouse import connect, run_sql


def find_version(version: str | None = None, cfg: Config | None = None) -> dict:
    """A registered version's registry row (default: the champion, else the newest).

    Raises:
        ValueError: no version trained yet, or an unknown version.
    """
    cfg = cfg or load_config()
    con = connect(cfg, read_only=True)
    try:
        known = versions(con)
    finally:
        con.close()
    if not known:
        raise ValueError("no trained model yet: run `skipify train`")
    if version is None:
        return next((v for v in known if v["status"] == "champion"), known[0])
    chosen = next((v for v in known if v["version"] == version), None)
    if chosen is None:
        raise ValueError(f"unknown model version {version!r}; known: {', '.join(v['version'] for v in known)}")
    return chosen


def load_version(version: str | None = None, cfg: Config | None = None,
                 content: dict | None = None) -> tuple[dict, dict[str, Model]]:
    """A registered version's registry row and its models by kind, loaded from the artefacts (see find_version).

    The row's ``domain_models``: the models of a domain alone that the gate chose for its rows (domain -> kind ->
    model; skipify.models.domains), which served_and_baseline routes that domain's rows to. ``content``: the
    tracks' content vectors when the caller has them (default: read from the warehouse)."""
    cfg = cfg or load_config()
    chosen = find_version(version, cfg)
    folder, resources = version_folder(chosen["version"], cfg), Resources(cfg, content=content)
    models = load_models(folder, resources, chosen["kinds"])
    return {**chosen, "domain_models": load_own(folder, resources, chosen)}, models


def version_folder(version: str, cfg: Config) -> Path:
    """The local folder of a version's files, checked against what registration kept: this home's own, or,
    on a machine that did not train it (a shard worker, the API), fetched once from models.artifacts.

    Every file's size and SHA-256 are compared with models.artifacts' copy before anything is loaded: a
    local file that differs (a truncated ``lightgbm.txt`` once crashed the server with a segmentation
    fault) is named in the log and the folder fetched again from the warehouse.

    Raises:
        ValueError: neither here nor in the warehouse (a version trained before the files were kept
            there), or a file that differs here and in the warehouse (named).
    """
    folder = cfg.models_dir / version
    con = connect(cfg, read_only=True)  # one connection: the digests, and the files when they must be fetched
    try:
        digests = {name: (size, sha) for name, size, sha in run_sql(con, "models/artifact_digests", {"version": version}).fetchall()}
        if folder.is_dir():
            if not digests:  # trained before versions' files were kept in the warehouse: nothing to check against
                return folder
            bad = _differing(folder, digests)
            if not bad:
                return folder
            logger.error("model version %s: %s differ(s) from the registered file(s) (size or SHA-256); fetching the "
                         "version again from models.artifacts", version, ", ".join(str(folder / b) for b in bad))
        elif not digests:
            raise ValueError(f"model version {version}: no folder {folder} and no files in models.artifacts "
                             "(trained elsewhere before versions' files were kept in the warehouse)")
        files = run_sql(con, "models/read_artifacts", {"version": version}).fetchall()
    finally:
        con.close()
    tmp = cfg.models_dir / f".{version}.tmp{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    for name, _, content in files:  # a name is the file's path in the folder (a domain's own models: domain-<name>/...)
        (tmp / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp / name).write_bytes(content)
    still = _differing(tmp, digests)
    if still:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ValueError(f"model version {version}: {', '.join(still)} in models.artifacts differ(s) from the size or "
                         "SHA-256 recorded for it; the version cannot be loaded (train again, or promote another)")
    if folder.is_dir():  # the damaged copy is kept beside, for a look, and out of the way
        folder.rename(folder.with_name(f".{version}.damaged{time.time_ns()}"))
    try:
        tmp.rename(folder)  # whole or not at all: a process beside this one may be fetching it too
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("model version %s: %d files (%.1f MB) fetched from models.artifacts into %s", version, len(files),
                sum(f[1] for f in files) / 1e6, folder)
    return folder


def _differing(folder: Path, digests: dict[str, tuple[int, str]]) -> list[str]:
    """The names of ``digests`` whose file in ``folder`` is missing or has another size or SHA-256."""
    out = []
    for name, (size, sha) in sorted(digests.items()):
        path = folder / name
        if not path.is_file() or path.stat().st_size != size or hashlib.sha256(path.read_bytes()).hexdigest() != sha:
            out.append(name)
    return out
