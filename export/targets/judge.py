"""Cross-target fidelity: the shipped ONNX models on each CPU they ship to, judged against the host.

Every target is a CPU (the host natively; x86 AVX2 without VNNI, x86 SSE4.2 without AVX, aarch64
Cortex-A76 and Cortex-A72 under qemu-user) and an onnxruntime version (the host's, or another from a
cached venv: ``aarch64@1.23.2``). Each runs ``alexnet_edge.runtime.target_eval`` on the same seeded
sample of CIFAR-10 test images. The host then compares each target's logits with PyTorch FP32 on
the host (the precision's tolerance, flipped margins included) and with the host's own run of the
same model on its own onnxruntime (the cross-target bounds below). Emulation proves numerics, not
speed: its wall times say what the run cost, nothing about the target.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from alexnet_edge.calibration import cifar10
from alexnet_edge.export.pipeline import work_dirs
from alexnet_edge.export.targets import env as target_env
from alexnet_edge.export.targets.cpus import (
    Target,
    default_targets,
    host_onnxruntime,
    model_specs,
    prepare,
    refuse_too_old,
    target_models,
)
from alexnet_edge.export.targets.host_backend import run_on_host_backend
from alexnet_edge.export.targets.report import render_targets_md, write_results  # noqa: F401 - part of this API
from alexnet_edge.export.targets.runs import read_cpu, read_outputs, run_on
from alexnet_edge.runtime import fidelity
from alexnet_edge.runtime.backends.registry import BackendOptions, check_host_backends
from alexnet_edge.runtime.compare import accuracy, compare
from alexnet_edge.runtime.cpu_features import detect
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.evaluation import judge as judge_logits
from alexnet_edge.runtime.fileio import check_writable
from alexnet_edge.runtime.lazy import lazy_import
from alexnet_edge.runtime.precision import (
    Precision,
    PrecisionKey,
    default_target_images,
    precisions,
    tolerance_for,
)
from alexnet_edge.runtime.preprocess import normalize_uint8
from alexnet_edge.runtime.results import Result, TargetRun, unmeasured

logger = logging.getLogger(__name__)

# torch and onnx load when the reference is computed, not when alexnet-targets parses its options
alexnet_model = lazy_import("alexnet_edge.export.model.alexnet")
onnx_export = lazy_import("alexnet_edge.export.convert.onnx_export")
torch_runner = lazy_import("alexnet_edge.export.model.torch_runner")


def judge_target(
    target: str,
    precision: PrecisionKey,
    logits: np.ndarray,
    seconds: float,
    *,
    torch_logits: np.ndarray,
    labels: np.ndarray,
    host_logits: np.ndarray,
    cpu: str,
    onnxruntime: str = "",
    backend: str = "onnxruntime",
) -> Result:
    """The target's Result: judged against PyTorch FP32 (the precision's tolerance) and against the host's run
    of the same model (the cross-target bounds); ``onnxruntime`` names the runtime that ran it there."""
    n, name = len(logits), f"{target}:{precision.value}"
    tolerance = tolerance_for(precision, n)
    vs_torch, reference_accuracy, errors = judge_logits(logits, labels[:n], torch_logits[:n], tolerance, artifact=name)
    vs_host = compare(logits, host_logits[:n], labels[:n])
    host_accuracy = accuracy(host_logits[:n], labels[:n])
    failures = [str(f) for f in errors]
    delta = vs_torch.accuracy - host_accuracy
    if abs(delta) > fidelity.MAX_ACCURACY_DELTA_VS_HOST:
        failures.append(
            f"{name}: accuracy differs from the host's by "
            f"{100 * delta:+.2f} pt (max ±{100 * fidelity.MAX_ACCURACY_DELTA_VS_HOST:.1f})"
        )
    if vs_host.top1_agreement < fidelity.MIN_AGREEMENT_VS_HOST:
        failures.append(
            f"{name}: top-1 agreement with the host's run "
            f"{100 * vs_host.top1_agreement:.2f}% (min {100 * fidelity.MIN_AGREEMENT_VS_HOST:.1f}%)"
        )
    if vs_host.max_flipped_margin > tolerance.max_flipped_margin:
        failures.append(
            f"{name}: an image the host's run was sure "
            f"of (top-1 margin {vs_host.max_flipped_margin:.2f}) "
            f"changed its top-1 (max {tolerance.max_flipped_margin:g})"
        )
    return Result(
        backend=backend,
        device="cpu",
        precision=precision,
        comparison=vs_torch,
        reference_accuracy=reference_accuracy,
        tolerance=tolerance,
        failures=failures,
        target=TargetRun(target, onnxruntime, seconds, cpu, vs_host, host_accuracy),
    )


def sample_indices(total: int, n: int, seed: int) -> np.ndarray:
    """A seeded sample of the test split (not the first N: spread over the whole file)."""
    return np.random.default_rng(seed).permutation(total)[:n]


@dataclass
class TargetsConfig:
    models_dir: Path
    checkpoint: Path
    data_root: Path
    out_dir: Path = Path("artifacts/targets")
    # NAME or NAME@VERSION (an onnxruntime version); the host at its own onnxruntime always runs first.
    targets: tuple[str, ...] = ("host", "x86-avx2", "x86-sse", "aarch64", "aarch64-a72")
    onnxruntime: tuple[str, ...] = ()  # versions for the targets named without @VERSION; empty: the host's
    # images per target of each precision (0: skipped); default: each precision's spec (runtime/precision.py)
    images: dict[PrecisionKey, int] = field(default_factory=default_target_images)
    other_version_share: float = 0.5  # of those image counts, on an onnxruntime other than the host's
    seed: int = 0
    cache: Path = field(default_factory=target_env.default_cache)
    install_tools: bool = False  # apt-get install a missing qemu-user / mmdebstrap (as root)
    host_backends: tuple[str, ...] = ()  # also run the models on the host with these backends (e.g. openvino)
    backend_options: BackendOptions = field(default_factory=BackendOptions)  # e.g. openvino.precision=bf16


_VERSION = re.compile(r"\d+\.\d+\.\d+")


def _select(config: TargetsConfig, models: Collection[PrecisionKey] | None = None) -> list[Target]:
    """The targets named; the host runs the largest count of the ``models`` there (None: of every precision)."""
    images = config.images if models is None else {p: n for p, n in config.images.items() if p in models}
    known = {t.name: t for t in default_targets(images)}
    host_version = host_onnxruntime()
    chosen = {"host": known["host"]}  # label -> target; the host on its own onnxruntime is the yardstick
    for spec in config.targets:
        name, _, pinned = spec.partition("@")
        if name not in known:
            raise AlexNetEdgeError(f"unknown target(s) {name}; choose from {', '.join(known)}")
        for version in [pinned] if pinned else list(config.onnxruntime) or [host_version]:
            if not _VERSION.fullmatch(version):
                raise AlexNetEdgeError(f"bad onnxruntime version {version!r} in target {spec!r}; write e.g. 1.23.2")
            other = None if version == host_version else version
            target = known[name].with_onnxruntime(other, share=1.0 if other is None else config.other_version_share)
            chosen.setdefault(target.label, target)
    return list(chosen.values())


def _models_in(folder: Path) -> dict[PrecisionKey, Path]:
    return {p: folder / p.onnx_name for p in precisions() if (folder / p.onnx_name).is_file()}


def _with_fp32(found: dict[PrecisionKey, Path], folder: Path) -> dict[PrecisionKey, Path]:
    if Precision.FP32 not in found:
        raise AlexNetEdgeError(
            f"{folder} holds no {Precision.FP32.onnx_name}: run export-alexnet --fp16 --int8 --out {folder} first"
        )
    return found


def _variant_of(model: Path) -> str:
    """The variant the models were exported from (their metadata), so the reference is built alike."""

    return str(onnx_export.read_metadata(onnx_export.load_onnx(model)).get("variant", "cifar"))


def run_targets(config: TargetsConfig, *, log=logger.info) -> tuple[list[Result], list[Path]]:
    """Evaluate the models of ``config.models_dir`` on every target; rows and the files written."""

    check_writable(config.out_dir, "--out")  # refused now, not after the whole evaluation
    if config.host_backends:  # an unknown or uninstalled --host-backend: refused before any guest runs
        check_host_backends(config.host_backends)
    found = _models_in(config.models_dir)
    targets, models = _select(config, found), _with_fp32(found, config.models_dir)  # an unknown target comes first
    targets = [refuse_too_old(target, log) for target in targets]
    n = _sample_size(targets, models)
    test = cifar10.load_test(config.data_root)
    indices = sample_indices(len(test), n, config.seed)
    images, labels = normalize_uint8(test.images[indices]), test.labels[indices]
    with torch_runner.TorchRunner(
        alexnet_model.alexnet_cifar10(weights=config.checkpoint, variant=_variant_of(models[Precision.FP32]))
    ) as reference:
        torch_logits = reference.infer_many(images)
    with work_dirs.work_dir("targets", log) as work:  # removed on every exit; a killed run's, by the next run
        guests, stage = prepare(targets, images, config.cache, work, log=log, install_tools=config.install_tools)
        log(
            f"{n} test images (seed {config.seed}); targets: "
            f"{', '.join(t.label for t in targets)}; work folder {work} (removed at the end)"
        )
        specs = {t.label: model_specs(t, models) for t in targets}
        died = run_on(targets, specs, work, arm=guests, stage=stage, keep_going=True)
        return _judge_all(config, targets, models, work, indices, labels, torch_logits, images, died)


def _host_backend_rows(
    config: TargetsConfig,
    models: dict[PrecisionKey, Path],
    images: np.ndarray,
    labels: np.ndarray,
    torch_logits: np.ndarray,
    host: dict[PrecisionKey, np.ndarray],
) -> list[Result]:
    """Each ``--host-backend``'s run of the host's models, judged like a target ("host (NAME)"), on as many
    images as the host's onnxruntime ran of each precision."""
    counts = {p: len(logits) for p, logits in host.items()}
    rows, cpu = [], detect().int8_path
    for backend in config.host_backends:
        for run in run_on_host_backend(backend, models, images, counts, config.backend_options):
            rows.append(
                judge_target(
                    f"host ({backend})",
                    run.precision,
                    run.logits,
                    run.seconds,
                    torch_logits=torch_logits,
                    labels=labels,
                    host_logits=host[run.precision],
                    cpu=cpu,
                    onnxruntime=run.runtime,
                    backend=backend,
                )
            )
    return rows


