"""Helpers shared by the benchmarks: run one stage in its own process and read its peak memory."""

from __future__ import annotations

import json
import resource
import subprocess
import sys


def peak_mb() -> float:
    """This process's max RSS in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_stage(script: str, args: list[str], env: dict) -> dict:
    """Run ``script --stage ...`` in a fresh process; its last stdout line is its figures as JSON."""
    proc = subprocess.run([sys.executable, script, *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"stage {args} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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
