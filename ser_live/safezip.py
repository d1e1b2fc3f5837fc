"""Bounded reading of untrusted files: zip archives (model and profile files), JSON texts in
them, and the arrays and numbers of a loaded model.

A model (skops) and a profile (``np.savez``) are zip archives. Inflating a member reads as
many bytes as the member *says* it holds, so a small crafted file can make a reader allocate
gigabytes (a "zip bomb": 1 GB of zeros deflates to about 1 MB). Here every limit is checked
on the zip's central directory (:meth:`zipfile.ZipFile.infolist`: member count, declared
uncompressed and compressed sizes) and on the headers of the ``.npy`` members (the array
shape they declare) *before* any member is inflated. Python's :mod:`zipfile` never inflates
more than a member's declared ``file_size`` (a member that inflates to more fails its CRC),
so once the declared sizes are bounded, so is the memory of reading them.

Limits, and where they come from
--------------------------------
Measured on the shipped files (``python -c "import zipfile; ..."`` over ``models/*.skops``
and a profile saved by :meth:`~ser_live.profile.Profile.save` for ser-default):

============================  ==========================  ==================  ===========
quantity                      shipped (largest)           limit               margin
============================  ==========================  ==================  ===========
model members                 25 (ser-default)            512                 20x
model, all members inflated   1.09 MB (ser-7class)        64 MiB              60x
model ``schema.json``         0.67 MB (ser-default)       16 MiB              25x
``schema.json`` nesting       27 levels (ser-default)     100 levels          3.7x
profile members               5                           16                  3x
profile, all inflated         78 kB (4729 features)       16 MiB              200x
profile metadata JSON         386 characters, 3 levels    1 MiB, 16 levels
compression ratio             1.0 (stored, not deflated)  200 (members > 64 kB)
============================  ==========================  ==================  ===========

skops and ``np.savez`` store members uncompressed, so a shipped file has ratio 1; a
``skops.io.dump(..., compression=ZIP_DEFLATED)`` file is legitimate too, and its most
compressible member, the schema, deflates about 30x (zlib level 9 on the shipped schemas),
so the ratio limit is 200: 6x above that, 5x below zeros (about 1000x). The size limits, not
the ratio, are what bound memory; the ratio is a second, cheap signal. The nesting limit
keeps every recursive reader (the JSON decoder, skops' tree walk, our type listing) far from
Python's recursion limit.

The JSON reader (:func:`loads_bounded`) measures the nesting depth of a text with a regular
expression and NumPy (strings removed, brackets counted) before :func:`json.loads` sees it,
and rejects ``NaN``/``Infinity`` and overflowing numbers such as ``1e999`` (not JSON, and
not a count).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "ZipLimits",
    "MODEL_LIMITS",
    "PROFILE_LIMITS",
    "SCHEMA_MAX_BYTES",
    "SCHEMA_MAX_DEPTH",
    "PROFILE_META_MAX_CHARS",
    "PROFILE_META_MAX_DEPTH",
    "check_archive",
    "json_depth",
    "loads_bounded",
    "check_model_arrays",
    "printable",
]

_MiB = 1 << 20


@dataclass(frozen=True)
class ZipLimits:
    """What a zip archive may declare (module doc: how the values were chosen).

    Attributes
    ----------
    max_members : int
        Members in the central directory.
    max_total_bytes : int
        Sum of the members' uncompressed sizes (bytes).
    max_ratio : float
        Uncompressed / compressed size of any member larger than ``ratio_floor_bytes``.
    ratio_floor_bytes : int
        Members up to this uncompressed size (bytes) are not ratio-checked (a tiny member
        can compress well and cannot matter).
    """

    max_members: int
    max_total_bytes: int
    max_ratio: float = 200.0
    ratio_floor_bytes: int = 64 * 1024


#: Limits of a skops model file.
MODEL_LIMITS = ZipLimits(max_members=512, max_total_bytes=64 * _MiB)
#: Limits of a profile file (``.npz``).
PROFILE_LIMITS = ZipLimits(max_members=16, max_total_bytes=16 * _MiB)
#: Largest ``schema.json`` of a model file (bytes), and its deepest nesting.
SCHEMA_MAX_BYTES: int = 16 * _MiB
SCHEMA_MAX_DEPTH: int = 100
#: Longest profile metadata JSON (characters), and its deepest nesting.
PROFILE_META_MAX_CHARS: int = _MiB
PROFILE_META_MAX_DEPTH: int = 16


def _size(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def check_archive(path: str | Path, limits: ZipLimits, *, error: type[Exception], what: str) -> None:
    """Refuse a zip archive whose directory or array headers exceed ``limits``, inflating
    nothing but the first bytes (the header) of each ``.npy`` member.

    Parameters
    ----------
    path : str or Path
        The archive.
    limits : ZipLimits
        E.g. :data:`MODEL_LIMITS` or :data:`PROFILE_LIMITS`.
    error : type of Exception
        Raised with the reason (e.g. :class:`~ser_live.errors.ModelError`).
    what : str
        What the file should be, for messages: ``"not a {what}"`` for a file that is not a
        readable zip (e.g. ``"ser-live model file"``).

    Raises
    ------
    error
        Not a zip archive; more members than allowed; members that inflate to more than
        ``limits.max_total_bytes`` in all; a member compressed more than ``max_ratio``
        times; a ``.npy`` member whose header declares more array bytes than it holds.
        The message names the file, the member and the limit.
    """
    p = Path(path)
    refused = f"{p}: refused before inflating anything:"
    try:
        with zipfile.ZipFile(p) as zf:
            infos = zf.infolist()
            if len(infos) > limits.max_members:
                raise error(f"{refused} {len(infos)} members, more than the {limits.max_members} a {what} may hold")
            total = sum(i.file_size for i in infos)
            if total > limits.max_total_bytes:
                big = max(infos, key=lambda i: i.file_size)
                raise error(
                    f"{refused} its members inflate to {_size(total)} (the largest, {big.filename!r}, to "
                    f"{_size(big.file_size)}), more than the {_size(limits.max_total_bytes)} a {what} may hold"
                )
            for i in infos:
                if i.file_size > limits.ratio_floor_bytes and i.file_size > limits.max_ratio * max(i.compress_size, 1):
                    raise error(
                        f"{refused} member {i.filename!r} inflates {i.file_size / max(i.compress_size, 1):.0f}-fold "
                        f"({_size(i.compress_size)} -> {_size(i.file_size)}), more than {limits.max_ratio:g}-fold"
                    )
            for i in infos:
                if i.filename.endswith(".npy"):
                    _check_npy_header(zf, i, error=error, refused=refused)
    except zipfile.BadZipFile as exc:
        raise error(f"{p}: not a {what} (BadZipFile: {exc})") from exc
    except (OSError, EOFError, zipfile.LargeZipFile, NotImplementedError, RuntimeError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression
        raise error(f"{p}: not a {what} ({type(exc).__name__}: {exc})") from exc


def _check_npy_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, *, error: type[Exception], refused: str) -> None:
    """The array a ``.npy`` member declares fits in the member (reads its header only)."""
    from numpy.lib import format as npy

    try:
        with zf.open(info) as f:
            version = npy.read_magic(f)
            reader = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            shape, _fortran, dtype = reader(f)
            header_bytes = f.tell()
    except (ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise error(f"{refused} member {info.filename!r} is not a NumPy array ({exc})") from exc
    if dtype.hasobject:
        return  # refused by np.load(allow_pickle=False) / skops' loader, with their message
    declared = math.prod(int(s) for s in shape) * dtype.itemsize
    if declared > info.file_size - header_bytes:
        raise error(
            f"{refused} member {info.filename!r} declares a {dtype} array of shape {tuple(shape)} "
            f"({_size(declared)}) but holds {_size(max(info.file_size - header_bytes, 0))}"
        )


#: A JSON string (with escapes), for stripping strings before counting brackets.
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def json_depth(data: bytes | str) -> int:
    """Deepest nesting of ``[`` and ``{`` in a JSON text (0 for a scalar), without parsing.

    Parameters
    ----------
    data : bytes or str
        UTF-8 JSON text.

    Returns
    -------
    int
        Largest number of open brackets outside strings (for a malformed text, an upper
        bound of what a parser would reach).
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    a = np.frombuffer(_JSON_STRING.sub(b"", raw), dtype=np.uint8)
    if a.size == 0:
        return 0
    step = np.isin(a, (ord("["), ord("{"))).astype(np.int64) - np.isin(a, (ord("]"), ord("}")))
    return int(max(np.cumsum(step).max(), 0))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:20]} is out of the range of a float")
    return value


