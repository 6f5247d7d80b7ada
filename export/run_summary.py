"""What a run did, said at its end: where everything is, how long each stage took, what was
skipped and why, and what the exit status means."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

EXIT_MEANINGS = {0: "every artifact is within its tolerance", 1: "outside tolerance (see the errors above)",
                 2: "bad input or a failed step (one error line)"}  # fmt: skip


@dataclass
class StageClock:
    """Wall time per stage, in the order the stages ran, and a log that names the stage.

    Use the clock itself as the log inside stages: a stage's "[name]" header appears before its
    first line, and "[name] N s" when it ends. A stage that fails adds nothing, so bad input still
    ends in exactly one error line.
    """

    sink: Callable[[str], None]
    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    _pending: str | None = None

    def __call__(self, line: str) -> None:
        if self._pending is not None:
            self.sink(self._pending)
            self._pending = None
        self.sink(line)

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self._pending = f"[{name}]"
        t0 = time.perf_counter()
        try:
            yield
        except BaseException:
            self._pending = None
            raise
        took = time.perf_counter() - t0
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self._pending = None
        self.sink(f"[{name}] {took:.1f} s")

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


def render_summary(*, out_dir: Path, files: list[Path], stage_seconds: dict[str, float], total_s: float,
                   skipped: list[str], failures: int) -> str:  # fmt: skip
    out_dir = Path(out_dir).resolve()
    wanted = ("report.md", "report.json", "report.png", "manifest.json")
    lines = ["", "── summary " + "─" * 60]
    lines += [f"  {name:<14} {out_dir / name}" for name in wanted if (out_dir / name).is_file()]
    models = sorted({p.name for p in files if p.suffix in (".onnx", ".engine")})
    if models:
        lines.append(f"  {'models':<14} {out_dir}/ ({', '.join(models)})")
    lines.append("  time           " + ", ".join(f"{name} {s:.1f} s" for name, s in stage_seconds.items()) + f"; total {total_s:.1f} s")
    lines += [f"  skipped        {reason}" for reason in skipped]
    status = 1 if failures else 0
    lines.append(f"  exit status    {status}: {EXIT_MEANINGS[status]}")
    return "\n".join(lines)
