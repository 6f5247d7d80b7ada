"""README is the front door: short, and every command it shows runs as written from the repository root."""

import re
import shlex
import sys
from pathlib import Path

import click
import pytest
from support.paths import REPO

sys.path.insert(0, str(REPO / "tools"))
from cli_docs import commands, option_names  # noqa: E402 - tools/ is not a package

README = REPO / "README.md"


def _command_lines() -> list[list[str]]:
    """The command lines of README's ``sh`` blocks (comments dropped, one command per line)."""
    text = README.read_text(encoding="utf-8")
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if words:
                lines.append(words)
    return lines


def test_readme_is_a_front_door_of_at_most_150_lines():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 150


def test_make_targets_readme_shows_exist():
    targets = set(re.findall(r"^([a-z][\w-]*):", (REPO / "Makefile").read_text(), re.M))
    shown = [w[1] for w in _command_lines() if w[0] == "make"]
    assert shown and set(shown) <= targets, set(shown) - targets


def test_every_command_readme_shows_takes_those_options_and_finds_its_files(monkeypatch):
    """Each ``.venv/bin/<command>`` line: every option exists; where it names only files a clean checkout
    has (../shared, no artifacts/ from make demo), the command's own parser accepts the whole line."""
    if not (REPO.parent / "shared").is_dir():
        pytest.skip("README's examples use this checkout's ../shared")
    monkeypatch.chdir(REPO)
    found = commands()
    ours = [w for w in _command_lines() if w[0].startswith(".venv/bin/") and Path(w[0]).name in found]
    assert len(ours) >= 4
    for words in ours:
        name, args = Path(words[0]).name, words[1:]
        command = found[name]
        unknown = {a.split("=")[0] for a in args if a.startswith("--")} - set(option_names(command))
        assert not unknown, f"README: {name} has no option {unknown}"
        if not any(a.startswith("artifacts/") for a in args):
            try:
                command.make_context(name, list(args))
            except click.ClickException as exc:
                pytest.fail(f"README: `{shlex.join(words)}` does not parse: {exc.format_message()}")


def test_the_option_check_can_fail():
    command = click.Command("x", params=[click.Option(["--real"])])
    assert "--fake" not in option_names(command) and "--real" in option_names(command)
