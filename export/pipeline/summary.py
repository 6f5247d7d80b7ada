"""What a run did, said at its end: where everything is, how long each stage took, what was
skipped and why, and what the exit status means."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from alexnet_edge.runtime.exit_status import OK, OUTSIDE_TOLERANCE

EXIT_MEANINGS = {  # a finished run's status; every code is in exit_status.TABLE (README "Exit status")
    OK: "every artifact is within its tolerance",
    OUTSIDE_TOLERANCE: "outside tolerance (see the errors above)",
}


@dataclass
class StageClock:
    """Wall time per stage, in the order the stages ran, and a log that names the stage.

    Use the clock itself as the log inside stages: a stage's "[name]" header appears the moment the
    stage starts (a piped log never waits for a stage's first line), and "[name] N s" when it ends.
    A stage that fails adds no end line, so bad input ends in its one error line.

    With ``tick_s`` set (a piped log), a stage silent for that long gets a line saying it is still
    working, from a watchdog thread: steps that say nothing while they run (torch.onnx export,
    onnxsim, quantization, gzip, a slow batch on a loaded machine) never leave the log silent.
    """

    sink: Callable[[str], None]
    tick_s: float | None = None
    seconds: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _last_line: float = field(default_factory=time.perf_counter, repr=False)

    def __call__(self, line: str) -> None:
        with self._lock:
            self.sink(line)
            self._last_line = time.perf_counter()

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self(f"[{name}]")
        t0 = time.perf_counter()
        with self._watchdog(name, t0):
            yield
        took = time.perf_counter() - t0
        self.seconds[name] = self.seconds.get(name, 0.0) + took
        self(f"[{name}] {took:.1f} s")

    @contextlib.contextmanager
    def _watchdog(self, name: str, t0: float) -> Iterator[None]:
        if not self.tick_s:
            yield
            return
        stop = threading.Event()

        def watch() -> None:
            while not stop.wait(min(1.0, self.tick_s / 4)):
                with self._lock:
                    now = time.perf_counter()
                    if now - self._last_line >= self.tick_s and not stop.is_set():
                        self.sink(f"  [{name}] still working ({now - t0:.0f} s)")
                        self._last_line = now

        thread = threading.Thread(target=watch, name=f"stage-heartbeat-{name}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    @property
    def total(self) -> float:
        return time.perf_counter() - self.started


def render_summary(
    *,
    out_dir: Path,
    files: list[Path],
    stage_seconds: dict[str, float],
    total_s: float,
    skipped: list[str],
    failures: int,
    bundle: Path | None = None,
) -> str:
    out_dir = Path(out_dir).resolve()
    wanted = ("report.md", "report.json", "report.png", "manifest.json")
    lines = ["", "── summary " + "─" * 60]
    lines += [f"  {name:<14} {out_dir / name}" for name in wanted if (out_dir / name).is_file()]
    models = sorted({p.name for p in files if p.suffix in (".onnx", ".engine")})
    if models:
        lines.append(f"  {'models':<14} {out_dir}/ ({', '.join(models)})")
    if bundle is not None and Path(bundle).is_dir():
        folder = Path(bundle).resolve()
        archive = folder.parent / f"{folder.name}.tar.gz"
        lines.append(f"  {'bundle':<14} {folder}/ (README.md, verify.py, build_engines.py, infer.py)")
        if archive.is_file():
            lines.append(f"  {'bundle archive':<14} {archive} ({archive.stat().st_size / 2**20:.0f} MiB)")
    lines.append(
        "  time           "
        + ", ".join(f"{name} {s:.1f} s" for name, s in stage_seconds.items())
        + f"; total {total_s:.1f} s"
    )
    lines += [f"  skipped        {reason}" for reason in skipped]
    status = OUTSIDE_TOLERANCE if failures else OK
    lines.append(f"  exit status    {status}: {EXIT_MEANINGS[status]}")
    return "\n".join(lines)
