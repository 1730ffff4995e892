"""Start a real server process on a free loopback port and wait until it answers (app and API tests)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(cmd: list[str], env: dict, health: str, expect: bytes | None = None, timeout_s: float = 90) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` until the ``health`` URL answers 200 (with body ``expect`` when given); stop it after."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    deadline = time.time() + timeout_s
    try:
        while True:
            try:
                with urllib.request.urlopen(health, timeout=2) as resp:
                    if resp.status == 200 and (expect is None or resp.read() == expect):
                        break
            except OSError:
                pass
            assert proc.poll() is None, f"{cmd[0]} exited: {proc.stdout.read()[-3000:]}"
            assert time.time() < deadline, f"{' '.join(cmd)} did not answer {health} within {timeout_s}s"
            time.sleep(0.3)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