def _died(target: Target, precision: PrecisionKey, images: int, why: str) -> Result:
    """The row of a (target, model) pair whose guest died: no figures, one failure saying how."""
    version = target.onnxruntime or host_onnxruntime()
    nothing = unmeasured(images)
    return Result(
        backend="onnxruntime",
        device="cpu",
        precision=precision,
        comparison=nothing,
        reference_accuracy=float("nan"),
        tolerance=tolerance_for(precision, images),
        failures=[f"{target.label}:{precision.value}: the guest died: {why}"],
        target=TargetRun(target.label, version, float("nan"), "", nothing, float("nan"), died=why),
    )


def _sample_size(targets: list[Target], models: dict[PrecisionKey, Path]) -> int:
    """Images to sample: the most any (target, model) pair runs; refuses a run that would run none."""
    n = max(t.counts.get(p, 0) for t in targets for p in models)
    if n < 1:
        counts = ", ".join(f"{p.value} {max(t.counts.get(p, 0) for t in targets)}" for p in models)
        raise AlexNetEdgeError(f"nothing to evaluate: every image count is 0 for the models there ({counts})")
    return n


def _judge_all(
    config: TargetsConfig,
    targets: list[Target],
    models: dict[PrecisionKey, Path],
    work: Path,
    indices: np.ndarray,
    labels: np.ndarray,
    torch_logits: np.ndarray,
    images: np.ndarray | None = None,
    died: dict[tuple[str, str], str] | None = None,
) -> tuple[list[Result], list[Path]]:
    rows, cpus, host, died = [], {}, {}, died or {}
    for target in targets:
        runs = target_models(target, models)
        if all((target.label, path.name) in died for _, path, _ in runs):  # none ran: it may have no cpu.json
            rows += [_died(target, p, n, died[(target.label, path.name)]) for p, path, n in runs]
            continue
        cpus[target.label] = record = read_cpu(work, target)
        cpu = ",".join(record["numpy_features"][-4:]) if target.emulator else record["os"]["int8_path"]
        for precision, path, n in runs:
            if (target.label, path.name) in died:
                rows.append(_died(target, precision, n, died[(target.label, path.name)]))
                continue
            outputs, seconds = read_outputs(work, target, path)
            host.setdefault(precision, outputs["logits"])  # the first target is the host on its own onnxruntime
            rows.append(
                judge_target(
                    target.label,
                    precision,
                    outputs["logits"],
                    seconds,
                    torch_logits=torch_logits,
                    labels=labels,
                    host_logits=host[precision],
                    cpu=cpu,
                    onnxruntime=str(record.get("onnxruntime", "")),
                )
            )
    if images is not None:  # the host's models on other host backends too (--host-backend)
        rows += _host_backend_rows(config, models, images, labels, torch_logits, host)
    sample = {
        "split": "test_batch",
        "seed": config.seed,
        "indices_first": indices[:10].tolist(),
        "images": len(indices),
        "host_onnxruntime": host_onnxruntime(),
    }
    return rows, write_results(config.out_dir, rows, cpus, sample)
