"""The ``.npz`` file of a compiled model object (:class:`ser_live.fastpath.CompiledEstimator`).

One ``np.savez`` archive: the model object's arrays by name plus a JSON header (format version,
labels, feature configuration, the estimator's settings), written atomically next to the
``.skops`` by ``train fit`` / ``python -m train export`` and read with ``allow_pickle=False``
after the archive's size was bounded (:mod:`ser_live.safezip`): a file of numbers and one JSON
text cannot run code.
"""
from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .fsutil import atomic_writer

if TYPE_CHECKING:
    from .fastpath import CompiledEstimator

__all__ = ["FAST_FORMAT_VERSION", "read_npz", "save_npz"]

#: Version of the ``.npz`` layout (header key ``fast_format_version``).
FAST_FORMAT_VERSION: int = 1

#: Name of the JSON header member of the ``.npz``.
HEADER_KEY = "header"
#: Most bytes of the JSON header, its deepest nesting.
HEADER_MAX_BYTES = 1 << 20
HEADER_MAX_DEPTH = 16


def save_npz(path: str | Path, header: dict, compiled: CompiledEstimator) -> Path:
    """Write the compiled model object as one ``.npz``: its arrays and a JSON header.

    Parameters
    ----------
    path : str or Path
    header : dict
        JSON-able facts (format version, labels, feature configuration, ...); the model
        object's settings are added under ``"estimator"``.
    compiled : CompiledEstimator

    Returns
    -------
    Path
    """
    spec, arrays = compiled.to_arrays()
    head = dict(header, fast_format_version=FAST_FORMAT_VERSION, estimator=spec)
    text = json.dumps(head, sort_keys=True)
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(p) as f:  # the project's one atomic writer (never a half-written model)
        np.savez(f, **{HEADER_KEY: np.frombuffer(text.encode("utf-8"), dtype=np.uint8)}, **arrays)
    return p


def read_npz(path: str | Path, *, error: type[Exception]) -> tuple[dict, dict[str, np.ndarray]]:
    """Read a ``.npz`` of :func:`save_npz` safely: the archive bounded before inflating
    (:func:`ser_live.safezip.check_archive`), no pickles, the header's size and nesting
    bounded.

    Parameters
    ----------
    path : str or Path
    error : type of Exception
        Raised for every problem, with the path and the reason.

    Returns
    -------
    (dict, dict of str to np.ndarray)
        The header, and the other arrays by name.

    Raises
    ------
    error
        Not a zip of ``.npy`` arrays, beyond the limits, an object array, no or a malformed
        header, or another ``fast_format_version``.
    """
    from .safezip import MODEL_LIMITS, check_archive, loads_bounded

    p = Path(path)
    check_archive(p, MODEL_LIMITS, error=error, what="ser-live model arrays file")
    try:
        with np.load(p, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{p}: not a ser-live model arrays file ({type(exc).__name__}: {exc})") from exc
    raw = arrays.pop(HEADER_KEY, None)
    if raw is None or raw.dtype != np.uint8 or raw.ndim != 1:
        raise error(f"{p}: not a ser-live model arrays file (no header)")
    try:
        header = loads_bounded(raw.tobytes(), max_bytes=HEADER_MAX_BYTES, max_depth=HEADER_MAX_DEPTH, what="header")
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{p}: corrupt model arrays file ({exc})") from exc
    if not isinstance(header, dict) or header.get("fast_format_version") != FAST_FORMAT_VERSION:
        got = header.get("fast_format_version") if isinstance(header, dict) else None
        raise error(f"{p}: model arrays format {got!r}, this ser-live reads {FAST_FORMAT_VERSION}; "
                    "re-export with `python -m train export MODEL.skops`")
    return header, arrays
