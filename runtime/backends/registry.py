"""The backends, one ``BackendSpec`` each: what a backend is called, which runner class runs it (imported
only when a runner is made), what to install, which options it takes and what it can do.

Every choice of a backend goes through this registry: the runner factory (``open_runner``), the CLIs'
``--backend``/``--backends`` and ``--backend-option NAME.OPTION=VALUE``, the pipeline's host rows, the
bundle's ``verify.py``, ``alexnet-targets --host-backend`` and the benchmark's device timings. A new
backend is one ``register(BackendSpec(...))``: a test registers a fake one from its own file.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path
from typing import TYPE_CHECKING

from alexnet_edge.runtime import install_hints
from alexnet_edge.runtime.errors import BackendOptionError, BackendUnavailableError, UnknownBackendError
from alexnet_edge.runtime.precision import PrecisionKey

if TYPE_CHECKING:
    from alexnet_edge.runtime.backends.base import BaseRunner

# What pyproject.toml and the bundle require: 1.21.1, not 1.21.0, whose aarch64 wheel dies with SIGILL on
# ARMv8.0 cores such as the Raspberry Pi 4's Cortex-A72 (onnxruntime #23957; measured here under
# qemu -cpu cortex-a72, while 1.21.1 runs there).
ONNXRUNTIME_MIN = "1.21.1"


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do, asked by callers instead of probing a runner's attributes.

    ``min_batch``/``max_batch`` bound one ``infer`` call for every model the backend runs (None: 1 /
    no limit; equal: a fixed batch); a runner's own ``min_batch``/``max_batch`` (an engine's profile)
    may narrow them further.
    """

    precisions: frozenset[str] | None = None  # the model precisions it runs, by name; None: every one
    min_batch: int | None = None
    max_batch: int | None = None
    device_timing: bool = False  # ``runner.device_latency_ms`` times the device alone, without copies
    host_cpu: bool = False  # runs an ONNX model on the host's CPU: a report row and a targets host backend

    @property
    def fixed_batch(self) -> int | None:
        """The one batch size it takes, where min and max agree."""
        return self.min_batch if self.min_batch is not None and self.min_batch == self.max_batch else None

    def runs(self, precision) -> bool:
        """Whether it runs a model of ``precision`` (a ``Precision`` or a registered precision's name)."""
        return self.precisions is None or precision.value in self.precisions


@dataclass(frozen=True)
class BackendOption:
    """One typed setting of a backend, given as ``BACKEND.NAME=VALUE``; ``argument`` is the runner's keyword."""

    name: str
    argument: str
    type: Callable[[str], object] = str
    choices: tuple[str, ...] = ()

    def parse(self, backend: str, text: str) -> object:
        """``text`` as this option's type; a value outside ``choices`` or its type is refused in one line."""
        key = f"{backend}.{self.name}"
        if self.choices and text not in self.choices:
            raise BackendOptionError(f"{key}={text!r}: choose {', '.join(self.choices)}", key=key, value=text)
        try:
            return self.type(text)
        except (TypeError, ValueError) as exc:
            raise BackendOptionError(f"{key}={text!r}: {exc}", key=key, value=text) from None


@dataclass(frozen=True)
class BackendSpec:
    name: str
    module: str  # the runner's module, imported when a runner is made
    runner: str  # the runner class's name in ``module``
    requires: tuple[str, ...]  # import names that must be installed (found without importing them)
    install: str  # how to install it from a checkout (pip line)
    bundled_install: str = ""  # the same inside a deployment bundle ("": the bundle's requirements files)
    extra: str | None = None  # pyproject.toml's extra for it
    options: tuple[BackendOption, ...] = ()
    capabilities: Capabilities = field(default_factory=Capabilities)
    suffixes: tuple[str, ...] = ()  # model files it opens when no backend is named
    model_kind: str = "onnx"  # what it runs: "onnx" models, or "engine"s of its own built from them
    takes_model_precision: bool = False  # the runner's ``precision=`` gets the model's Precision

    def runner_class(self) -> type[BaseRunner]:
        return getattr(importlib.import_module(self.module), self.runner)

    def installed(self) -> bool:
        """Whether every module it needs is importable here, without importing any."""
        return all(_findable(module) for module in self.requires)

    def install_hint(self, *, bundled: bool | None = None) -> str:
        """One clause to follow "is not installed: "."""
        return install_hints.hint(self.install, self.extra, bundled_text=self.bundled_install, bundled=bundled)

    def option(self, name: str) -> BackendOption:
        for option in self.options:
            if option.name == name:
                return option
        known = ", ".join(f"{self.name}.{o.name}" for o in self.options) or "none"
        raise BackendOptionError(f"{self.name} has no option {name!r}; its options: {known}", key=name, value=None)

    def open(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        precision: PrecisionKey | None = None,
        options: BackendOptions | None = None,
    ) -> BaseRunner:
        """A runner for ``path`` (not activated); ``options``' values for this backend become its keywords."""
        kwargs = (options or BackendOptions()).for_backend(self.name)
        if self.takes_model_precision:
            kwargs["precision"] = precision
        return self.runner_class()(Path(path), name=name, **kwargs)


