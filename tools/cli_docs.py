"""docs/cli.md's option tables, from the commands' own click options.

Every command's section in docs/cli.md holds a table between ``<!-- options: NAME -->`` and
``<!-- /options -->``; this tool writes those tables from the commands themselves, so the reference
documents every option and invents none (tests/tools/test_cli_docs.py checks the committed file).

    python tools/cli_docs.py           # exit 1 if docs/cli.md's tables differ from the commands
    python tools/cli_docs.py --write   # rewrite the tables in place
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path

import click
import tomllib

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "cli.md"
# The bundle's scripts are not console scripts: file name -> "module:function" (export/bundle/texts.py SCRIPTS).
BUNDLE_SCRIPTS = {
    "build_engines.py": "alexnet_edge.runtime.bundle_cli:build_engines_main",
    "verify.py": "alexnet_edge.runtime.bundle_cli:verify_main",
    "infer.py": "alexnet_edge.runtime.infer_cli:main",
}
BLOCK = re.compile(r"(<!-- options: (?P<name>[\w.-]+) -->\n)(?P<body>.*?)(<!-- /options -->)", re.S)


def commands() -> dict[str, click.Command]:
    """Every command a user runs: pyproject's console scripts, then the bundle's scripts."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    found = {}
    for name, target in [*scripts.items(), *BUNDLE_SCRIPTS.items()]:
        module, _, attr = target.partition(":")
        found[name] = getattr(importlib.import_module(module), attr)
    return found


def option_names(command: click.Command) -> list[str]:
    """The long spellings of every option, --help included (each option's first long name)."""
    names = []
    for param in command.params:
        if isinstance(param, click.Option):
            names += [o for o in [*param.opts, *param.secondary_opts] if o.startswith("--")]
    return names + ["--help"]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def table(command: click.Command) -> str:
    ctx = click.Context(command, info_name="x")
    rows = ["| option | what it does |", "|---|---|"]
    for param in command.get_params(ctx):
        record = param.get_help_record(ctx)
        if record is not None:
            rows.append(f"| `{_cell(record[0])}` | {_cell(record[1])} |")
    return "\n".join(rows) + "\n"


def render(text: str, found: dict[str, click.Command]) -> str:
    def replace(match: re.Match) -> str:
        name = match.group("name")
        if name not in found:
            raise SystemExit(f"error: docs/cli.md has a table for {name!r}, which is no command")
        return match.group(1) + table(found[name]) + match.group(4)

    return BLOCK.sub(replace, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="rewrite docs/cli.md's option tables in place")
    parser.add_argument("--doc", type=Path, default=DOC, help="the reference to check or write [default: docs/cli.md]")
    args = parser.parse_args(argv)
    found = commands()
    text = args.doc.read_text()
    missing = sorted(set(found) - {m.group("name") for m in BLOCK.finditer(text)})
    if missing:
        print(f"error: {args.doc} has no option table for {', '.join(missing)}", file=sys.stderr)
        return 2
    new = render(text, found)
    if args.write:
        args.doc.write_text(new)
        return 0
    if new != text:
        print(
            f"{args.doc}'s option tables differ from the commands: run python tools/cli_docs.py --write",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
