"""docs/cli.md's alexnet-drift section: its first example runs as written from the repository root, and it
states no figure count the gate does not print (the gate prints "N of N figures"; N comes from the baseline)."""

import json
import os
import re
import shlex

import pytest
from click.testing import CliRunner
from support.paths import REPO

from alexnet_edge.export.cli.drift import alexnet_drift
from alexnet_edge.export.drift import gate as drift


def _drift_section() -> str:
    text = (REPO / "docs" / "cli.md").read_text(encoding="utf-8")
    start = text.index("## `alexnet-drift`")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def _first_example() -> tuple[dict[str, str], list[str]]:
    """The environment and arguments of the section's first ``alexnet-drift`` command line."""
    block = re.search(r"```(?:sh|bash|console)\n(.*?)```", _drift_section(), re.S).group(1)
    env: dict[str, str] = {}
    for line in block.splitlines():
        words = shlex.split(line, comments=True)
        if words[:1] == ["export"]:
            env.update(word.split("=", 1) for word in words[1:])
            continue
        while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
            env.update([words.pop(0).split("=", 1)])
        if words[:1] == ["alexnet-drift"]:
            return env, words[1:]
    raise AssertionError("docs/cli.md's alexnet-drift section shows no alexnet-drift command")


def test_first_drift_example_runs_from_the_repository_root(monkeypatch):
    if not (REPO.parent / "shared").is_dir():
        pytest.skip("the examples use this checkout's ../shared")
    env, args = _first_example()
    asked = []

    def check(request, log=None):
        asked.append(request)
        return drift.GateResult(request.baseline_path, [], [])

    monkeypatch.setattr(drift, "check", check)
    monkeypatch.delenv("ALEXNET_EDGE_DATA", raising=False)
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(alexnet_drift, args, env=env)
    assert result.exit_code == 0, result.output
    (request,) = asked
    assert os.path.isfile(request.checkpoint) and (request.data_root / "cifar-10-batches-py" / "test_batch").is_file()


def test_no_figure_count_the_gate_does_not_print():
    figures = len(json.loads(drift.DEFAULT_BASELINE.read_text())["figures"])
    stated = [int(n) for n in re.findall(r"\b(\d+) figures\b", _drift_section())]
    assert all(n == figures for n in stated), f"docs/cli.md states {stated} figures; the baseline has {figures}"
