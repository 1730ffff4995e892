"""Helpers shared by the benchmarks: run one stage in its own process and read its peak memory."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
from pathlib import Path


def peak_mb() -> float:
    """This process's max RSS in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(script: str, args: list[str], env: dict, memory_limit_gib: float | None = None) -> dict:
    """Run ``script --stage ...`` in a fresh process; its last stdout line is its figures as JSON.

    ``memory_limit_gib``: the process runs in a memory cgroup of its own (cgroup v1, made under this process's) with
    that limit on everything it is charged for, its page cache included: past it the kernel drops clean pages
    (mapped files') and, when nothing more can go, kills it. The figures then hold ``cgroup_limit_mb`` and
    ``cgroup_peak_mb`` (the cgroup's max usage, the page cache it kept included)."""
    group = _memory_cgroup(memory_limit_gib) if memory_limit_gib else None

    def enter() -> None:
        if group is not None:
            (group / "cgroup.procs").write_text(str(os.getpid()))

    try:
        proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env, preexec_fn=enter)
        if proc.returncode != 0:
            killed = " (killed: past the memory limit?)" if proc.returncode < 0 else ""
            raise SystemExit(f"stage {args} failed{killed}:\n{proc.stderr[-3000:]}")
        figures = json.loads(proc.stdout.strip().splitlines()[-1])
        if group is not None:
            figures["cgroup_limit_mb"] = int((group / "memory.limit_in_bytes").read_text()) / 2**20
            figures["cgroup_peak_mb"] = int((group / "memory.max_usage_in_bytes").read_text()) / 2**20
        return figures
    finally:
        if group is not None:
            group.rmdir()


def _memory_cgroup(gib: float) -> Path:
    """A child of this process's memory cgroup (v1) limited to ``gib`` GiB."""
    line = next(x for x in Path("/proc/self/cgroup").read_text().splitlines() if x.split(":")[1] == "memory")
    group = Path("/sys/fs/cgroup/memory") / line.split(":", 2)[2].lstrip("/") / f"bench-{os.getpid()}"
    group.mkdir()
    (group / "memory.limit_in_bytes").write_text(str(int(gib * 2**30)))
    return group


class AnonymousPeak:
    """The most anonymous memory (RssAnon: not backed by a file) this process held, sampled every 50 ms in a
    thread: what it holds for itself, which max RSS mixes with the mapped files' pages it touched. ``tree``: the
    most that it and its child processes (the night's shard workers) held together, at the same moment (every 0.25 s)."""

    def __init__(self, tree: bool = False):
        self.peak_mb, self.tree = 0.0, tree
        self.every = 0.25 if tree else 0.05  # a tree's many threads are read each time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    def sample(self) -> None:
        pids = _descendants(os.getpid()) if self.tree else [os.getpid()]
        self.peak_mb = max(self.peak_mb, sum(_anonymous_mb(p) for p in pids))

    def __enter__(self) -> "AnonymousPeak":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def _anonymous_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    except OSError:  # gone meanwhile
        pass
    return 0.0


def _descendants(pid: int) -> list[int]:
    """``pid`` and every process under it (Linux: /proc/<pid>/task/<tid>/children)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            try:
                todo += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return out


def memory_mb(pid: int) -> dict[str, float]:
    """A process's memory in MiB from /proc/<pid>/smaps_rollup: ``rss`` (every page it touches, shared ones
    counted in each process), ``pss`` (shared pages split among the processes that map them: the sum over
    processes is what they take together), ``private`` (pages no other process maps) and ``anonymous``
    (memory not backed by a file: what a process holds for itself)."""
    fields = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f.read().splitlines()[1:]:
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) / 1024
    return {"rss": fields["Rss"], "pss": fields["Pss"], "private": fields["Private_Clean"] + fields["Private_Dirty"],
            "anonymous": fields["Anonymous"]}
