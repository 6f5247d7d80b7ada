"""Deployment bundle: models, calibration table, the torch-free runtime, on-target scripts, a few
hundred CIFAR-10 test images with reference logits, and a manifest of every file's sha256."""

from __future__ import annotations

import json
import shutil
import tarfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np

from alexnet_edge import runtime as runtime_package
from alexnet_edge.export.bundle.texts import README, SCRIPT, SCRIPTS, render_requirements
from alexnet_edge.export.gpu.requirements import GPU_TARGETS
from alexnet_edge.export.gpu.trtexec import render_trtexec_md
from alexnet_edge.export.pipeline.output_dir import staged_path
from alexnet_edge.runtime import deploy
from alexnet_edge.runtime.backends.tensorrt.builder import EngineBuildConfig
from alexnet_edge.runtime.compare import compare
from alexnet_edge.runtime.errors import OutputDirError
from alexnet_edge.runtime.fileio import sha256_file, write_json
from alexnet_edge.runtime.precision import Precision

VERIFY_IMAGES = 500
# gzip level of bundle.tar.gz, chosen by measurement on a real bundle (docs/performance.md, "Bundle
# compression"): the models are float weights that barely compress, so level 1 is within a few
# percent of level 9's size in a fraction of its time.
GZIP_LEVEL = 1
HEARTBEAT_S = 10.0


