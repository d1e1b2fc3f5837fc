"""Feature extraction for training: the live path's trimming and extractor, in parallel, cached.

Every training file goes through what live audio goes through: decoded to 16 kHz mono,
trimmed to the speech span the live VAD segmenter finds (:func:`ser_live.vad.speech_span`),
then :class:`ser_live.features.FeatureExtractor`. Results are cached on disk, one ``.npy`` per
file, keyed by the file's content (SHA-1 of its bytes), the extractor configuration, the VAD
configuration and the augmentation applied, so a second run of any command reuses them.

The same files give the same rows, bit for bit, whatever the run: an augmented copy's random
stream is seeded by :func:`augmentation_seed_key` (the file's place in the corpora folder, not
where that folder lies); BLAS runs on one thread while features are computed (its thread
count changes the last bits of the filter-bank products); a cache entry carries the SHA-1 of
its bytes and one that does not check out is recomputed, never used (:func:`load_cache_entry`).

A file with no speech level (digital silence, or a loud-frame level below the segmenter's
``min_speech_dbfs``, -80 dBFS: no frame of it could be voiced live) is left out, not cached,
and listed in :attr:`ExtractionReport.skipped`: its row would be noise under a label. Files
too short or too long are caught when the corpus is read (:func:`train.corpora.scan.collect`).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import io
import json
import logging
import os
from functools import lru_cache
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
from joblib import Parallel, delayed

from ser_live.audiofile import load_audio
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.fsutil import atomic_writer
from ser_live.levels import speech_level_dbfs
from ser_live.vad import VadConfig, speech_span, trim_settings

from .augment import Augmentation
from .corpora.location import default_data_root
from .corpora.records import example_lines
from .peers import PEER_SETS, peer_features, peer_n_features

__all__ = ["FeatureSet", "FEATURE_SETS", "default_cache_dir", "prepare_utterance", "silence_reason", "extract_features",
           "ExtractionReport", "skipped_summary", "augmentation_seed_key", "SEED_DATA_ROOT", "load_cache_entry",
           "save_cache_entry", "CacheEntryError"]

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$SER_LIVE_CACHE`` or ``.cache/features`` under the workspace (the repository's root
    folder; :func:`train.workspace_root`)."""
    from . import REPO

    env = os.environ.get("SER_LIVE_CACHE")
    return Path(env) if env else REPO / ".cache" / "features"


def prepare_utterance(y: np.ndarray, *, vad_config: VadConfig | None = None) -> np.ndarray:
    """Trim a training file to its speech span exactly as the live segmenter would cut it.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio of one corpus file.
    vad_config : VadConfig, optional
        Segmenter settings (default: the live defaults).

    Returns
    -------
    np.ndarray, float32, shape (n_trimmed,)
        From the first utterance's start (pre-roll included) to the last one's end (hangover
        included); the whole file where the VAD finds no utterance (logged).
    """
    span = speech_span(y, config=vad_config)
    if span is None:
        log.debug("no speech span found; using the whole file")
        return y
    return y[span[0] : span[1]]


def silence_reason(y: np.ndarray, *, vad_config: VadConfig | None = None) -> str | None:
    """Why a training file holds no speech, or None when it does.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio of one corpus file, untrimmed and unaugmented.
    vad_config : VadConfig, optional
        Its ``min_speech_dbfs`` is the threshold (default: the live defaults, -80 dBFS).

    Returns
    -------
    str or None
        ``"silent (...)"`` when the file's loud-frame speech level
        (:func:`ser_live.levels.speech_level_dbfs`) is below ``min_speech_dbfs``: the live
        segmenter would voice none of its frames. The quietest shipped corpus file (a
        whispered RAVDESS take) lies near -62 dBFS.

    Raises
    ------
    ValueError
        ``y`` has no samples, or is not 1-D (:func:`ser_live.levels.speech_level_dbfs`).
    """
    floor_dbfs = (vad_config or VadConfig()).min_speech_dbfs
    level_dbfs = speech_level_dbfs(y)
    if level_dbfs >= floor_dbfs:
        return None
    what = "digital silence" if not np.any(y) else f"speech level {level_dbfs:.0f} dBFS"
    return f"silent ({what}, below the {floor_dbfs:g} dBFS any voiced frame needs)"


