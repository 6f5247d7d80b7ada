"""Where the commands find CIFAR-10 and the reference checkpoint: one convention for all of them.

Each command takes ``--data-root DIR`` (the folder holding ``cifar-10-batches-py/``) and, where it
needs one, ``--checkpoint PATH``. Left out, both come from the environment variable
``ALEXNET_EDGE_DATA``, which names a folder laid out as this repository's development data::

    $ALEXNET_EDGE_DATA/cifar10/cifar-10-batches-py/   test_batch, data_batch_1..5, batches.meta
    $ALEXNET_EDGE_DATA/reference/alexnet_cifar10.pt   the reference checkpoint
    $ALEXNET_EDGE_DATA/reference/test_logits_*_cuda.npy  CUDA golden logits (alexnet-drift)

Neither given nor set: the command says so in one line and how to fix it. No default points into
this repository's own layout (the Makefile passes ``../shared`` explicitly).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from alexnet_edge.export.errors import DataPathError

ENV_VAR = "ALEXNET_EDGE_DATA"
CIFAR_SUBDIR = "cifar10"
CHECKPOINT_SUBPATH = "reference/alexnet_cifar10.pt"

DATA_ROOT_HELP = f"folder holding cifar-10-batches-py/ [default: ${ENV_VAR}/{CIFAR_SUBDIR}]"
CHECKPOINT_HELP = f"[default: ${ENV_VAR}/{CHECKPOINT_SUBPATH}]"
EPILOG = (
    f"Data: --data-root and --checkpoint default to ${ENV_VAR}/{CIFAR_SUBDIR} and "
    f"${ENV_VAR}/{CHECKPOINT_SUBPATH}; set {ENV_VAR} to a folder laid out so, or pass both."
)
EPILOG_DATA_ONLY = f"Data: --data-root defaults to ${ENV_VAR}/{CIFAR_SUBDIR}; set {ENV_VAR}, or pass --data-root."


def data_root_option():
    """Every command's ``--data-root``: the folder holding cifar-10-batches-py/, None to use ALEXNET_EDGE_DATA."""
    import click

    return click.option(
        "--data-root", type=click.Path(path_type=Path, file_okay=False), default=None, help=DATA_ROOT_HELP
    )


def _env_root(environ: Mapping[str, str] | None) -> Path | None:
    value = (os.environ if environ is None else environ).get(ENV_VAR, "").strip()
    return Path(value) if value else None


def data_root(given: Path | None, *, environ: Mapping[str, str] | None = None) -> Path:
    """``given``, else ``$ALEXNET_EDGE_DATA/cifar10``; neither: a DataPathError saying what to pass.

    Args:
        given: the command's --data-root, or None.
        environ: the environment to read (tests); None reads os.environ.
    Returns:
        The folder that holds (or is) ``cifar-10-batches-py/``.
    """
    found = given if given is not None else optional_data_root(None, environ=environ)
    if found is None:
        raise DataPathError(
            f"no --data-root: pass --data-root DIR (the folder holding cifar-10-batches-py/), "
            f"or set {ENV_VAR} to a folder holding {CIFAR_SUBDIR}/ and reference/"
        )
    return found


def optional_data_root(given: Path | None, *, environ: Mapping[str, str] | None = None) -> Path | None:
    """Like :func:`data_root`, but None where neither is given (a run that may not need CIFAR-10)."""
    if given is not None:
        return given
    root = _env_root(environ)
    return None if root is None else root / CIFAR_SUBDIR


def checkpoint(
    given: Path | None, *, environ: Mapping[str, str] | None = None, subpath: str = CHECKPOINT_SUBPATH
) -> Path:
    """``given``, else ``$ALEXNET_EDGE_DATA/<subpath>`` (the reference checkpoint by default); neither:
    a DataPathError saying what to pass."""
    if given is not None:
        return given
    root = _env_root(environ)
    if root is None:
        raise DataPathError(
            f"no --checkpoint: pass --checkpoint PATH (a state_dict .pt), "
            f"or set {ENV_VAR} to a folder holding {subpath}"
        )
    return root / subpath
