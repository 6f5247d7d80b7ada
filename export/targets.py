"""Cross-target fidelity: the shipped ONNX models on each CPU they ship to, judged against the host.

Every target (the host natively; an AVX2-without-VNNI x86 and a Cortex-A76 aarch64 under qemu-user)
runs ``alexnet_edge.runtime.target_eval`` on the same seeded sample of CIFAR-10 test images. The
host then compares each target's logits with PyTorch FP32 on the host (the precision's tolerance)
and with the host's own run of the same model (the cross-target bounds below). Emulation proves
numerics, not speed: its wall times say what the run cost, nothing about the target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from alexnet_edge.runtime.compare import accuracy, compare
from alexnet_edge.runtime.deploy import verification_tolerance
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.evaluation import judge as judge_logits
from alexnet_edge.runtime.fileio import atomic_output, write_json
from alexnet_edge.runtime.precision import Precision

from . import target_env
from .target_cpus import (
    Target,
    default_targets,
    model_specs,
    prepare,
    read_cpu,
    read_outputs,
    run_on,
)

# A target may differ from the host only as far as one model's arithmetic legitimately can: the
# done-criteria of the fidelity work (within 1 point of the host's accuracy, >= 98.5% identical top-1).
MAX_ACCURACY_DELTA_VS_HOST = 0.01
MIN_AGREEMENT_VS_HOST = 0.985


@dataclass
class TargetRow:
    target: str
    precision: str
    images: int
    accuracy: float
    top1_agreement: float  # with PyTorch FP32 on the host
    accuracy_delta_vs_host: float  # this target's accuracy minus the host's, same model and images
    max_abs_diff_vs_host: float
    agreement_vs_host: float
    cosine_vs_torch: float
    seconds: float
    cpu: str
    failures: list[str]

    @property
    def ok(self) -> bool:
        return not self.failures


def judge(target: str, precision: str, logits: np.ndarray, seconds: float, *, torch_logits: np.ndarray,
          labels: np.ndarray, host_logits: np.ndarray, cpu: str) -> TargetRow:  # fmt: skip
    n = len(logits)
    tolerance = verification_tolerance(Precision(precision), n)
    vs_torch, _, errors = judge_logits(logits, labels[:n], torch_logits[:n], tolerance, artifact=f"{target}:{precision}")
    vs_host = compare(logits, host_logits[:n], labels[:n])
    host_accuracy = accuracy(host_logits[:n], labels[:n])
    failures = [str(f) for f in errors]
    delta = vs_torch.accuracy - host_accuracy
    if abs(delta) > MAX_ACCURACY_DELTA_VS_HOST:
        failures.append(f"{target}:{precision}: accuracy differs from the host's by {100 * delta:+.2f} pt (max ±{100 * MAX_ACCURACY_DELTA_VS_HOST:.1f})")
    if vs_host.top1_agreement < MIN_AGREEMENT_VS_HOST:
        failures.append(f"{target}:{precision}: top-1 agreement with the host's run {100 * vs_host.top1_agreement:.2f}% (min {100 * MIN_AGREEMENT_VS_HOST:.1f}%)")
    return TargetRow(target, precision, n, vs_torch.accuracy, vs_torch.top1_agreement, delta, vs_host.max_abs_diff,
                     vs_host.top1_agreement, vs_torch.cosine_similarity, seconds, cpu, failures)  # fmt: skip


def render_table(rows: list[TargetRow]) -> str:
    lines = [
        "| target | precision | images | accuracy | top-1 agreement (PyTorch FP32) | Δ accuracy vs host | max \\|Δlogit\\| vs host | wall s | within tolerance |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r.target} | {r.precision} | {r.images} | {100 * r.accuracy:.2f}% | {100 * r.top1_agreement:.2f}% | "
            f"{100 * r.accuracy_delta_vs_host:+.2f} pt | {r.max_abs_diff_vs_host:.3g} | {r.seconds:.0f} | "
            f"{'yes' if r.ok else 'NO'} |"
        )
    return "\n".join(lines) + "\n"


def write_results(out: Path, rows: list[TargetRow], cpus: dict[str, dict], sample: dict) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    js = write_json(out / "targets.json", {"schema": "alexnet-edge-targets/1", "sample": sample, "cpus": cpus,
                                          "rows": [asdict(r) for r in rows]})  # fmt: skip
    md = out / "targets.md"
    with atomic_output(md) as tmp:
        tmp.write_text("# alexnet-edge: cross-target fidelity\n\n" + render_table(rows))
    return [js, md]


def sample_indices(total: int, n: int, seed: int) -> np.ndarray:
    """A seeded sample of the test split (not the first N: spread over the whole file)."""
    return np.random.default_rng(seed).permutation(total)[:n]


@dataclass
class TargetsConfig:
    models_dir: Path
    checkpoint: Path
    data_root: Path
    out_dir: Path = Path("artifacts/targets")
    targets: tuple[str, ...] = ("host", "x86-avx2", "aarch64")
    int8_images: int = 400
    fp32_images: int = 50
    fp16_images: int = 100
    seed: int = 0
    cache: Path = target_env.DEFAULT_CACHE


def _select(config: TargetsConfig) -> list[Target]:
    known = {t.name: t for t in default_targets(config.int8_images, config.fp32_images, config.fp16_images)}
    unknown = [n for n in config.targets if n not in known]
    if unknown:
        raise AlexNetEdgeError(f"unknown target(s) {', '.join(unknown)}; choose from {', '.join(known)}")
    return [known["host"]] + [known[n] for n in config.targets if n != "host"]


def _models(folder: Path) -> dict[str, Path]:
    found = {p.value: folder / p.onnx_name for p in Precision if (folder / p.onnx_name).is_file()}
    if "fp32" not in found:
        raise AlexNetEdgeError(f"{folder} holds no {Precision.FP32.onnx_name}: run export-alexnet --fp16 --int8 --out {folder} first")
    return found


def _variant_of(model: Path) -> str:
    """The variant the models were exported from (their metadata), so the reference is built alike."""
    from .onnx_export import load_onnx, read_metadata

    return str(read_metadata(load_onnx(model)).get("variant", "cifar"))


def run_targets(config: TargetsConfig, *, log=print) -> tuple[list[TargetRow], list[Path]]:
    """Evaluate the models of ``config.models_dir`` on every target; rows and the files written."""
    from alexnet_edge.calibration import cifar10
    from alexnet_edge.runtime.preprocess import normalize_uint8

    from .model import alexnet_cifar10
    from .torch_runner import TorchRunner

    targets, models = _select(config), _models(config.models_dir)
    test = cifar10.load_test(config.data_root)
    n = max(t.counts.get(p, 0) for t in targets for p in models)
    indices = sample_indices(len(test), n, config.seed)
    images, labels = normalize_uint8(test.images[indices]), test.labels[indices]
    with TorchRunner(alexnet_cifar10(weights=config.checkpoint, variant=_variant_of(models["fp32"]))) as torch_runner:
        torch_logits = torch_runner.infer_many(images)
    arm, work, stage = prepare(targets, images, config.cache, log=log)
    log(f"{n} test images (seed {config.seed}); targets: {', '.join(t.name for t in targets)}; work folder {work}")
    run_on(targets, {t.name: model_specs(t, models) for t in targets}, work, arm=arm, stage=stage)
    rows, cpus, host = [], {}, {}
    for target in targets:
        cpus[target.name] = record = read_cpu(work, target)
        cpu = ",".join(record["numpy_features"][-4:]) if target.emulator else record["os"]["int8_path"]
        for path, _ in model_specs(target, models):
            precision = Precision(path.name.split(".")[1]).value
            outputs, seconds = read_outputs(work, target, path)
            host.setdefault(precision, outputs["logits"])
            rows.append(judge(target.name, precision, outputs["logits"], seconds, torch_logits=torch_logits, labels=labels,
                              host_logits=host[precision], cpu=cpu))  # fmt: skip
    sample = {"split": "test_batch", "seed": config.seed, "indices_first": indices[:10].tolist(), "images": int(n)}
    return rows, write_results(config.out_dir, rows, cpus, sample)