def _file_key(path: str) -> str:
    """SHA-1 (hex) of the file's bytes, read once per process while its size and mtime stay."""
    st = os.stat(path)
    return _content_sha1(os.path.abspath(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=1 << 16)
def _content_sha1(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


#: The corpora folder the committed reports and shipped models were made from. A file of the
#: corpora folder (:func:`train.corpora.default_data_root`) is seeded as if it lay under this
#: one, wherever that folder is, so the augmented copies (and their figures) stay what they were.
SEED_DATA_ROOT = "/work/shared/data"


def augmentation_seed_key(path: str, *, content_key: str | None = None) -> tuple[str, str | None]:
    """The key that seeds a file's augmented copies and room conditions, and the cache's word for it.

    The key used to be the path as read, so the same corpus read from another folder (another
    machine, ``$SER_LIVE_DATA`` elsewhere, a relative ``$SER_LIVE_DATA``) got other noise, and a
    warm cache (keyed by file content) then disagreed with a cold one. The key is now the file's
    place in the corpora folder, or its content for a file outside it.

    Parameters
    ----------
    path : str
        An audio file.
    content_key : str, optional
        SHA-1 (hex) of the file's bytes, when the caller has it (else read here if needed).

    Returns
    -------
    seed_key : str
        For a file under :func:`~train.corpora.default_data_root` (symlinks followed when the
        plain path is not under it): ``SEED_DATA_ROOT + "/" + its relative path`` (POSIX
        separators); else ``"sha1:" + content SHA-1``.
    cache_marker : str or None
        None when the key is the path as given, the key before (the corpora folder is
        :data:`SEED_DATA_ROOT`), so existing cache entries stay valid; else ``"data-relative"``
        or ``"content"``, which :func:`extract_features` adds to the cache key of augmented
        entries so that entries seeded by the old path key are not reused.

    Raises
    ------
    OSError
        The file cannot be read (only for a file outside the corpora folder without
        ``content_key``).
    """
    root = default_data_root()
    for p, r in ((Path(os.path.abspath(path)), Path(os.path.abspath(root))), (Path(path).resolve(), root.resolve())):
        try:
            rel = p.relative_to(r)
        except ValueError:
            continue
        key = f"{SEED_DATA_ROOT}/{rel.as_posix()}"
        return key, None if str(path) == key else "data-relative"
    return f"sha1:{content_key or _file_key(path)}", "content"


class CacheEntryError(ValueError):
    """A feature-cache entry that cannot be trusted (torn, damaged, another shape): recompute it."""


#: Written after a cache entry's ``.npy`` bytes: this mark, then the 20-byte SHA-1 of those bytes.
#: ``np.load`` reads the array and ignores what follows it, so older code still reads the entry.
_CHECK_MARK = b"\n#ser-live-sha1:"
_CHECK_LEN = len(_CHECK_MARK) + 20


def save_cache_entry(path: Path, v: np.ndarray) -> None:
    """Write one cache entry atomically: ``np.save`` of ``v``, then its checksum.

    Parameters
    ----------
    path : Path
        The ``.npy`` file; its folder is made if missing.
    v : np.ndarray, float32, shape (n_features,)

    Raises
    ------
    OSError
        The folder cannot be written (the entry is then left as it was).
    """
    buf = io.BytesIO()
    np.save(buf, v)
    body = buf.getvalue()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path) as f:
        f.write(body + _CHECK_MARK + hashlib.sha1(body).digest())


def load_cache_entry(path: Path, n_features: int) -> np.ndarray:
    """Read one cache entry, refusing any that is not whole and of the expected shape.

    Parameters
    ----------
    path : Path
        An entry written by :func:`save_cache_entry` (or by ``np.save``, as before checksums).
    n_features : int
        The row length the entry must have.

    Returns
    -------
    np.ndarray, float32, shape (n_features,)

    Raises
    ------
    CacheEntryError
        The checksum does not match (a flipped or zeroed byte), the file is shorter or longer
        than its header says (torn write, appended bytes), its header does not parse, or it
        holds another dtype or shape. An entry without a checksum (written before them) is
        checked for its size, dtype and shape only.
    OSError
        The file cannot be read.
    """
    data = path.read_bytes()
    body = data
    if len(data) >= _CHECK_LEN and data[-_CHECK_LEN:-20] == _CHECK_MARK:
        body = data[:-_CHECK_LEN]
        if hashlib.sha1(body).digest() != data[-20:]:
            raise CacheEntryError("checksum mismatch")
    f = io.BytesIO(body)
    try:
        version = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(f)
    except Exception as exc:  # noqa: BLE001 - any unreadable header
        raise CacheEntryError(f"unreadable header ({exc})") from exc
    if dtype != np.float32 or tuple(shape) != (n_features,) or fortran:
        raise CacheEntryError(f"holds {dtype} {tuple(shape)}, not float32 ({n_features},)")
    if len(body) != f.tell() + n_features * 4:
        raise CacheEntryError(f"{len(body)} bytes long where its header says {f.tell() + n_features * 4} (torn or damaged)")
    return np.frombuffer(body, dtype=np.float32, offset=f.tell()).copy()


#: A worker process's :func:`_one_blas_thread`, entered at its first file and never left (held
#: here: a dropped generator context would be closed, restoring the threads).
_worker_blas_limit: contextlib.AbstractContextManager | None = None


@contextlib.contextmanager
def _one_blas_thread() -> Iterator[None]:
    """BLAS on one thread in this process while the block runs: the libraries loaded now
    (threadpoolctl), and those a computation loads meanwhile (``$OPENBLAS_NUM_THREADS`` and the
    like read as a library loads: set to 1 for the block, then restored; a library first loaded
    inside the block keeps one thread)."""
    from threadpoolctl import threadpool_limits

    from ser_live.runtime import BLAS_THREAD_VARS

    saved = {v: os.environ.get(v) for v in BLAS_THREAD_VARS}
    os.environ.update({v: "1" for v in BLAS_THREAD_VARS})
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for v, old in saved.items():
            if old is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = old


def _extract_in_process(caller_pid: int, *args: object) -> tuple:
    """:func:`_extract_one` with BLAS on one thread: in a worker process (joblib, Dask) set for
    good at its first file (its only work is extraction); in the caller's process it is the
    limit :func:`extract_features` holds while it runs (:func:`_one_blas_thread`)."""
    global _worker_blas_limit
    if os.getpid() != caller_pid and _worker_blas_limit is None:
        _worker_blas_limit = _one_blas_thread()
        _worker_blas_limit.__enter__()
    return _extract_one(*args)


class FeatureSet(str, enum.Enum):
    """Which features a file gets (not to be confused with a training recipe,
    :mod:`train.recipe_spec`)."""

    SER_LIVE = "ser-live"  #: trimmed like live audio, :class:`ser_live.features.FeatureExtractor`
    TUTORIAL = "tutorial"  #: untrimmed, :func:`train.tutorial.tutorial_features`
    EGEMAPS = "egemaps"  #: openSMILE eGeMAPSv02 functionals, trimmed like live audio (:mod:`train.peers`)
    COMPARE2016 = "compare2016"  #: openSMILE ComParE_2016 functionals, trimmed like live audio


#: The :class:`FeatureSet` values.
FEATURE_SETS: tuple[str, ...] = tuple(f.value for f in FeatureSet)


def _setup_key(config: FeatureConfig, vad_config: VadConfig, aug: Augmentation | None, feature_set: str, denoise: bool = False,
               seed_marker: str | None = None) -> str:
    d = {"features": config.to_dict(), "vad": trim_settings(vad_config), "aug": aug.key() if aug else None}
    if denoise:  # only when on: older cache entries keep their keys
        d["denoise"] = True
    if aug is not None and seed_marker is not None:  # augmentation_seed_key's word: not an entry seeded by a path
        d["aug"] = {**d["aug"], "seeded_by": seed_marker}
    if feature_set != FeatureSet.SER_LIVE:
        # "recipe": the key's old name, kept so the cached tutorial features keep their folder
        d = {"recipe": FeatureSet(feature_set).value, "aug": d["aug"],
             **({"vad": d["vad"]} if feature_set in PEER_SETS else {})}
    return hashlib.sha1(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def _extract_one(
    path: str,
    cache_file: Path | None,
    config: FeatureConfig,
    vad_config: VadConfig,
    aug: Augmentation | None,
    feature_set: str = FeatureSet.SER_LIVE.value,
    denoise: bool = False,
    seed_key: str | None = None,
    n_features: int | None = None,
) -> tuple[np.ndarray | None, str | None, bool, bool, str | None]:
    """``(features or None, reason or None, from cache, skipped as silent, why the cache entry
    was recomputed or None)``; ``seed_key`` seeds ``aug`` (default :func:`augmentation_seed_key`),
    ``n_features`` is the length a cache entry must have."""
    damaged = None
    if cache_file is not None and cache_file.exists():
        try:
            if n_features is None:
                return np.load(cache_file), None, True, False, None
            return load_cache_entry(cache_file, n_features), None, True, False, None
        except Exception as exc:  # a torn or damaged entry: recompute, and say so
            damaged = f"{cache_file}: {exc}"
    try:
        y = load_audio(path)
        silent = silence_reason(y, vad_config=vad_config)  # before augmentation: noise is not speech
        if silent is not None:
            return None, silent, False, True, damaged
        if aug is not None:
            y = aug.apply(y, seed_key=seed_key if seed_key is not None else augmentation_seed_key(path)[0])
        if feature_set == FeatureSet.TUTORIAL:
            from .tutorial import tutorial_features

            v = tutorial_features(y, sample_rate_hz=config.sample_rate_hz)
        else:
            if not getattr(aug, "live_cut", False):  # a live cut is already what live extracts
                y = prepare_utterance(y, vad_config=vad_config)
            if denoise:
                from ser_live.denoise import denoise as denoise_utterance

                y = denoise_utterance(y, sample_rate_hz=config.sample_rate_hz)
            if feature_set in PEER_SETS:
                v = peer_features(y, feature_set=FeatureSet(feature_set).value, sample_rate_hz=config.sample_rate_hz)
            else:
                v = FeatureExtractor(config).extract(y)
    except Exception as exc:  # reported, never silently dropped
        return None, f"{type(exc).__name__}: {exc}", False, False, damaged
    if cache_file is not None:
        save_cache_entry(cache_file, v)
    return v, None, False, False, damaged


class ExtractionReport:
    """What an extraction did: ``n_files``, ``n_cached`` (cache hits), ``failures`` (path,
    reason), ``skipped`` (path, reason: files with no speech, :func:`silence_reason`),
    ``recomputed`` (path, reason: cache entries found damaged and computed again,
    :func:`load_cache_entry`), ``seconds`` (wall time)."""

    def __init__(self) -> None:
        self.n_files = 0
        self.n_cached = 0
        self.failures: list[tuple[str, str]] = []
        self.skipped: list[tuple[str, str]] = []
        self.recomputed: list[tuple[str, str]] = []
        self.seconds = 0.0

    def __str__(self) -> str:
        s = (
            f"{self.n_files} files, {self.n_cached} from cache, "
            f"{self.n_files - self.n_cached - len(self.skipped)} extracted in {self.seconds:.1f} s"
        )
        for items, what in ((self.failures, "failed"), (self.skipped, "left out as silent"),
                            (self.recomputed, "damaged cache entries recomputed")):
            if items:
                ex = "; ".join(f"{Path(p).name}: {r}" for p, r in items[:3])
                s += f"; {len(items)} {what} (e.g. {ex})"
        return s


def skipped_summary(skipped: Sequence[tuple[str, str]], corpus_of: dict[str, str], *, max_examples: int = 5) -> str:
    """The files an extraction left out as silent, counted per corpus, in the manner of
    :meth:`train.corpora.ReadResult.summary`.

    Parameters
    ----------
    skipped : sequence of (str, str)
        :attr:`ExtractionReport.skipped`: ``(path, reason)``.
    corpus_of : dict of str to str
        Corpus name of each path (``Record.path -> Record.corpus``); others count as "?".
    max_examples : int, default 5
        How many files to list by name.

    Returns
    -------
    str
        A head line ``"N silent files left out: ravdess 2, user 1, e.g.:"``, then up to
        ``max_examples`` ``path: reason`` lines; ``""`` when nothing was skipped.
    """
    if not skipped:
        return ""
    counts: dict[str, int] = {}
    for path, _ in skipped:
        corpus = corpus_of.get(path, "?")
        counts[corpus] = counts.get(corpus, 0) + 1
    lines = [f"{len(skipped)} silent files left out: " + ", ".join(f"{c} {n}" for c, n in counts.items()) + ", e.g.:"]
    return "\n".join(lines + example_lines(skipped, max_examples))


def extract_features(
    paths: Sequence[str],
    *,
    config: FeatureConfig | None = None,
    vad_config: VadConfig | None = None,
    augmentation: Augmentation | None = None,
    feature_set: str = FeatureSet.SER_LIVE.value,
    recipe: str | None = None,
    n_jobs: int = 2,
    cache_dir: Path | None | bool = None,
    progress: bool = True,
    description: str = "features",
    dask: str | None = None,
    denoise: bool = False,
) -> tuple[np.ndarray, ExtractionReport]:
    """Feature matrix of many files, in parallel (joblib processes), with a progress bar and
    an on-disk cache.

    The rows are the same, bit for bit, whatever ``n_jobs``, the machine's cores,
    ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``, the corpora folder's place or the state of the
    cache: BLAS runs on one thread while features are computed (in this process for the call's
    duration, in worker processes for good); copies are seeded by :func:`augmentation_seed_key`;
    a damaged cache entry is recomputed and listed in :attr:`ExtractionReport.recomputed`.

    Parameters
    ----------
    paths : sequence of str
        Audio files (any format/rate/channels soundfile reads).
    config : FeatureConfig, optional
        Extractor configuration (default: the shipped one).
    vad_config : VadConfig, optional
        Segmenter configuration used for trimming (default: the live defaults).
    augmentation : Augmentation or train.conditions.Condition, optional
        Applied to the audio before trimming (training folds only; a ``Condition`` degrades
        test audio): any object with ``key()`` and ``apply(y, seed_key=...)``, called with
        :func:`augmentation_seed_key` of the file.
    feature_set : str, default "ser-live"
        A :class:`FeatureSet` value.
    recipe : str, optional
        The old name of ``feature_set`` (callers not yet renamed); overrides it when given.
    n_jobs : int, default 2
        Worker processes.
    cache_dir : Path, optional
        Cache root; default :func:`default_cache_dir`; ``False`` disables the cache.
    progress : bool, default True
        Show a rich progress bar (on stderr).
    description : str
        Label of the progress bar.
    dask : str, optional
        Extract on a Dask cluster instead of joblib: ``tcp://host:port``, or ``""`` for a
        local cluster (:func:`ser_live.batch.dask_starmap`; workers need these paths and the
        cache folder). Same cache keys, so cluster and laptop share the cache.
    denoise : bool, default False
        Denoise each trimmed utterance before the extractor (:func:`ser_live.denoise.denoise`,
        as ``ser-live --denoise`` does); part of the cache key.

    Returns
    -------
    X : np.ndarray, float32, shape (len(paths), n_features)
        Rows of files that failed or hold no speech are NaN (see the report).
    report : ExtractionReport

    Raises
    ------
    ValueError
        ``feature_set`` (or ``recipe``) not one of :data:`FEATURE_SETS`.
    ClusterError, DaskUnavailableError
        With ``dask``: as :func:`ser_live.batch.dask_starmap` (cluster unreachable or lost,
        Dask not installed).
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    config = config or FeatureConfig()
    vad_config = vad_config or VadConfig()
    t0 = time.perf_counter()
    report = ExtractionReport()
    report.n_files = len(paths)
    if recipe is not None:
        feature_set = recipe
    if feature_set not in FEATURE_SETS:
        raise ValueError(f"unknown feature set {feature_set!r}; choose from {FEATURE_SETS}")
    feature_set = FeatureSet(feature_set).value
    if feature_set == FeatureSet.TUTORIAL:
        from .tutorial import TUTORIAL_N_FEATURES

        n_features = TUTORIAL_N_FEATURES
    elif feature_set in PEER_SETS:
        n_features = peer_n_features(FeatureSet(feature_set).value)
    else:
        n_features = FeatureExtractor(config).n_features
    X = np.full((len(paths), n_features), np.nan, dtype=np.float32)
    keys = [_file_key(p) for p in paths] if cache_dir is not False else [None] * len(paths)
    seeds = [augmentation_seed_key(p, content_key=k) for p, k in zip(paths, keys)] if augmentation is not None else []
    if cache_dir is False:
        cache_files: list[Path | None] = [None] * len(paths)
    else:
        root = Path(cache_dir) if cache_dir else default_cache_dir()
        markers = [m for _, m in seeds] or [None] * len(paths)
        setups = {m: root / _setup_key(config, vad_config, augmentation, feature_set, denoise, seed_marker=m) for m in set(markers)}
        cache_files = [setups[m] / k[:2] / f"{k}.npy" for k, m in zip(keys, markers)]
    seed_keys = [k for k, _ in seeds] or [None] * len(paths)
    args = [(os.getpid(), p, c, config, vad_config, augmentation, feature_set, denoise, sk, n_features)
            for p, c, sk in zip(paths, cache_files, seed_keys)]
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), disable=not progress, transient=True,
    ) as bar, _one_blas_thread():  # its thread count changes features' last bits
        task = bar.add_task(description, total=len(paths))
        if dask is not None:
            from ser_live.batch import dask_starmap

            results = dask_starmap(_extract_in_process, args, address=dask or None)
        else:
            results = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=8)(delayed(_extract_in_process)(*a) for a in args)
        for i, (v, err, cached, silent, damaged) in enumerate(results):
            if v is not None:
                X[i] = v
            elif silent:
                report.skipped.append((paths[i], err))
            else:
                report.failures.append((paths[i], err or "unknown error"))
            if damaged is not None:
                report.recomputed.append((paths[i], damaged))
            report.n_cached += int(cached)
            bar.advance(task)
    report.seconds = time.perf_counter() - t0
    for p, r in report.failures[:5]:
        log.warning("feature extraction failed for %s: %s", p, r)
    for p, r in report.recomputed[:5]:
        log.warning("damaged feature-cache entry of %s, recomputed: %s", p, r)
    return X, report
