"""A night's serving snapshot in files that every process of a machine maps read-only.

    snap = shared(as_of, cfg, version, columns)   # <home>/snapshots/<as_of>.<version>/: mapped, or built once

The snapshot (skipify.serving.Snapshot) is mostly columns: each family's rows, their sorted key codes,
the play log. Loaded from the warehouse, each process held its own copy (1.7 GiB and 25 s a worker at
10M plays, docs/scale.md). Here it is written once per night and machine, by the night or by the first
process that asks for it: the frames as uncompressed Arrow IPC files, the arrays as ``.npy`` files.
Every process then maps them (pyarrow's memory map, numpy's ``mmap_mode="r"``): the pages sit once in
the operating system's page cache, shared by all of them, read from disk only when touched. What a
process still builds for itself are small lookups (the play log's first play per listener, made on first use).

A folder is written whole or not at all (a temporary folder renamed into place) under a lock, so two
processes asking at once build it once. The folders of the ``KEEP`` latest nights stay; older ones are
removed (a process that still maps one keeps reading it: a removed file lives until it is unmapped).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa

from skipify.catalogue import families
from skipify.config import Config, logger
from skipify.sequences import PlayLog
from skipify.lookup import SortedIds
from skipify.serving import FamilyRows, KeyIndex, Snapshot
from skipify.warehouse import exclusive

FORMAT = 3  # bumped when the files change: a folder of another format is built again
KEEP = 2  # nights whose folders stay (the one served and the one before, while workers reload)
LOG_ARRAYS = ("play_id", "track", "outcome", "start", "prev")
ID_SETS = ("played_users", "played_tracks", "known_users", "known_tracks")
EXTRA = "extra."  # files kept beside a snapshot (kept_frame, kept_vectors): built by the first process that needs them


def root(cfg: Config) -> Path:
    return cfg.home / "snapshots"


def folder(as_of: dt.date, version: str, cfg: Config) -> Path:
    """Where the snapshot as of ``as_of`` for the models of ``version`` is kept on this machine."""
    return root(cfg) / f"{as_of}.{version}"


def shared(as_of: dt.date, cfg: Config, version: str, columns: Iterable[str], fresh: bool = False) -> Snapshot:
    """The snapshot as of ``as_of`` with the families ``columns`` need, mapped from this machine's folder;
    built from the warehouse and written first when there is none (once: other processes wait and map it).
    ``fresh``: built and written again whatever is there (the night, whose ingest may have brought late plays
    of the days before: a night run again must not score on the snapshot of its first run).

    A folder that cannot be written (a full disk, a read-only home) is not fatal: the snapshot built is
    returned as it is, in this process's memory, with a warning."""
    columns = sorted(set(columns))
    path = folder(as_of, version, cfg)
    snap = None if fresh else opened(path, columns, as_of)
    if snap is not None:
        return snap
    with _locked(cfg):
        snap = None if fresh else opened(path, columns, as_of)  # written by another process while this one waited
        if snap is not None:
            return snap
        built = Snapshot.load(as_of, cfg, columns)
        try:
            write(built, path, version, columns, extras=not fresh)
        except OSError as e:
            logger.warning("serving snapshot as of %s not written to %s (%s): held in this process's memory", as_of, path, e)
            return built
        _prune(cfg, path)
    return opened(path, columns, as_of) or built


def kept_frame(as_of: dt.date, cfg: Config, version: str, name: str, build: Callable[[], pl.DataFrame]) -> pl.DataFrame:
    """A frame the workers read beside the snapshot (the reasons' reference rows, the nights' at-risk lists), kept
    in its folder the same way: built once per machine by ``build``, mapped by every process. ``name`` says what
    it depends on besides the night and the version (its settings): another name is another file. Without the
    folder (not written: a full disk) the frame built is returned as it is."""
    return _kept(folder(as_of, version, cfg) / f"{EXTRA}{name}.arrow", cfg, build, _save_frame, _map_frame)


def kept_vectors(as_of: dt.date, cfg: Config, version: str, name: str,
                 build: Callable[[], tuple[list[str], np.ndarray]]) -> dict[str, np.ndarray]:
    """Vectors by id (the tracks' content vectors), kept like :func:`kept_frame`: ``build`` gives the ids and a
    matrix (a row each); every process maps the matrix and reads each id's vector as a row of it (read-only)."""

    def save(made: tuple[list[str], np.ndarray], path: Path) -> None:
        ids, matrix = made
        with open(path, "wb") as f:  # a file object: np.save would add ".npy" to the temporary name
            np.save(f, np.ascontiguousarray(matrix))
        _save_frame(pl.DataFrame({"id": pl.Series(ids, dtype=pl.String)}), path.with_name(path.name + ".ids"))

    def load(path: Path) -> tuple[list[str], np.ndarray]:
        return _map_frame(path.with_name(path.name + ".ids"))["id"].to_list(), _map_array(path)

    return dict(zip(*_kept(folder(as_of, version, cfg) / f"{EXTRA}{name}.npy", cfg, build, save, load)))


