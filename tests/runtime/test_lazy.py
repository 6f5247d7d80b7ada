"""runtime/lazy.py: a module named at the top of its importer runs only when first used."""

import subprocess
import sys

import pytest

from alexnet_edge.runtime.lazy import lazy_import


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_the_module_runs_on_first_use_not_on_lazy_import():
    proc = _run(
        "import sys\n"
        "from alexnet_edge.runtime.lazy import lazy_import, load\n"
        "gate = lazy_import('alexnet_edge.export.drift.gate')\n"
        "print('torch' in sys.modules)\n"
        "load(gate)\n"
        "print('torch' in sys.modules, hasattr(gate, 'GateRequest'))\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "True", "True"]


def test_a_missing_dependency_raises_when_loaded_and_a_missing_module_at_once():
    proc = _run(
        "import sys; sys.modules['torch'] = None\n"
        "from alexnet_edge.runtime.lazy import lazy_import, load\n"
        "gate = lazy_import('alexnet_edge.export.drift.gate')\n"
        "try:\n    load(gate)\nexcept ImportError as exc:\n    print('ImportError', exc.name)\n"
    )
    assert proc.stdout.split() == ["ImportError", "torch"], proc.stderr
    with pytest.raises(ModuleNotFoundError):
        lazy_import("alexnet_edge.no_such_module")