def _findable(module: str) -> bool:
    try:
        return find_spec(module) is not None
    except (ImportError, ValueError):  # a parent package missing, or a module with no spec (a test's fake)
        return False


_REGISTRY: dict[str, BackendSpec] = {}


def register(spec: BackendSpec) -> BackendSpec:
    """Add ``spec``; a name already registered is refused (``unregister`` it first)."""
    if spec.name in _REGISTRY:
        raise ValueError(f"backend {spec.name!r} is already registered")
    _REGISTRY[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    _REGISTRY.pop(name, None)


@contextmanager
def registered_backend(spec: BackendSpec) -> Iterator[BackendSpec]:
    """``spec`` registered for the with-block, and unregistered after it (a plug-in's test)."""
    register(spec)
    try:
        yield spec
    finally:
        unregister(spec.name)


def names() -> list[str]:
    """Every registered backend, in registration order."""
    return list(_REGISTRY)


def backend_spec(name: str) -> BackendSpec:
    try:
        return _REGISTRY[name]
    except KeyError:
        choices = tuple(_REGISTRY)
        raise UnknownBackendError(
            f"unknown backend {name!r}; choose {', '.join(choices)}", name=name, choices=choices
        ) from None


def host_backends(*, installed: bool = False) -> list[str]:
    """The backends that run an ONNX model on the host's CPU (``installed``: only those installed here)."""
    return [s.name for s in _REGISTRY.values() if s.capabilities.host_cpu and (s.installed() if installed else True)]


def describe_options() -> str:
    """Every registered backend option for a help text, e.g. "openvino.precision (f32|bf16)"."""
    return ", ".join(
        f"{spec.name}.{o.name}" + (f" ({'|'.join(o.choices)})" if o.choices else "")
        for spec in _REGISTRY.values()
        for o in spec.options
    )


def capabilities_of(runner: BaseRunner) -> Capabilities:
    """A runner's backend's capabilities; a runner outside the registry (PyTorch's reference) has the defaults."""
    spec = _REGISTRY.get(runner.backend)
    return spec.capabilities if spec is not None else Capabilities()


def spec_for_file(path: str | Path) -> BackendSpec:
    """The backend that opens ``path`` when none is named: by suffix, else onnxruntime."""
    suffix = Path(path).suffix
    return next((s for s in _REGISTRY.values() if suffix in s.suffixes), _REGISTRY["onnxruntime"])


def open_runner(
    path: str | Path,
    backend: str | None = None,
    *,
    name: str | None = None,
    precision: PrecisionKey | None = None,
    options: BackendOptions | None = None,
) -> BaseRunner:
    """The one runner factory: ``backend`` by name, or None to choose by the file's suffix. Not activated yet.
    ``precision``: the model's, where the caller knows it; ``options``: typed backend options."""
    spec = backend_spec(backend) if backend is not None else spec_for_file(path)
    return spec.open(path, name=name, precision=precision, options=options)


def check_host_backends(chosen: Iterable[str]) -> None:
    """Refuse an unknown, non-host or uninstalled backend for the ONNX rows before any work is done."""
    chosen, hosts = list(chosen), tuple(host_backends())
    wrong = [n for n in chosen if n not in hosts]
    if wrong or not chosen:
        shown = ", ".join(wrong) or "(none given)"
        raise UnknownBackendError(
            f"unknown CPU backend(s) {shown}; choose from {', '.join(hosts)}", name=shown, choices=hosts
        )
    for name in chosen:
        spec = backend_spec(name)
        if not spec.installed():
            raise BackendUnavailableError(f"{name} not installed: {spec.install_hint()}")


class BackendOptions(Mapping[str, object]):
    """Typed backend options keyed "backend.option" (``--backend-option openvino.precision=bf16``),
    each checked against its backend's spec when given, before any work."""

    def __init__(self, values: Mapping[str, object] | None = None):
        self._values = dict(values or {})

    @classmethod
    def parse(cls, items: Iterable[str]) -> BackendOptions:
        """From "BACKEND.OPTION=VALUE" strings; a later one for the same key wins."""
        options = cls()
        for item in items:
            key, sep, text = item.partition("=")
            if not sep:
                raise BackendOptionError(f"{item!r}: write BACKEND.OPTION=VALUE", key=item, value=None)
            options = options.with_value(key.strip(), text.strip())
        return options

    def with_value(self, key: str, text: str) -> BackendOptions:
        """A copy with ``key`` ("backend.option") set from ``text`` (parsed by the option's type)."""
        backend, _, option = key.partition(".")
        value = backend_spec(backend).option(option).parse(backend, text)
        return BackendOptions({**self._values, key: value})

    def for_backend(self, backend: str) -> dict[str, object]:
        """The runner keywords of ``backend``'s options that were given."""
        spec = _REGISTRY.get(backend)
        prefix = f"{backend}."
        given = {k.removeprefix(prefix): v for k, v in self._values.items() if k.startswith(prefix)}
        return {spec.option(k).argument: v for k, v in given.items()} if spec is not None else {}

    def __getitem__(self, key: str) -> object:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"BackendOptions({self._values!r})"


def _threads(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError("needs a positive whole number")
    return value


register(
    BackendSpec(
        name="onnxruntime",
        module="alexnet_edge.runtime.backends.onnxruntime.runner",
        runner="OnnxRuntimeRunner",
        requires=("onnxruntime",),
        install=f"pip install 'onnxruntime>={ONNXRUNTIME_MIN}' (or onnxruntime-gpu on a CUDA machine)",
        bundled_install="pip install -r requirements.txt (CPU) or the requirements-*.txt for your GPU, "
        "in this bundle's folder",
        extra="cpu",
        options=(
            BackendOption("providers", "providers"),  # comma-separated, e.g. cpu or cuda [default: best available]
            BackendOption("threads", "threads", _threads),  # intra-op threads [default: the CPUs of this process]
        ),
        capabilities=Capabilities(host_cpu=True),
        suffixes=(".onnx",),
        takes_model_precision=True,
    )
)
register(
    BackendSpec(
        name="openvino",
        module="alexnet_edge.runtime.backends.openvino.runner",
        runner="OpenVINORunner",
        requires=("openvino",),
        install="pip install openvino",
        bundled_install="pip install openvino (none of this bundle's requirement files names it)",
        extra="openvino",
        options=(
            # INFERENCE_PRECISION_HINT: f32 by default; bf16 (OpenVINO's own default on bf16 CPUs) only on request
            BackendOption("precision", "inference_precision", choices=("f32", "bf16")),
            BackendOption("threads", "threads", _threads),  # inference threads [default: the CPUs of this process]
        ),
        capabilities=Capabilities(host_cpu=True),
    )
)
register(
    BackendSpec(
        name="tensorrt",
        module="alexnet_edge.runtime.backends.tensorrt.runner",
        runner="TensorRTRunner",
        requires=("tensorrt",),
        install="pip install 'tensorrt-cu12>=10.9,<11' 'cuda-python>=12.3,<13' on x86-64 with a CUDA 12 "
        "driver; on Jetson it comes with JetPack (python3-libnvinfer)",
        bundled_install="pip install -r the requirements-*.txt of this bundle that matches your GPU (README.md); "
        "on Jetson TensorRT comes with JetPack (python3-libnvinfer)",
        extra="gpu",
        capabilities=Capabilities(device_timing=True),
        suffixes=(".engine", ".plan", ".trt"),
        model_kind="engine",
    )
)
