"""tools/venv_install.py: uv gets the index, find-links, certificate and constraints pip is configured with."""

from __future__ import annotations

import importlib.util
import sys

from skipify.config import REPO_ROOT

_spec = importlib.util.spec_from_file_location("venv_install", REPO_ROOT / "tools" / "venv_install.py")
venv_install = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(venv_install)


def test_pips_configuration_reaches_uv_the_environment_winning_over_the_file(tmp_path, monkeypatch):
    conf = tmp_path / "pip.conf"
    conf.write_text("[global]\nindex-url = https://mirror.example/simple\nextra-index-url = file:///a/simple file:///b/simple\n"
                    "find-links = /from/file\ncert = /etc/my-ca.pem\nconstraint = /etc/cap.txt\ntimeout = 90\n")
    for key in ("PIP_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_TIMEOUT", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))  # pip reads this file (and the environment) only
    monkeypatch.setenv("PIP_FIND_LINKS", "/opt/wheels /more/wheels")
    settings = venv_install.pip_settings(sys.executable)
    assert settings["find-links"] == "/opt/wheels /more/wheels"  # the variable, not the file's value
    assert settings["index-url"] == "https://mirror.example/simple"

    cmd, env = venv_install.uv_command("uv", "py", settings, ["torch==2.13.0", "-q", "-c", "constraints.txt", "-e", ".[test]"])
    assert cmd[:3] == ["uv", "pip", "install"] and cmd[cmd.index("--python") + 1] == "py"
    pairs = list(zip(cmd, cmd[1:]))
    assert ("--index-url", "https://mirror.example/simple") in pairs
    assert ("--extra-index-url", "file:///a/simple") in pairs and ("--extra-index-url", "file:///b/simple") in pairs
    assert ("--find-links", "/opt/wheels") in pairs and ("--find-links", "/more/wheels") in pairs
    assert ("--find-links", "/from/file") not in pairs
    assert ("-c", "/etc/cap.txt") in pairs and ("-c", "constraints.txt") in pairs  # pip's constraint file and ours
    assert ("--index-strategy", "unsafe-best-match") in pairs  # pip's: the best version from any index
    assert "--compile-bytecode" in cmd and "-q" in cmd
    assert cmd[-5:] == ["torch==2.13.0", "-c", "constraints.txt", "-e", ".[test]"]
    assert env["SSL_CERT_FILE"] == "/etc/my-ca.pem" and env["UV_HTTP_TIMEOUT"] == "90"


def test_without_configuration_uv_gets_its_defaults():
    cmd, env = venv_install.uv_command("uv", "py", {}, ["six"])
    assert not {"--index-url", "--extra-index-url", "--find-links", "-c", "-q"} & set(cmd) and cmd[-1] == "six"
