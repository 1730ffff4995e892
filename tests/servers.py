"""Start a real server process on a free loopback port and wait until it answers (app and API tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running(cmd: list[str], env: dict, health: str, expect: bytes | None = None, timeout_s: float = 90,
            file_limits: bool = False) -> Iterator[subprocess.Popen]:
    """Run ``cmd`` until the ``health`` URL answers 200 (with body ``expect`` when given); stop it after,
    and fail if a process it started outlives it.

    ``file_limits``: the test may bound the size of the files the process writes (resource.prlimit with
    RLIMIT_FSIZE), as on a full disk a write then fails part way (EFBIG: SIGXFSZ is ignored); its output
    is dropped (the bound would stop a log file's writes too)."""
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: a chatty server never blocks on a full pipe
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL if file_limits else log, stderr=subprocess.STDOUT, text=True,
                            env=env, preexec_fn=(lambda: signal.signal(signal.SIGXFSZ, signal.SIG_IGN)) if file_limits else None)
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


# --- the remote warehouse's engines: PostgreSQL (the catalog) and an S3-compatible server (the data) ---

REPO = Path(__file__).resolve().parents[1]
S3_SERVER = Path(os.environ.get("SKIPIFY_TEST_S3_SERVER", REPO / ".venv-s3" / "bin" / "moto_server"))


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not found:
        raise AssertionError("PostgreSQL is not installed (Debian: apt-get install postgresql); the remote warehouse tests need it")
    return found[-1].parent


class Postgres:
    """A PostgreSQL server of its own in a temporary folder (initdb, pg_ctl), on a free loopback port.

    PostgreSQL refuses to run as root: as root (CI) it runs as the ``postgres`` user, which Debian's
    package creates. ``stop`` and ``start`` let a test take it away mid-run."""

    def __init__(self):
        self.bin = _pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="skipify-pg-"))
        self.port = free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres", "postgres")
        self._run("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self.start()

    def _run(self, tool: str, *args: str) -> None:
        out = subprocess.run([*self.as_user, str(self.bin / tool), *args], capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise AssertionError(f"{tool} failed: {out.stdout[-2000:]}{out.stderr[-2000:]}")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "log"), "-w", "start",
                  "-o", f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")

    def create_database(self, name: str) -> str:
        """A new database; returns its URL (what SKIPIFY_WAREHOUSE_CATALOG takes)."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def close(self) -> None:
        with contextlib.suppress(AssertionError):
            self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class S3:
    """An S3-compatible server (moto, installed by `make test` into .venv-s3: its dependencies do not fit
    beside Airflow's) on a free loopback port."""

    def __init__(self):
        if not S3_SERVER.exists():
            raise AssertionError(f"{S3_SERVER} is missing: `make test` installs the S3 server (moto) into .venv-s3")
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen([str(S3_SERVER), "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(self.endpoint, timeout=2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    self.log.seek(0)
                    raise AssertionError(f"the S3 server did not start: {self.log.read()[-2000:]}") from None
                time.sleep(0.2)

    def create_bucket(self, name: str) -> str:
        request = urllib.request.Request(f"{self.endpoint}/{name}", method="PUT")
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert resp.status == 200
        return f"s3://{name}/"

    def env(self) -> dict[str, str]:
        """The environment a process needs to reach it."""
        return {"AWS_ACCESS_KEY_ID": "skipify", "AWS_SECRET_ACCESS_KEY": "skipify", "AWS_REGION": "us-east-1",
                "AWS_ENDPOINT_URL": self.endpoint}

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
