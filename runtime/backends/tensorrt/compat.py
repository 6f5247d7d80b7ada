"""Which TensorRT may load a plan built by which: the version-compatibility matrix, in one table.

Source: TensorRT 11.4.0 / 11.4.1 support matrix, "Engine portability" (docs.nvidia.com/deeplearning/
tensorrt/11.4.0/getting-started/support-matrix.html): version-compatible engines run on newer
runtimes of the same major; across majors exactly two combinations are supported, TensorRT 8
plans on a TensorRT 10 runtime and TensorRT 10 plans on a TensorRT 11 runtime; "a TensorRT 8
engine cannot run with a TensorRT 11 runtime". Version compatibility itself starts at 8.6
(BuilderFlag.VERSION_COMPATIBLE, trt_features.VERSION_COMPATIBLE_SINCE).
"""

from __future__ import annotations

from dataclasses import dataclass


def version_tuple(text: str) -> tuple[int, ...]:
    """ "10.3.0.26" -> (10, 3, 0); non-digits in a piece are dropped ("8.6.1.post1" -> (8, 6, 1))."""
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


#: (built major, running major) pairs a version-compatible plan may cross; nothing else crosses a major.
CROSS_MAJOR_LOADS = frozenset({(8, 10), (10, 11)})


@dataclass(frozen=True)
class PlanVerdict:
    ok: bool
    why: str  # what to do when not ok; empty when ok


def plan_loads(built: str, running: str, *, version_compatible: bool) -> PlanVerdict:
    """Whether a plan built with TensorRT ``built`` loads on TensorRT ``running``.

    Args:
        built: the sidecar's ``tensorrt_version``.
        running: ``tensorrt.__version__`` here.
        version_compatible: whether the plan was built with BuilderFlag.VERSION_COMPATIBLE.
    Returns:
        PlanVerdict; ``why`` names the fix when it does not load.
    """
    if built == running:
        return PlanVerdict(True, "")
    if not version_compatible:
        return PlanVerdict(False, "rebuild it here, or build with --version-compatible")
    b, r = version_tuple(built), version_tuple(running)
    if r < b:
        return PlanVerdict(False, "version-compatible plans load only on the same or a newer TensorRT")
    if b[0] == r[0] or (b[0], r[0]) in CROSS_MAJOR_LOADS:
        return PlanVerdict(True, "")
    allowed = ", ".join(f"{x}.x plans on {y}.x" for x, y in sorted(CROSS_MAJOR_LOADS))
    return PlanVerdict(
        False,
        f"across majors TensorRT loads only {allowed} (11.4 support matrix, "
        f'"Engine portability"): rebuild it with TensorRT {r[0]}.x',
    )