def loads_bounded(data: bytes | str, *, max_bytes: int, max_depth: int, what: str) -> Any:
    """:func:`json.loads` of an untrusted text, with its length and nesting bounded first.

    Parameters
    ----------
    data : bytes or str
        The JSON text.
    max_bytes : int
        Longest text (bytes of ``bytes``, characters of ``str``).
    max_depth : int
        Deepest nesting (:func:`json_depth`).
    what : str
        Name of the text, for messages (e.g. ``"schema.json"``).

    Returns
    -------
    object
        The decoded value.

    Raises
    ------
    ValueError
        Too long, nested too deep, malformed JSON, or holding ``NaN``/``Infinity`` or a
        number that overflows a float (``1e999``).
    """
    if len(data) > max_bytes:
        raise ValueError(f"{what} is {_size(len(data))} long, more than {_size(max_bytes)}")
    depth = json_depth(data)
    if depth > max_depth:
        raise ValueError(f"{what} nests {depth} levels deep, more than {max_depth}")
    return json.loads(data, parse_constant=_no_constant, parse_float=_finite_float)


# ---------------------------------------------------------------------- model contents
_MAX_WALK = 20000  # objects visited by _floats (the shipped models hold ~100)


def _floats(obj: Any, path: str, out: list[tuple[str, Any]], seen: set[int], depth: int = 0) -> None:
    """Every float scalar and float array reachable from ``obj`` through lists, tuples,
    dicts and instance attributes, with the attribute path that reaches it."""
    if id(obj) in seen or depth > 40 or len(seen) > _MAX_WALK:
        return
    seen.add(id(obj))
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fc":
            out.append((path, obj))
    elif isinstance(obj, (float, np.floating)):
        out.append((path, obj))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            _floats(v, f"{path}[{i}]", out, seen, depth + 1)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _floats(v, f"{path}[{k!r}]", out, seen, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, type):
        for k, v in vars(obj).items():
            _floats(v, f"{path}.{k}", out, seen, depth + 1)


