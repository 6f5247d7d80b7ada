"""What ``validate`` checks before the first stage beyond each option's own range (issue 28 §2): the
options whose refusal would otherwise come only after minutes of work, and every folder the run will
write (``--out``, ``--bundle``, a ``--timing-cache`` of its own, and TMPDIR for the stages' work folders).

Nothing here creates a folder: a writable one is proven by a test file created and removed.
"""

from __future__ import annotations

import tempfile

from alexnet_edge.export.pipeline.config import EvaluationSpec, ExportSpec, RunOptions
from alexnet_edge.runtime.errors import AlexNetEdgeError
from alexnet_edge.runtime.fileio import check_writable
from alexnet_edge.runtime.precision import spec_for

#: The largest timed batch: 4,096 images are 48 MiB of float32 input. ``--batch-sizes 1,100000000`` tried
#: to allocate 1.12 TiB after the whole evaluation (issue 28).
MAX_BATCH_SIZE = 4096
_IMAGE_BYTES = 3 * 32 * 32 * 4


def check_before_work(export: ExportSpec, evaluation: EvaluationSpec, options: RunOptions) -> None:
    """Refuse in one line, before any stage, an option or an output folder the run would fail on later."""
    if any(spec_for(p).needs_calibration for p in export.precisions):
        export.calibration.check()
    check_batch_sizes(evaluation.batch_sizes)
    folders = [("--out", options.out_dir), ("TMPDIR", tempfile.gettempdir())]
    if options.bundle is not None:
        folders.append(("--bundle", options.bundle))
    cache = export.engine.timing_cache
    if export.engines and cache is not None:
        folders.append(("--timing-cache", cache.parent))
    for option, folder in folders:
        check_writable(folder, option)


def check_batch_sizes(sizes) -> None:
    """Timed batch sizes within MAX_BATCH_SIZE."""
    too_large = [size for size in sizes if size > MAX_BATCH_SIZE]
    if too_large:
        need = max(too_large) * _IMAGE_BYTES
        raise AlexNetEdgeError(
            f"--batch-sizes {','.join(map(str, sizes))}: a timed batch takes at most {MAX_BATCH_SIZE:,} images "
            f"({MAX_BATCH_SIZE * _IMAGE_BYTES / 2**20:.0f} MiB of input); {max(too_large):,} would need "
            f"{need / 2**30:,.1f} GiB"
        )
