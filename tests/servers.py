"""Start a real server process on a free loopback port and wait until it answers (app and API tests)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(cmd: list[str], env: dict, health: str, expect: bytes | None = None, timeout_s: float = 90) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` until the ``health`` URL answers 200 (with body ``expect`` when given); stop it after,
    and fail if a process it started outlives it."""
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server never blocks on a full pipe
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + timeout_s
    try:
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    if resp.status == 200 and (expect is None or resp.read() == expect):
                        break
            except OSError:
                pass
            if proc.poll() is not None:
                log.seek(0)
                raise AssertionError(f"{cmd[0]} exited: {log.read()[-3000:]}")
            assert time.time() < deadline, f"{' '.join(cmd)} did not answer {health} within {timeout_s}s"
            time.sleep(0.3)
        yield proc
    finally:
        children = psutil.Process(proc.pid).children(recursive=True) if proc.poll() is None else []
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        _, alive = psutil.wait_procs(children, timeout=10)
        for child in alive:
            child.kill()
        log.close()
    assert not alive, f"stopping {cmd[0]} left {[c.pid for c in alive]} running"