def _kept(path: Path, cfg: Config, build: Callable[[], Any], save: Callable[[Any, Path], None],
          load: Callable[[Path], Any]) -> Any:
    """``load(path)``; when not there, ``build()`` saved there first (under the lock, whole: a temporary name
    renamed), or, when it cannot be saved, returned as it is."""
    if path.exists():
        return load(path)
    with _locked(cfg):
        if path.exists():
            return load(path)
        made = build()
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)  # before the snapshot itself: write() keeps what is here
            save(made, tmp)
            for side in tmp.parent.glob(f"{tmp.name}.*"):  # a file of its own beside it (the vectors' ids): first
                side.rename(path.with_name(path.name + side.name.removeprefix(tmp.name)))
            tmp.rename(path)
        except OSError as e:
            for left in tmp.parent.glob(f"{tmp.name}*"):
                left.unlink(missing_ok=True)
            logger.warning("%s not kept (%s): held in this process's memory", path, e)
            return made
    return load(path)


def existing(as_of: dt.date, cfg: Config, version: str, columns: Iterable[str]) -> Snapshot | None:
    """The folder's snapshot when this machine has one for these columns; else None (nothing is built)."""
    return opened(folder(as_of, version, cfg), sorted(set(columns)), as_of)


def opened(path: Path, columns: list[str], as_of: dt.date) -> Snapshot | None:
    """The snapshot of ``path`` mapped, when it holds one of this format, as of ``as_of``, for ``columns``; else None."""
    try:
        meta = json.loads((path / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or meta.get("columns") != columns or meta.get("as_of") != as_of.isoformat():
        logger.info("serving snapshot %s: written for other columns, another night or in another format: not used", path)
        return None
    try:
        return read(path, meta)
    except FileNotFoundError:  # replaced by another process while this one read it: built again, under the lock
        return None


def write(snap: Snapshot, path: Path, version: str, columns: list[str], extras: bool = False) -> Path:
    """Write ``snap`` into ``path`` whole (a temporary folder renamed into place; a folder there is replaced, the
    files kept beside its snapshot with it unless ``extras``: then they move into the new folder)."""
    t0 = time.perf_counter()
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for fam in snap.per_key:
            name = fam.definition.name
            _save_frame(fam.frame, tmp / f"{name}.arrow")
            _save_keys(fam.keys, tmp, name)
            if fam.reach is not None:
                _save_frame(fam.reach, tmp / f"{name}.reach.arrow")
        _save_frame(snap.tracks, tmp / "tracks.arrow")
        _save_frame(snap.habits, tmp / "habits.arrow")
        _save_keys(snap.habit_keys, tmp, "habits")
        for name in ID_SETS:
            _save_ids(getattr(snap, name), tmp, name)
        if snap.log is not None:
            for name in LOG_ARRAYS:
                np.save(tmp / f"log.{name}.npy", getattr(snap.log, name))
            _save_frame(pl.DataFrame({"track_id": pl.Series(snap.log.tracks).cast(pl.String)}), tmp / "log.tracks.arrow")
            _save_frame(snap.log.first, tmp / "log.first.arrow")
            _save_ids(snap.log.sorted_listeners(), tmp, "log.listeners")  # what a request's lookups search: mapped
            ids, order = snap.log.sorted_ids()
            np.save(tmp / "log.by_id.npy", ids)
            np.save(tmp / "log.by_id_order.npy", order)
        meta = {"format": FORMAT, "as_of": snap.as_of.isoformat(), "version": version, "columns": columns,
                "per_key": [f.definition.name for f in snap.per_key], "per_row": [f.name for f in snap.per_row],
                "reach": [f.definition.name for f in snap.per_key if f.reach is not None], "log": snap.log is not None,
                "params": {k: ({"datetime": v.isoformat()} if isinstance(v, dt.datetime) else v) for k, v in snap.params.items()},
                "written_at": dt.datetime.now(dt.UTC).isoformat()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))  # last: a folder without it is not a snapshot
        for kept in path.glob(f"{EXTRA}*") if extras else ():
            kept.rename(tmp / kept.name)  # a process mapping one keeps reading it: the same file, moved
        if path.exists():
            old = path.with_name(f".{path.name}.old{os.getpid()}")
            path.rename(old)
            shutil.rmtree(old, ignore_errors=True)
        tmp.rename(path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    size = sum(f.stat().st_size for f in path.iterdir())
    logger.info("serving snapshot as of %s written to %s: %s MB in %.1fs", snap.as_of, path, f"{size / 1e6:,.0f}",
                time.perf_counter() - t0)
    return path


def read(path: Path, meta: dict | None = None) -> Snapshot:
    """The snapshot of ``path``, its columns and arrays mapped read-only (the lookups built in this process)."""
    t0 = time.perf_counter()
    meta = meta or json.loads((path / "meta.json").read_text())
    by_name = {f.name: f for f in families()}
    per_key = [FamilyRows(by_name[name], _map_frame(path / f"{name}.arrow"), _map_keys(path, name),
                       _map_frame(path / f"{name}.reach.arrow") if name in meta["reach"] else None)
               for name in meta["per_key"]]
    log = None
    if meta["log"]:
        arrays = {name: _map_array(path / f"log.{name}.npy") for name in LOG_ARRAYS}
        tracks = _map_frame(path / "log.tracks.arrow")["track_id"].to_arrow().cast(pa.large_string())
        log = PlayLog(arrays["play_id"], arrays["track"], tracks, arrays["outcome"], arrays["start"], arrays["prev"],
                      _map_frame(path / "log.first.arrow"), _map_ids(path, "log.listeners"),
                      (_map_array(path / "log.by_id.npy"), _map_array(path / "log.by_id_order.npy")))
    params = {k: (dt.datetime.fromisoformat(v["datetime"]) if isinstance(v, dict) else v) for k, v in meta["params"].items()}
    sets = {name: _map_ids(path, name) for name in ID_SETS}
    snap = Snapshot(dt.date.fromisoformat(meta["as_of"]), per_key, [by_name[n] for n in meta["per_row"]],
                    _map_frame(path / "tracks.arrow"), _map_frame(path / "habits.arrow"), _map_keys(path, "habits"),
                    sets["played_users"], sets["played_tracks"], sets["known_users"], sets["known_tracks"], params, log)
    snap.seconds = time.perf_counter() - t0
    logger.info("serving snapshot as of %s mapped from %s (%.2fs)", snap.as_of, path, snap.seconds)
    return snap


def _save_frame(frame: pl.DataFrame, path: Path) -> None:
    frame.rechunk().write_ipc(path, compression="uncompressed")  # compressed buffers could not be mapped


def _map_frame(path: Path) -> pl.DataFrame:
    """An IPC file as a frame whose buffers are the mapped file's pages (no copy: the table holds the map)."""
    return pl.from_arrow(pa.ipc.open_file(pa.memory_map(str(path))).read_all(), rechunk=False)


def _map_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r").view(np.ndarray)
    except ValueError:  # an empty array: nothing to map
        return np.load(path)


def _save_ids(ids: SortedIds, folder_: Path, name: str) -> None:
    _save_frame(ids.values.to_frame("id"), folder_ / f"{name}.arrow")
    np.save(folder_ / f"{name}.bytes.npy", ids.encoded)


def _map_ids(folder_: Path, name: str) -> SortedIds:
    return SortedIds(_map_frame(folder_ / f"{name}.arrow")["id"], _map_array(folder_ / f"{name}.bytes.npy"))


def _save_keys(keys: KeyIndex, folder_: Path, name: str) -> None:
    (folder_ / f"{name}.columns.json").write_text(json.dumps(list(keys.ids)))
    for i, ids in enumerate(keys.ids.values()):
        _save_ids(ids, folder_, f"{name}.key{i}")
    np.save(folder_ / f"{name}.rows.npy", keys.rows)
    np.save(folder_ / f"{name}.sorted.npy", keys.sorted)


def _map_keys(folder_: Path, name: str) -> KeyIndex:
    columns = json.loads((folder_ / f"{name}.columns.json").read_text())
    return KeyIndex.of({c: _map_ids(folder_, f"{name}.key{i}") for i, c in enumerate(columns)},
                       _map_array(folder_ / f"{name}.rows.npy"), _map_array(folder_ / f"{name}.sorted.npy"))


@contextlib.contextmanager
def _locked(cfg: Config) -> Iterator[None]:
    """One process at a time builds a snapshot folder on this machine (an exclusive flock)."""
    with exclusive(root(cfg) / ".lock"):
        yield


def _prune(cfg: Config, written: Path) -> None:
    """Remove the folders of nights older than the ``KEEP`` latest but the one just ``written`` (an older night
    run again), and the leftovers of interrupted writes."""
    folders = [p for p in root(cfg).iterdir() if p.is_dir()]
    nights = sorted({p.name.split(".")[0] for p in folders if not p.name.startswith(".")}, reverse=True)
    for p in folders:
        if p != written and (p.name.startswith(".") or p.name.split(".")[0] not in nights[:KEEP]):
            shutil.rmtree(p, ignore_errors=True)
