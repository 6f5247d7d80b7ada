"""The import rules between the packages, read from the source: runtime is what ships to the edge."""

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "runtime": ("alexnet_edge.export", "alexnet_edge.calibration", "torch"),
    "calibration": ("alexnet_edge.export", "torch"),
}


def _imports(path: Path) -> set[str]:
    names = set()
    # The package holding the file, as imported: export/x.py is in alexnet_edge.export.
    holder = ["alexnet_edge", *path.relative_to(REPO).parts[:-1]]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: level 1 is the holder itself, each further dot one package up
                base = ".".join(holder[: len(holder) - node.level + 1])
                names.add(f"{base}.{node.module}" if node.module else base)
            else:
                names.add(node.module or "")
    return names


def test_relative_imports_resolve_to_the_right_package(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "REPO", tmp_path)
    (tmp_path / "runtime" / "backends").mkdir(parents=True)
    source = tmp_path / "runtime" / "backends" / "x.py"
    source.write_text("from ..errors import A\nfrom ...export import model\nimport torch\n")
    assert _imports(source) == {"alexnet_edge.runtime.errors", "alexnet_edge.export", "torch"}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_stay_within_their_layer(package):
    offences = []
    for path in sorted((REPO / package).rglob("*.py")):
        for name in _imports(path):
            if any(name == bad or name.startswith(bad + ".") for bad in FORBIDDEN[package]):
                offences.append(f"{path.relative_to(REPO)} imports {name}")
    assert not offences, offences
