"""A fresh virtual environment holding only what a requirements file names (and their own
dependencies), made offline from the distributions installed here: a stand-in for
``pip install -r requirements.txt`` into a clean venv, without the network."""

from __future__ import annotations

import importlib.metadata as md
import re
import venv
from pathlib import Path

from packaging.requirements import Requirement


def _names(requirements: Path) -> list[str]:
    names = []
    for line in requirements.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate():
                names.append(req.name)
    return names


def _closure(names: list[str]) -> dict[str, md.Distribution]:
    found: dict[str, md.Distribution] = {}
    todo = list(names)
    while todo:
        name = re.sub(r"[-_.]+", "-", todo.pop()).lower()
        if name in found:
            continue
        dist = md.distribution(name)  # raises if not installed here
        found[name] = dist
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return found


def make_env(requirements: Path, target: Path) -> tuple[Path, list[str]]:
    """Create a venv at ``target`` exposing exactly the requirement closure. Returns (python, names)."""
    venv.create(target, with_pip=False, clear=True)
    python = target / "bin" / "python"
    site = next((target / "lib").glob("python3*/site-packages"))
    staging = target / "staged"
    staging.mkdir()
    dists = _closure(_names(requirements))
    for dist in dists.values():
        root = Path(dist.locate_file(""))
        for top in {Path(str(f)).parts[0] for f in dist.files or []}:
            src = root / top
            if src.exists() and not (staging / top).exists() and top != "..":
                (staging / top).symlink_to(src)
    (site / "staged.pth").write_text(str(staging) + "\n")
    return python, sorted(dists)
