"""The Makefile: ``make demo`` installs what the demo needs (not the test tools), ``make test`` adds them, and
setuptools' "Editable installation." warning block is filtered out of pip's output (and only it)."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from support.paths import REPO

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(target: str, tmp_path) -> str:
    """What ``make -n TARGET`` would run for a fresh venv (nothing is run)."""
    done = subprocess.run(
        ["make", "-n", "-C", str(REPO), target, f"VENV={tmp_path / 'venv'}"], capture_output=True, text=True, check=True
    )
    return done.stdout


def _installed_extras(commands: str) -> list[set[str]]:
    return [set(extras.split(",")) for extras in re.findall(r"-e '\.\[([^\]]*)\]'", commands)]


def test_demo_installs_no_test_extras(tmp_path):
    installs = _installed_extras(_dry_run("demo", tmp_path))
    assert installs and all("test" not in extras and "export" in extras for extras in installs)


def test_test_installs_the_test_extras(tmp_path):
    assert any("test" in extras for extras in _installed_extras(_dry_run("test", tmp_path)))


def _warnings_filter(commands: str) -> str | None:
    found = re.search(r'PYTHONWARNINGS="([^"]*)"[^\n]*pip install[^\n]*-e', commands)
    return found.group(1) if found else None


def _emit_editable_warning(env: dict) -> str:
    code = "from setuptools.warnings import InformationOnly; InformationOnly.emit('Editable installation.', 'details')"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True).stderr


def test_setuptools_editable_warning_is_filtered_and_only_it(tmp_path):
    pytest.importorskip("setuptools")
    spec = _warnings_filter(_dry_run("demo", tmp_path))
    assert spec is not None, "the editable install runs without a warnings filter"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    assert "Editable installation" in _emit_editable_warning(env)  # what pip would show
    assert _emit_editable_warning({**env, "PYTHONWARNINGS": spec}) == ""
    other = subprocess.run(
        [sys.executable, "-c", "import warnings; warnings.warn('another warning')"],
        env={**env, "PYTHONWARNINGS": spec},
        capture_output=True,
        text=True,
    )
    assert "another warning" in other.stderr
