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
