"""The three top-level folders install under one namespace, from a built wheel as well as editable."""

import os
import subprocess
import sys
import sysconfig
import zipfile

import pytest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The project built as a wheel, once for this module."""
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), "."],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    (built,) = out.glob("alexnet_edge-*.whl")
    return built


def test_wheel_holds_the_namespace_and_imports(wheel, tmp_path):
    names = zipfile.ZipFile(wheel).namelist()
    for module in (
        "alexnet_edge/export/pipeline/run.py",
        "alexnet_edge/runtime/backends/tensorrt/runner.py",
        "alexnet_edge/calibration/cifar10.py",
    ):
        assert module in names
    assert not [n for n in names if n.startswith(("export/", "runtime/", "calibration/", "tests/"))]
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for script in ("export-alexnet", "alexnet-inspect", "alexnet-infer", "alexnet-drift"):
        assert script in entry_points
    # Install = unpack; import from there alone: no site processing, so the editable finder is absent.
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    site = sysconfig.get_paths()["purelib"]
    code = (
        f"import sys; sys.path[:0] = [{str(target)!r}, {site!r}]; import alexnet_edge.runtime as r, "
        "alexnet_edge.calibration.cifar10, alexnet_edge.export.model.architecture; print(r.__file__)"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == str(target / "alexnet_edge" / "runtime" / "__init__.py")


def test_drift_gate_runs_from_the_wheel_outside_the_repository(wheel, tmp_path):
    """The packaged baseline is found from an unpacked wheel; in an empty folder the gate reads it,
    then stops in one line at the first missing input: no --checkpoint and no ALEXNET_EDGE_DATA (no
    default points into this repository's ../shared)."""
    assert "alexnet_edge/export/drift/baselines/reference_cpu.json" in zipfile.ZipFile(wheel).namelist()
    target, empty = tmp_path / "site", tmp_path / "empty"
    zipfile.ZipFile(wheel).extractall(target)
    empty.mkdir()
    site = sysconfig.get_paths()["purelib"]
    code = (
        f"import sys; sys.path[:0] = [{str(target)!r}, {site!r}]; "
        "from alexnet_edge.export.drift.gate import DEFAULT_BASELINE; print(DEFAULT_BASELINE); "
        "from alexnet_edge.export.cli.drift import alexnet_drift; alexnet_drift([])"
    )
    env = {k: v for k, v in os.environ.items() if k != "ALEXNET_EDGE_DATA"}
    proc = subprocess.run(
        [sys.executable, "-S", "-c", code], capture_output=True, text=True, timeout=300, cwd=empty, env=env
    )
    assert proc.stdout.splitlines()[0] == str(
        target / "alexnet_edge" / "export" / "drift" / "baselines" / "reference_cpu.json"
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "error: no --checkpoint: pass --checkpoint PATH (a state_dict .pt), "
        "or set ALEXNET_EDGE_DATA to a folder holding reference/alexnet_cifar10.pt"
    )
