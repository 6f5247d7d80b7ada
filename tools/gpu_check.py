"""``make gpu-check``: everything real this machine's NVIDIA GPU can run, in under 5 minutes.

Writes ``gpu_check.json`` and ``gpu_check.md`` (a table) into ``--out``: cuda-python against the real
driver, PyTorch CUDA FP32/FP16 against ../shared/reference/test_logits_*_cuda.npy, TensorRT engines of the
three models (runner with and without the CUDA graph, CUDA-event latency), and onnxruntime-gpu's CUDA and
TensorRT providers with the providers really used, and NVIDIA's Polygraphy building and running the same models as
an independent cross-check of our runner's logits (gpu_check_polygraphy.py). A part whose package is missing is
skipped with the reason. No network, installs nothing. Without a GPU: one ``error:`` line and exit 2.

    python tools/gpu_check.py --out artifacts/gpu-check [--models artifacts] [--shared ../shared]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

try:
    import gpu_check_backends as backends
    import gpu_check_parts as parts
    import gpu_check_polygraphy as polygraphy
except ImportError:  # imported as tools.gpu_check
    from tools import gpu_check_backends as backends
    from tools import gpu_check_parts as parts
    from tools import gpu_check_polygraphy as polygraphy

BUDGET_S = 300.0
EXIT_NO_GPU = 2


def find_gpu(
    import_cudart: Callable | None = None, import_torch: Callable | None = None
) -> tuple[str | None, list[str]]:
    """The first GPU's name as cuda-python or PyTorch sees it, else None and why each could not.

    Args:
        import_cudart, import_torch: stand-ins for the imports (tests); None imports the real modules.
    Returns:
        (device name or None, one reason per probe that found none).
    """
    reasons = []
    try:
        if import_cudart is None:
            from alexnet_edge.runtime.backends.tensorrt.common import import_cudart
        cudart = import_cudart()
        err, count = cudart.cudaGetDeviceCount()
        if int(err) == 0 and count > 0:
            err, props = cudart.cudaGetDeviceProperties(0)
            name = props.name.decode(errors="replace") if isinstance(props.name, bytes) else str(props.name)
            return name.rstrip("\x00"), reasons
        reasons.append(f"cuda-python: cudaGetDeviceCount returned {getattr(err, 'name', err)}")
    except Exception as exc:  # not installed, or a broken install: a reason, not a traceback
        reasons.append(f"cuda-python: {parts._one_line(exc)}")
    try:
        torch = import_torch() if import_torch else __import__("torch")
        if torch.cuda.is_available():
            return torch.cuda.get_device_name(0), reasons
        reasons.append(f"torch {torch.__version__}: CUDA not available")
    except ImportError:
        reasons.append("torch: not installed")
    return None, reasons


PARTS: tuple[Callable[[parts.Context], list[parts.Part]], ...] = (
    parts.cuda_python_part,
    parts.torch_part,
    backends.tensorrt_part,
    backends.onnxruntime_part,
    polygraphy.polygraphy_part,
)


def run_parts(
    ctx: parts.Context, checks: Sequence[Callable] = PARTS, log: Callable[[str], None] = print
) -> list[parts.Part]:
    """Every part in order, each within the time left; a part that raises becomes one ``fail`` row."""
    rows: list[parts.Part] = []
    for check in checks:
        label = check.__name__.removesuffix("_part").replace("_", "-")
        if ctx.time_left() <= 0:
            rows.append(parts.Part(label, "skip", f"the {BUDGET_S:.0f} s budget was spent before this part"))
            continue
        started = time.monotonic()
        try:
            found = check(ctx)
        except Exception as exc:  # a bug in a part must not hide the others' results
            found = [parts.Part(label, "fail", parts._one_line(exc))]
        for row in found:
            log(f"  {row.status:4}  {row.name}: {row.detail}")
        rows += found
        log(f"  ({label}: {time.monotonic() - started:.1f} s)")
    return rows


def render_targets_md(gpu: str, rows: list[parts.Part]) -> str:
    lines = [
        f"# gpu-check on {gpu} ({platform.machine()}, Python {platform.python_version()})",
        "",
        "| part | result | detail |",
        "|---|---|---|",
    ]
    lines += [f"| {r.name} | {r.status} | {r.detail.replace('|', '/')} |" for r in rows]
    return "\n".join(lines) + "\n"


def write_results(out: Path, gpu: str, rows: list[parts.Part], elapsed_s: float) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    data = {
        "gpu": gpu,
        "machine": platform.machine(),
        "python": platform.python_version(),
        "elapsed_s": round(elapsed_s, 1),
        "parts": [vars(r) for r in rows],
    }
    json_path, table_path = out / "gpu_check.json", out / "gpu_check.md"
    json_path.write_text(json.dumps(data, indent=1, default=str) + "\n")
    table_path.write_text(render_targets_md(gpu, rows))
    return json_path, table_path


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("artifacts/gpu-check"))
    parser.add_argument(
        "--models", type=Path, default=Path("artifacts"), help="folder with model.{fp32,fp16,int8}.onnx"
    )
    parser.add_argument("--shared", type=Path, default=Path("../shared"), help="holds cifar10/ and reference/")
    parser.add_argument("--eval-size", type=int, default=10_000)
    args = parser.parse_args(argv)
    if not parts.importable("alexnet_edge.runtime"):
        print(
            "error: alexnet_edge is not importable with this Python: run it from the project's venv "
            "(make install), or pip install -e . --no-deps",
            file=sys.stderr,
        )
        return EXIT_NO_GPU
    gpu, reasons = find_gpu()
    if gpu is None:
        print(f"error: no NVIDIA GPU here ({'; '.join(reasons)}); gpu-check needs one", file=sys.stderr)
        return EXIT_NO_GPU
    started = time.monotonic()
    ctx = parts.Context(
        reference_dir=args.shared / "reference",
        data_root=args.shared / "cifar10",
        checkpoint=args.shared / "reference" / "alexnet_cifar10.pt",
        models_dir=args.models,
        out=args.out,
        deadline=started + BUDGET_S,
        eval_size=args.eval_size,
    )
    print(f"gpu-check on {gpu}")
    rows = run_parts(ctx, PARTS)
    json_path, table_path = write_results(args.out, gpu, rows, time.monotonic() - started)
    print(render_targets_md(gpu, rows) + f"\nwrote {json_path} and {table_path} ({time.monotonic() - started:.0f} s)")
    return 1 if any(r.status == "fail" for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