def copy_runtime(target: Path) -> list[Path]:
    source = Path(runtime_package.__file__).resolve().parent
    shutil.copytree(source, target / "alexnet_edge" / "runtime", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (target / "alexnet_edge" / "__init__.py").write_text(
        '"""alexnet-edge runtime, as shipped in a deployment bundle."""\n'
    )
    return sorted((target / "alexnet_edge").rglob("*.py"))


BUNDLE_FORMAT = "alexnet-edge-bundle/1"


def manifest_entry(path: Path) -> dict:
    return {"sha256": sha256_file(path), "size": path.stat().st_size}


def engine_defaults(config: EngineBuildConfig) -> dict:
    """The exporter's engine options as the bundle stores them (build_engines.py reads them back)."""
    return {k: v for k, v in config.to_dict().items() if k != "timing_cache"}


def check_bundle_target(bundle: Path, out_dir: Path, *, force: bool) -> None:
    """Refuse, before anything is written, a --bundle that would replace --out or a user's folder."""
    target, out = Path(bundle).resolve(), Path(out_dir).resolve()
    if target == out or target in out.parents:
        raise OutputDirError(
            f"--bundle {bundle} would replace the output folder {out_dir}: give the bundle a folder of its own"
        )
    if target.is_file():
        raise OutputDirError(f"--bundle {bundle} is a file, not a folder")
    below_file = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if below_file is not None:
        raise OutputDirError(f"--bundle {bundle} is below {below_file}, which is a file, not a folder")
    if target.is_dir() and any(target.iterdir()) and not force and not _is_bundle(target):
        raise OutputDirError(
            f"--bundle {bundle} is a non-empty folder that is not an alexnet-edge bundle; "
            "choose another path, or pass --force to replace it"
        )


def _is_bundle(folder: Path) -> bool:
    try:
        return json.loads((folder / deploy.MANIFEST).read_text()).get("format") == BUNDLE_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def write_bundle(
    bundle: Path,
    *,
    models: dict[Precision, Path],
    calibration_table: Path | None,
    images_uint8: np.ndarray,
    labels: np.ndarray,
    reference_logits: np.ndarray,
    expected: dict[str, dict],
    engine_config: EngineBuildConfig,
    source: dict,
    log: Callable[[str], None] | None = None,
) -> list[Path]:
    """Stage the folder ``bundle`` and ``bundle.tar.gz``, each at ``output_dir.staged_path`` of it: the
    run's transaction (``companions=bundle_paths(bundle)``) swaps both in right after ``--out``, so
    neither changes unless the whole run succeeds. ``log`` gets a line per step and one at least every
    10 s while the archive is compressed. Returns the two final paths."""
    log = log or (lambda line: None)
    bundle, archive = bundle_paths(bundle)
    staging, staged_archive = staged_path(bundle), staged_path(archive)
    writing = bundle
    try:
        log(f"  copying models and the runtime into {bundle}")
        staging.mkdir()
        (staging / deploy.MODELS_DIR).mkdir()
        for precision, path in models.items():
            shutil.copyfile(path, staging / deploy.MODELS_DIR / precision.onnx_name)
        if calibration_table is not None:
            shutil.copyfile(calibration_table, staging / deploy.MODELS_DIR / "calibration_table.json")
        (staging / "data").mkdir()
        with open(staging / deploy.VERIFY_DATA, "wb") as handle:
            np.savez_compressed(handle, images=images_uint8, labels=labels, reference_logits=reference_logits)
        defaults = _write_texts(staging, list(models), engine_config, images=len(labels), source=source)
        files = sorted(p for p in staging.rglob("*") if p.is_file())
        write_json(
            staging / deploy.MANIFEST,
            {
                "format": BUNDLE_FORMAT,
                "source": source,
                "engine_defaults": defaults,
                "expected": expected,
                "files": {str(p.relative_to(staging)): manifest_entry(p) for p in files},
            },
        )
        _say_what_it_replaces(bundle, log)
        writing = archive
        log(f"  compressing {archive.name} (gzip level {GZIP_LEVEL})")
        with open(staged_archive, "wb") as raw:
            with tarfile.open(fileobj=_Heartbeat(raw, log), mode="w:gz", compresslevel=GZIP_LEVEL) as tar:
                tar.add(staging, arcname=bundle.name)
    except BaseException as exc:
        shutil.rmtree(staging, ignore_errors=True)
        staged_archive.unlink(missing_ok=True)
        if isinstance(exc, OSError):  # a full or read-only disk: one line naming what could not be written
            raise OutputDirError(f"cannot write {writing}: {exc.strerror or exc}") from None
        raise
    return [bundle, archive]


def bundle_paths(bundle: Path | None) -> tuple[Path, ...]:
    """What ``--bundle`` writes outside ``--out``: the folder and ``<folder>.tar.gz`` beside it (none without it)."""
    if bundle is None:
        return ()
    bundle = Path(bundle)
    return bundle, bundle.parent / f"{bundle.name}.tar.gz"


def _say_what_it_replaces(bundle: Path, log: Callable[[str], None]) -> None:
    if bundle.exists():
        kind = "an earlier bundle" if _is_bundle(bundle) else "a folder that is not an alexnet-edge bundle (--force)"
        log(f"  replacing {bundle}: {kind}, {sum(1 for p in bundle.rglob('*') if p.is_file())} files removed")


class _Heartbeat:
    """A write-only file that logs how much has been written, at most every HEARTBEAT_S seconds."""

    def __init__(self, handle, log: Callable[[str], None]):
        self.handle, self.log, self.written = handle, log, 0
        self.started = self.last = time.monotonic()

    def write(self, data) -> int:
        self.written += len(data)
        now = time.monotonic()
        if now - self.last >= HEARTBEAT_S:
            self.log(f"  compressing: {self.written / 2**20:.0f} MiB written ({now - self.started:.0f} s)")
            self.last = now
        return self.handle.write(data)

    def flush(self) -> None:
        self.handle.flush()


def _write_texts(
    staging: Path, precisions: list[Precision], engine_config: EngineBuildConfig, *, images: int, source: dict
) -> dict:
    """The runtime, the scripts, the requirement sets, trtexec.md and README.md; returns the engine defaults."""
    copy_runtime(staging)
    for name, (doc, module, function) in SCRIPTS.items():
        (staging / name).write_text(SCRIPT.format(doc=doc, module=module, function=function))
        (staging / name).chmod(0o755)
    (staging / "requirements.txt").write_text(render_requirements(source.get("tool_versions", {})))
    for target in GPU_TARGETS:
        (staging / target.filename).write_text(target.render())
    # On the target the timing cache lives in the bundle, not where the exporter kept its own.
    (staging / "trtexec.md").write_text(render_trtexec_md(replace(engine_config, timing_cache=None), precisions))
    defaults = engine_defaults(engine_config)
    options = ", ".join(f"{k}={v}" for k, v in defaults.items() if v not in (None, False, "none"))
    gpu_files = "".join(f"\n   - `{t.filename}`: {t.title}" for t in GPU_TARGETS)
    (staging / "README.md").write_text(
        README.format(
            n=images, images=source.get("images", "CIFAR-10 test_batch"), options=options, gpu_files=gpu_files
        )
    )
    return defaults


def expected_figures(evaluated: list, n: int, labels: np.ndarray, reference: np.ndarray) -> dict[str, dict]:
    """The pipeline's own onnxruntime CPU figures on the first ``n`` (bundled) images, per precision."""
    out = {}
    for item in evaluated:
        if item.row.backend == "onnxruntime":
            result = compare(item.logits[:n], reference, labels)
            out[item.row.precision.value] = {
                "accuracy": result.accuracy,
                "top1_agreement": result.top1_agreement,
                "max_abs_diff": result.max_abs_diff,
            }
    return out
