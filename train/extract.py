"""Feature extraction for training: the live path's trimming and extractor, in parallel, cached.

Every training file goes through what live audio goes through: decoded to 16 kHz mono,
trimmed to the speech span the live VAD segmenter finds (:func:`ser_live.vad.speech_span`),
then :class:`ser_live.features.FeatureExtractor`. Results are cached on disk, one ``.npy`` per
file, keyed by the file's content (SHA-1 of its bytes), the extractor configuration, the VAD
configuration and the augmentation applied, so a second run of any command reuses them.

A file with no speech level (digital silence, or a loud-frame level below the segmenter's
``min_speech_dbfs``, -80 dBFS: no frame of it could be voiced live) is left out, not cached,
and listed in :attr:`ExtractionReport.skipped`: its row would be noise under a label. Files
too short or too long are caught when the corpus is read (:func:`train.corpora.scan.collect`).
"""

from __future__ import annotations

import enum
import hashlib
import json
import logging
import os
from pathlib import Path
from typing import Sequence

import numpy as np
from joblib import Parallel, delayed

from ser_live.audiofile import load_audio
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.fsutil import atomic_writer
from ser_live.levels import speech_level_dbfs
from ser_live.vad import VadConfig, speech_span, trim_settings

from .augment import Augmentation
from .corpora.records import example_lines
from .peers import PEER_SETS, peer_features, peer_n_features

__all__ = ["FeatureSet", "FEATURE_SETS", "default_cache_dir", "prepare_utterance", "silence_reason", "extract_features",
           "ExtractionReport", "skipped_summary"]

log = logging.getLogger(__name__)


def default_cache_dir() -> Path:
    """``$SER_LIVE_CACHE`` or ``.cache/features`` under the repository root."""
    env = os.environ.get("SER_LIVE_CACHE")
    return Path(env) if env else Path(__file__).resolve().parent.parent / ".cache" / "features"


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
    h = hashlib.sha1()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class FeatureSet(str, enum.Enum):
    """Which features a file gets (not to be confused with a training recipe,
    :mod:`train.recipe_spec`)."""

    SER_LIVE = "ser-live"  #: trimmed like live audio, :class:`ser_live.features.FeatureExtractor`
    TUTORIAL = "tutorial"  #: untrimmed, :func:`train.tutorial.tutorial_features`
    EGEMAPS = "egemaps"  #: openSMILE eGeMAPSv02 functionals, trimmed like live audio (:mod:`train.peers`)
    COMPARE2016 = "compare2016"  #: openSMILE ComParE_2016 functionals, trimmed like live audio


#: The :class:`FeatureSet` values.
FEATURE_SETS: tuple[str, ...] = tuple(f.value for f in FeatureSet)


def _setup_key(config: FeatureConfig, vad_config: VadConfig, aug: Augmentation | None, feature_set: str, denoise: bool = False) -> str:
    d = {"features": config.to_dict(), "vad": trim_settings(vad_config), "aug": aug.key() if aug else None}
    if denoise:  # only when on: older cache entries keep their keys
        d["denoise"] = True
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
) -> tuple[np.ndarray | None, str | None, bool, bool]:
    """``(features or None, reason or None, from cache, skipped as silent)``."""
    if cache_file is not None and cache_file.exists():
        try:
            return np.load(cache_file), None, True, False
        except Exception:  # a torn write: recompute
            pass
    try:
        y = load_audio(path)
        silent = silence_reason(y, vad_config=vad_config)  # before augmentation: noise is not speech
        if silent is not None:
            return None, silent, False, True
        if aug is not None:
            y = aug.apply(y, seed_key=path)
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
        return None, f"{type(exc).__name__}: {exc}", False, False
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_writer(cache_file) as f:
            np.save(f, v)
    return v, None, False, False


class ExtractionReport:
    """What an extraction did: ``n_files``, ``n_cached`` (cache hits), ``failures`` (path,
    reason), ``skipped`` (path, reason: files with no speech, :func:`silence_reason`),
    ``seconds`` (wall time)."""

    def __init__(self) -> None:
        self.n_files = 0
        self.n_cached = 0
        self.failures: list[tuple[str, str]] = []
        self.skipped: list[tuple[str, str]] = []
        self.seconds = 0.0

    def __str__(self) -> str:
        s = (
            f"{self.n_files} files, {self.n_cached} from cache, "
            f"{self.n_files - self.n_cached - len(self.skipped)} extracted in {self.seconds:.1f} s"
        )
        for items, what in ((self.failures, "failed"), (self.skipped, "left out as silent")):
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
        test audio): any object with ``key()`` and ``apply(y, seed_key=path)``.
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
    if cache_dir is False:
        cache_files: list[Path | None] = [None] * len(paths)
    else:
        root = Path(cache_dir) if cache_dir else default_cache_dir()
        setup = root / _setup_key(config, vad_config, augmentation, feature_set, denoise)
        cache_files = []
        for p in paths:
            k = _file_key(p)
            cache_files.append(setup / k[:2] / f"{k}.npy")
    jobs = (
        delayed(_extract_one)(p, c, config, vad_config, augmentation, feature_set, denoise) for p, c in zip(paths, cache_files)
    )
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), disable=not progress, transient=True,
    ) as bar:
        task = bar.add_task(description, total=len(paths))
        if dask is not None:
            from ser_live.batch import dask_starmap

            args = [(p, c, config, vad_config, augmentation, feature_set, denoise) for p, c in zip(paths, cache_files)]
            results = dask_starmap(_extract_one, args, address=dask or None)
        else:
            results = Parallel(n_jobs=n_jobs, return_as="generator", batch_size=8)(jobs)
        for i, (v, err, cached, silent) in enumerate(results):
            if v is not None:
                X[i] = v
            elif silent:
                report.skipped.append((paths[i], err))
            else:
                report.failures.append((paths[i], err or "unknown error"))
            report.n_cached += int(cached)
            bar.advance(task)
    report.seconds = time.perf_counter() - t0
    for p, r in report.failures[:5]:
        log.warning("feature extraction failed for %s: %s", p, r)
    return X, report
