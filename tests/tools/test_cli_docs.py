"""docs/cli.md documents every option of every command and invents none (tools/cli_docs.py)."""

import re
import subprocess
import sys

from support.paths import REPO

TOOL = REPO / "tools" / "cli_docs.py"


def _check(doc) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(TOOL), "--doc", str(doc)], capture_output=True, text=True, timeout=120, cwd=REPO
    )


def test_every_option_of_every_command_is_in_docs_cli_md_and_none_is_invented():
    proc = _check(REPO / "docs" / "cli.md")
    assert proc.returncode == 0, proc.stderr


def test_a_missing_or_invented_option_and_a_missing_command_are_caught(tmp_path):
    text = (REPO / "docs" / "cli.md").read_text()
    row = re.search(r"^\| `--calib-seed[^\n]*\n", text, re.M).group(0)
    for changed in (text.replace(row, ""), text.replace(row, row + "| `--made-up N` | an option no command has |\n")):
        doc = tmp_path / "cli.md"
        doc.write_text(changed)
        proc = _check(doc)
        assert proc.returncode == 1 and "differ from the commands" in proc.stderr
    doc.write_text(text.replace("<!-- options: alexnet-bench -->", "<!-- gone -->"))
    proc = _check(doc)
    assert proc.returncode == 2 and "no option table for alexnet-bench" in proc.stderr
