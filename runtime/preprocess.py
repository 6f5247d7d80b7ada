"""Image preprocessing: the single definition used by training, calibration, evaluation and inference.

uint8 RGB pixels -> float in [0, 1] -> (x - mean) / std per channel -> float32 NCHW.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from alexnet_edge.runtime.constants import CHANNELS, INPUT_SIZE, MEAN, STD
from alexnet_edge.runtime.errors import InputError
from alexnet_edge.runtime.npy_file import check_regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")


def normalize_uint8(
    images: np.ndarray,
    *,
    layout: str = "NCHW",
    mean: Sequence[float] = MEAN,
    std: Sequence[float] = STD,
) -> np.ndarray:
    """Turn uint8 images ([N,3,H,W] or [N,H,W,3] by ``layout``) into the model's float32 NCHW input."""
    if images.dtype != np.uint8:
        raise InputError(f"expected uint8 pixels, got {images.dtype}")
    if images.ndim != 4:
        raise InputError(f"expected a 4-D {layout} uint8 batch, got shape {list(images.shape)}")
    if layout == "NHWC":
        images = images.transpose(0, 3, 1, 2)
    elif layout != "NCHW":
        raise InputError(f"unknown layout {layout!r}; use NCHW or NHWC")
    if images.shape[1] != CHANNELS:
        raise InputError(f"expected {CHANNELS} channels in {layout} layout, got shape {list(images.shape)}")
    # Fold /255, -mean and /std into one scale and shift: one pass over the data.
    scale = (1.0 / (255.0 * np.asarray(std, dtype=np.float32))).reshape(1, CHANNELS, 1, 1)
    shift = (np.asarray(mean, dtype=np.float32) / np.asarray(std, dtype=np.float32)).reshape(1, CHANNELS, 1, 1)
    out = images.astype(np.float32) * scale
    out -= shift
    return np.ascontiguousarray(out, dtype=np.float32)


# Larger images are refused from their header, before any pixel is decoded: a 32x32 classifier
# gains nothing from them, and a crafted header can claim gigapixels (a decompression bomb).
MAX_IMAGE_PIXELS = 50_000_000


def _to_rgb(img):
    """Any Pillow mode as 8-bit RGB. High-bit-depth greyscale is scaled, not clipped to white."""
    from PIL import Image

    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(img, dtype=np.float64)
        top = 65535.0 if img.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(values * (255.0 / top)), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if img.mode == "F":
        values = np.asarray(img, dtype=np.float64)
        scale = 255.0 if values.max(initial=0) <= 1.0 else 1.0  # [0,1] floats, or already 0..255
        return Image.fromarray(np.clip(np.rint(values * scale), 0, 255).astype(np.uint8), mode="L").convert("RGB")
    return img.convert("RGB")


def load_image(path: str | Path, *, size: int = INPUT_SIZE) -> np.ndarray:
    """Read a PNG/JPEG/... of any size as RGB ``size`` x ``size`` uint8 [H,W,3].

    EXIF orientation is applied (a phone photo stored rotated is classified upright). Images
    already at ``size`` are not resampled, so a CIFAR-10 image written to PNG comes back
    bit-identical.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    check_regular_file(path)  # before open(): a FIFO would block it forever
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > MAX_IMAGE_PIXELS:
                raise InputError(
                    f"{path}: image is {width}x{height} pixels, more than the {MAX_IMAGE_PIXELS:,} this tool reads"
                )
            img.load()
            rgb = _to_rgb(ImageOps.exif_transpose(img))
    except InputError:
        raise
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not an image") from None
    except Image.DecompressionBombError:
        raise InputError(
            f"{path}: image header claims more pixels than this tool reads (decompression bomb?)"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, MemoryError) as exc:
        raise InputError(f"{path}: not a readable image ({exc.__class__.__name__})") from None
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def preprocess_images(
    paths: Sequence[str | Path], *, mean: Sequence[float] = MEAN, std: Sequence[float] = STD
) -> np.ndarray:
    """Load image files and return the normalized float32 NCHW batch."""
    pixels = np.stack([load_image(p) for p in paths])
    return normalize_uint8(pixels, layout="NHWC", mean=mean, std=std)


def validate_batch(batch: object, *, size: int = INPUT_SIZE) -> np.ndarray:
    """Check a model input: float32 [N,3,size,size] with N >= 1. Returns it C-contiguous."""
    if not isinstance(batch, np.ndarray):
        raise InputError(f"expected a numpy array, got {type(batch).__name__}")
    if batch.dtype != np.float32:
        raise InputError(
            f"expected float32 input, got {batch.dtype} (normalize uint8 pixels with normalize_uint8 first)"
        )
    expected = [CHANNELS, size, size]
    if batch.ndim != 4 or list(batch.shape[1:]) != expected or batch.shape[0] < 1:
        raise InputError(f"expected input of shape [N,{CHANNELS},{size},{size}] with N >= 1, got {list(batch.shape)}")
    return np.ascontiguousarray(batch)
