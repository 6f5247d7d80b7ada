"""PyTorch FP32 reference logits, cached on disk by what determines them, so that reruns and tests do not
recompute them (10,000 images: about 40 s on an idle 2-core machine, minutes on a loaded one).

An entry's key: the checkpoint's sha256, the sha256 of the exact float32 images PyTorch is given (so the
data, the subset and the preprocessing), the variant, the source of the model's code (MODEL_CODE), the torch
version and torch's CPU kernel set (``torch.backends.cpu.get_cpu_capability()``): any change is a different
entry. An entry is ``<key>.npy``
and ``<key>.json`` (the key in full and the ``.npy``'s sha256), each written atomically, the record last; a
read checks the record against the key, the array against the recorded sha256, and its dtype, shape and
finiteness. An entry that fails a check is said in one line and recomputed (and replaced).

Where: ``$ALEXNET_EDGE_REFERENCE_CACHE`` when set (``off`` disables the cache), else
``$XDG_CACHE_HOME/alexnet-edge/reference-logits`` (``~/.cache/...`` without XDG_CACHE_HOME).
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.constants import NUM_CLASSES
from alexnet_edge.runtime.fileio import atomic_output, sha256_file, write_json

ENV_VAR = "ALEXNET_EDGE_REFERENCE_CACHE"
OFF = ("off", "0", "no", "false")
FORMAT = "alexnet-edge-reference-logits/1"
# The modules whose code computes the reference logits: an edit to any of them is a new entry.
MODEL_CODE = (
    "alexnet_edge.export.model.alexnet",
    "alexnet_edge.export.model.architecture",
    "alexnet_edge.export.model.torch_runner",
)
Log = Callable[[str], None]


def default_folder(environ: Mapping[str, str] | None = None) -> Path | None:
    """The cache folder the environment names (read when asked, not at import); None: caching is off."""
    env = os.environ if environ is None else environ
    value = env.get(ENV_VAR, "").strip()
    if value.lower() in OFF:
        return None
    if value:
        return Path(value)
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alexnet-edge" / "reference-logits"


@dataclass(frozen=True)
class ReferenceKey:
    """Everything the reference logits depend on."""

    checkpoint_sha256: str
    images_sha256: str  # the float32 NCHW images exactly as PyTorch receives them
    images: int
    variant: str
    model_code_sha256: str
    torch: str
    cpu_capability: str

    @property
    def digest(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:32]


def reference_key(checkpoint_sha256: str, images: np.ndarray, variant: str) -> ReferenceKey:
    import torch

    data = np.ascontiguousarray(images, dtype=np.float32)
    return ReferenceKey(
        checkpoint_sha256=checkpoint_sha256,
        images_sha256=hashlib.sha256(memoryview(data).cast("B")).hexdigest(),
        images=len(data),
        variant=variant,
        model_code_sha256=_model_code_sha256(),
        torch=torch.__version__,
        cpu_capability=torch.backends.cpu.get_cpu_capability(),
    )


@dataclass(frozen=True)
class CacheEntry:
    """One key's place in one cache folder."""

    folder: Path
    key: ReferenceKey

    @property
    def array(self) -> Path:
        return self.folder / f"{self.key.digest}.npy"

    @property
    def record(self) -> Path:
        return self.folder / f"{self.key.digest}.json"

    def load(self, log: Log) -> np.ndarray | None:
        """The cached logits, or None: absent, or failing a check (said in one line)."""
        if not self.record.is_file():
            return None
        found = _checked(self.record, self.array, self.key)
        if isinstance(found, str):
            log(f"reference cache entry {self.array} not used ({found}): recomputing")
            return None
        return found

    def store(self, logits: np.ndarray, log: Log) -> None:
        """Write the array, then its record; a folder that cannot be written is a line, not an error."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with atomic_output(self.array) as tmp, open(tmp, "wb") as handle:
                np.save(handle, np.ascontiguousarray(logits, dtype=np.float32), allow_pickle=False)
            write_json(self.record, {"format": FORMAT, "key": asdict(self.key), "sha256": sha256_file(self.array)})
        except OSError as exc:
            log(f"reference logits not cached in {self.folder}: {exc.strerror or exc}")


def entry_for(
    checkpoint_sha256: str, images: np.ndarray, variant: str, *, folder: Path | None = None
) -> CacheEntry | None:
    """The cache entry of these inputs in ``folder`` (default: :func:`default_folder`); None where caching is off."""
    folder = default_folder() if folder is None else folder
    return None if folder is None else CacheEntry(folder, reference_key(checkpoint_sha256, images, variant))


def _model_code_sha256() -> str:
    digest = hashlib.sha256()
    for name in MODEL_CODE:
        digest.update(Path(importlib.util.find_spec(name).origin).read_bytes())
    return digest.hexdigest()


def _checked(record_path: Path, array_path: Path, key: ReferenceKey) -> np.ndarray | str:
    """The entry's logits, or what is wrong with it."""
    try:
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if not isinstance(record, dict) or record.get("format") != FORMAT or record.get("key") != asdict(key):
            return "its record is not this key's"
        if sha256_file(array_path) != record.get("sha256"):
            return "its sha256 differs from its record"
        logits = np.load(array_path, allow_pickle=False)
    except (OSError, ValueError) as exc:  # unreadable, not JSON (JSONDecodeError is a ValueError), not an .npy
        return f"unreadable: {exc}"
    if logits.dtype != np.float32 or logits.shape != (key.images, NUM_CLASSES) or not np.isfinite(logits).all():
        return f"holds {logits.dtype} {list(logits.shape)}, not finite float32 [{key.images}, {NUM_CLASSES}]"
    return logits
