"""The architecture rules of issue #26, read from the source: no cycle between our modules, no
function-local import of our own modules (function-local imports only defer heavy third-party
modules: torch, onnx, openvino, tensorrt, matplotlib), and no runner asked by getattr what it can do."""

from __future__ import annotations

import ast
from pathlib import Path

from support.paths import REPO

PACKAGES = {
    "export": "alexnet_edge.export",
    "runtime": "alexnet_edge.runtime",
    "calibration": "alexnet_edge.calibration",
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = [PACKAGES[rel.parts[0]], *rel.parts[1:]]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _own_imports(node: ast.AST, modules: set[str]) -> set[str]:
    """The modules of ours an import statement loads (``from pkg import mod`` counts as ``pkg.mod``)."""
    found = set()
    if isinstance(node, ast.Import):
        found |= {a.name for a in node.names if a.name.startswith("alexnet_edge")}
    elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("alexnet_edge"):
        found.add(node.module)
        found |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules}
    return {m for m in found if m in modules}


def _function_local_imports(tree: ast.AST, modules: set[str]) -> list[tuple[int, str]]:
    offences = []
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                offences += [(node.lineno, name) for name in _own_imports(node, modules)]
    return offences


def _is_type_checking(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _runtime_nodes(tree: ast.AST):
    """Every node that runs on import or call: ``if TYPE_CHECKING:`` blocks are for type checkers only."""
    todo = [tree]
    while todo:
        node = todo.pop()
        yield node
        todo += [child for child in ast.iter_child_nodes(node) if not _is_type_checking(child)]


def _lazy_imports(node: ast.AST, modules: set[str]) -> set[str]:
    """``lazy_import("alexnet_edge.x")`` (runtime/lazy.py) is an import too, only a deferred one."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "lazy_import":
        names = {a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        return names & modules
    return set()


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    modules = set(sources)
    graph = {}
    for name, path in sources.items():
        edges = set()
        for node in _runtime_nodes(ast.parse(path.read_text())):
            edges |= _own_imports(node, modules) | _lazy_imports(node, modules)
        graph[name] = edges - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each a cycle of imports."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_function_local_import_of_our_own_modules():
    sources = _sources()
    modules = set(sources)
    offences = [
        f"{path.relative_to(REPO)}:{line} imports {name}"
        for path in sources.values()
        for line, name in _function_local_imports(ast.parse(path.read_text()), modules)
    ]
    assert not offences, "\n".join(offences)


def test_no_import_cycle_between_our_modules():
    cycles = _cycles(_graph())
    assert not cycles, cycles


def test_the_checks_see_a_cycle_and_a_local_import():
    """The two checks above can fail: a planted cycle and a planted function-local import are found."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    lazy = ast.parse(
        'x = lazy_import("alexnet_edge.runtime.errors")\nif TYPE_CHECKING:\n    import alexnet_edge.runtime\n'
    )
    seen = set().union(*(_lazy_imports(n, {"alexnet_edge.runtime.errors"}) for n in _runtime_nodes(lazy)))
    assert seen == {"alexnet_edge.runtime.errors"}
    assert not any(_own_imports(n, {"alexnet_edge.runtime"}) for n in _runtime_nodes(lazy))
    tree = ast.parse("def f():\n    from alexnet_edge.runtime import errors\n")
    found = sorted(_function_local_imports(tree, {"alexnet_edge.runtime.errors", "alexnet_edge.runtime"}))
    assert found == [(2, "alexnet_edge.runtime"), (2, "alexnet_edge.runtime.errors")]


def _runner_probes(tree: ast.AST) -> list[int]:
    """Lines that ask a runner by ``getattr``/``hasattr`` what it can do instead of its declared interface."""
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) in ("getattr", "hasattr")
        and node.args
        and "runner" in ast.unparse(node.args[0]).lower()
    ]


def test_no_runner_is_probed_with_getattr():
    """Callers ask BaseRunner's declared attributes or the backend registry's capabilities (issue #26)."""
    offences = [
        f"{path.relative_to(REPO)}:{line}"
        for path in _sources().values()
        for line in _runner_probes(ast.parse(path.read_text()))
    ]
    assert not offences, offences
    assert _runner_probes(ast.parse("x = getattr(runner, 'device_latency_ms', None)")) == [1]
