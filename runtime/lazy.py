"""Deferred imports: a module that is named at the top of its importer but loaded on first use.

Polygraphy's ``mod.lazy_import`` idea, on the standard library's ``importlib.util.LazyLoader``. The
command-line modules name the pipeline, the drift gate and the cross-target judge this way, because
those pull in torch and onnx: ``--help`` stays fast, and a runtime-only install (no ``[export]``
extra) gets the one-line hint of ``cli_support`` instead of a traceback at start-up. Used only to
defer a heavy third-party import, never to break a cycle (tests/test_import_rules.py checks the
graph with these edges included).
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_import(name: str) -> ModuleType:
    """The module ``name``, executed when one of its attributes is first read.

    A module already imported is returned as it is. A module that does not exist raises
    ModuleNotFoundError here; one whose own imports fail (torch absent) raises on first use.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