def check_model_arrays(model: Any) -> None:
    """Refuse a loaded model whose numbers or array shapes are broken, with the reason.

    A file built only from trusted types can still hold an infinite calibration
    temperature or coefficient arrays of the wrong shape; such a model would fail on every
    input (blaming the audio) or answer NaN probabilities. Checked:

    1. every learned float number and float array (an attribute ending in ``_``, or named
       like ``threshold``/``temperature``/``beta``) reachable from the estimator, the noise
       branch and the session normaliser (coefficients, scaler statistics, the calibration's
       inverse temperature ``beta_``, the noise branch's cut ``threshold_db_``) is finite
       (hyper-parameters such as a ``session_cap`` are not judged here);
    2. two feature rows of zeros (for a noise branch, one routed to each classifier: its
       SNR column set 10 dB below and above the threshold) go through
       ``model.predict_proba``: it must not raise, and must give shape
       ``(2, len(model.labels))`` of finite probabilities summing to 1 per row; and each
       classifier's ``classes_`` must index ``model.labels``.

    Parameters
    ----------
    model : EmotionModel
        Just loaded (``estimator``, ``labels``, ``extractor``, ``normalizer``,
        ``noise_route``).

    Raises
    ------
    ModelError
        With the attribute path of a non-finite number or the error of the test rows;
        the CLI exits with status 5.
    """
    from .errors import ModelError

    name = getattr(model, "path", None) or model.name
    found: list[tuple[str, Any]] = []
    seen: set[int] = set()
    for root, obj in (("estimator", model.estimator), ("noise_route", model.noise_route),
                      ("normalizer", model.normalizer)):
        if obj is not None:
            _floats(obj, root, found, seen)
    for where, value in found:
        attr = re.findall(r"\.(\w+)", where)[-1] if "." in where else where
        learned = attr.endswith("_") or any(w in attr for w in ("threshold", "temperature", "beta"))
        if learned and not np.all(np.isfinite(value)):
            raise ModelError(f"{name}: corrupt model file: {where} holds a non-finite value ({_short(value)})")
    labels = list(model.labels)
    route = model.noise_route
    heads = getattr(model.estimator, "heads", None)
    if heads is not None:  # a model object of arrays (ser_live/fastpath.py): its heads
        classifiers = tuple((f"estimator.{k}", h) for k, h in heads.items())
    elif route is not None:  # the route's main classifier and its noise branch
        classifiers = (("noise_route.estimator", route.estimator), ("noise_route.branch", route.branch))
    else:
        classifiers = (("estimator.classifier", getattr(model.estimator, "classifier", model.estimator)),)
    for root, est in classifiers:
        if est is None:
            continue
        classes = np.asarray(getattr(est, "classes_", getattr(est, "classes", [])))
        if classes.ndim != 1 or classes.size == 0 or classes.dtype.kind not in "iu" \
                or classes.min() < 0 or classes.max() >= len(labels) or len(set(classes.tolist())) != classes.size:
            raise ModelError(f"{name}: corrupt model file: {root}.classes_ {_short(classes)} does not index "
                             f"the {len(labels)} labels")
    n = int(model.extractor.n_features)
    X = np.zeros((2, n), dtype=np.float32)
    if route is not None and 0 <= int(route.column) < n:
        cut = getattr(route, "threshold_db_", None)
        cut = float(route.threshold_db if cut is None else cut)
        X[0, int(route.column)] = cut - 10.0
        X[1, int(route.column)] = cut + 10.0
    try:
        with np.errstate(all="ignore"):
            P = np.asarray(model.predict_proba(X), dtype=np.float64)
    except Exception as exc:  # any estimator failure: the arrays do not fit together
        raise ModelError(
            f"{name}: corrupt model file: its classifier fails on a row of {n} features "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    if P.shape != (2, len(labels)) or not np.isfinite(P).all() or not np.allclose(P.sum(axis=1), 1.0, atol=1e-6):
        raise ModelError(
            f"{name}: corrupt model file: its classifier gives probabilities of shape {P.shape} "
            f"({_short(P)}) for 2 rows of {len(labels)} labels"
        )


def _short(value: Any) -> str:
    text = np.array2string(np.asarray(value), threshold=6, precision=3)
    return text if len(text) <= 80 else text[:77] + "..."


# ---------------------------------------------------------------------- text
#: ANSI escape sequences: CSI (``ESC [ ... final``), OSC (``ESC ] ... BEL|ST``) and
#: two-character ``ESC x`` (ECMA-48).
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-_]|\x9b[0-?]*[ -/]*[@-~]")


def printable(text: str, *, max_chars: int = 200) -> str:
    """A string from a file made safe to print on a terminal.

    Terminal escape sequences (ECMA-48 CSI/OSC) are removed, then every other control or
    format character (Unicode categories ``Cc`` and ``Cf``: C0/C1 controls, bidirectional
    overrides) is dropped, and the result cut to ``max_chars``.

    Parameters
    ----------
    text : str
    max_chars : int, default 200

    Returns
    -------
    str
    """
    text = _ESCAPES.sub("", str(text))
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"
