"""Install packages into a virtual environment with uv, the way pip would, else with pip.

    python3 tools/venv_install.py VENV [--first torch==2.13.0] -q -c constraints.txt -e '.[test]' ...

The arguments after VENV are pip's (requirements, ``-c``, ``-e``); ``--first REQ`` is a requirement
pip must install on its own before the rest (torch, whose CPU wheel an unpinned resolution would miss). uv (pinned in constraints.txt)
installs them in about 1.5 minutes on a fresh two-core machine where pip takes 3.5 (measured for this
project's environment on 2026-12-04, both compiling bytecode). uv does not read pip's configuration,
so the index, extra indexes, find-links, certificate bundle and constraint files pip is configured with
(``pip config list``: files and PIP_* variables) are passed to it; its index strategy is pip's (the best
version from any index). When uv cannot be installed or fails, pip installs the same arguments: the
result is the same environment either way. Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path


def pip_settings(python: str) -> dict[str, str]:
    """pip's effective settings (``pip config list``): an environment variable wins over the files, and
    an ``install.`` entry over a ``global.`` one."""
    out = subprocess.run([python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False).stdout
    rank = {"global": 0, "install": 1, ":env:": 2}
    found: dict[str, tuple[int, str]] = {}
    for line in out.splitlines():
        name, _, value = line.partition("=")
        scope, _, key = name.rpartition(".")
        if scope not in rank or not value:
            continue
        value = value.strip().strip("'\"")
        if key not in found or rank[scope] >= found[key][0]:
            found[key] = (rank[scope], value)
    return {k: v for k, (_, v) in found.items()}


def uv_command(uv: str, python: str, settings: dict[str, str], args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The ``uv pip install`` command line and environment that install ``args`` as pip would."""
    cmd = [uv, "pip", "install", "--python", python, "--index-strategy", "unsafe-best-match", "--compile-bytecode"]
    env = dict(os.environ)
    if settings.get("index-url"):
        cmd += ["--index-url", settings["index-url"]]
    for url in settings.get("extra-index-url", "").split():
        cmd += ["--extra-index-url", url]
    for link in settings.get("find-links", "").split():
        cmd += ["--find-links", link]
    for constraint in settings.get("constraint", "").split():
        cmd += ["-c", constraint]
    if settings.get("cert"):
        env["SSL_CERT_FILE"] = settings["cert"]
    if settings.get("timeout") or settings.get("default-timeout"):
        env.setdefault("UV_HTTP_TIMEOUT", settings.get("timeout") or settings["default-timeout"])
    if "-q" in args or "--quiet" in args:
        cmd.append("-q")
    return cmd + [a for a in args if a not in ("-q", "--quiet")], env


def install(venv: Path, args: list[str], first: list[str]) -> str:
    """Install ``first`` and ``args`` into ``venv`` with uv (one resolution), else pip (``first`` on its
    own, then ``args``). Returns which did."""
    python = str(venv / "bin" / "python")
    t0 = time.perf_counter()
    uv = venv / "bin" / "uv"
    constraints = [a for i, a in enumerate(args) if i and args[i - 1] == "-c"]
    get_uv = [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *(f"-c{c}" for c in constraints), "uv"]
    if uv.exists() or subprocess.run(get_uv, check=False).returncode == 0:
        cmd, env = uv_command(str(uv), python, pip_settings(python), first + args)
        if subprocess.run(cmd, env=env, check=False).returncode == 0:
            print(f"installed with uv in {time.perf_counter() - t0:.0f}s", flush=True)
            return "uv"
        print(f"uv failed ({shlex.join(cmd)}): installing with pip", file=sys.stderr, flush=True)
    quiet = [a for a in args if a in ("-q", "--quiet")]
    for reqs in ([*quiet, *first], args) if first else (args,):
        subprocess.run([python, "-m", "pip", "install", "--disable-pip-version-check", *reqs], check=True)
    print(f"installed with pip in {time.perf_counter() - t0:.0f}s", flush=True)
    return "pip"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    rest, first = sys.argv[2:], []
    while "--first" in rest:
        i = rest.index("--first")
        first.append(rest[i + 1])
        rest = rest[:i] + rest[i + 2 :]
    install(Path(sys.argv[1]), rest, first)
