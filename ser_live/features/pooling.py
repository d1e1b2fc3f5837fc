"""Pooling of the framewise descriptors into one vector: functionals (statistics over frames),
the layout table (:class:`LayoutEntry`) the names and values are both generated from, and the
pooling plan."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .config import FeatureConfig
from .filterbanks import _delta
from .framewise import _Analysis, _ENERGY_BANDS_HZ, _ROLLOFF_POINTS, VOICE_ROWS

__all__ = ["LayoutEntry", "functional_names"]



def _functionals(x: np.ndarray, q: tuple[float, ...], frame_s: float) -> np.ndarray:
    """Functionals of every row's contour over frames (the statistics pooled into features).

    Parameters
    ----------
    x : np.ndarray, shape (n_rows, n_frames), n_frames >= 1
    q : tuple of float
        Percentiles (0..100), linear interpolation as ``np.percentile``'s default.
    frame_s : float
        Hop between frames (seconds), the time unit of the slope.

    Returns
    -------
    np.ndarray, float64, shape (n_rows, len(functional_names(q)))
        Columns in the order of :func:`functional_names`: mean, standard deviation,
        skewness, excess kurtosis (0 where the deviation is 0), the percentiles, the
        inter-quartile and 5-95 % ranges, the slope (unit/s) and residual deviation of a
        least-squares line over time, and the relative positions (0..1) of the maximum
        and minimum. The set follows the openSMILE/ComParE functionals (Eyben et al.,
        "openSMILE", ACM MM 2010; Schuller et al., ComParE 2013).
    """
    x_in, x = x, x.astype(np.float64)
    n_rows, n = x.shape
    # means as ndarray.mean computes them (the float64 sum along the row, divided by n),
    # without its Python wrapper
    mean = np.add.reduce(x, axis=1) / n
    c = x - mean[:, None]
    c2 = c * c
    std = np.sqrt(np.add.reduce(c2, axis=1) / n)
    flat = std <= 1e-8
    safe = np.where(flat, 1.0, std)
    skew = np.where(flat, 0.0, np.add.reduce(c2 * c, axis=1) / n / safe**3)
    kurt = np.where(flat, 0.0, np.add.reduce(c2 * c2, axis=1) / n / safe**4 - 3.0)
    perc = _percentiles_sorted(_sorted_rows(x_in, x), q)  # (n_rows, len(q))
    qi, t, tt = _time_axis(tuple(q), n, frame_s)
    slope = (c @ t) / tt if tt > 0 else np.zeros(n_rows)
    denom = max(n - 1, 1)
    k = len(q)
    out = np.empty((n_rows, k + 10))  # the columns of functional_names(q), written in place
    out[:, 0], out[:, 1], out[:, 2], out[:, 3] = mean, std, skew, kurt
    out[:, 4 : 4 + k] = perc
    out[:, 4 + k] = perc[:, qi[75.0]] - perc[:, qi[25.0]]
    out[:, 5 + k] = perc[:, qi[95.0]] - perc[:, qi[5.0]]
    out[:, 6 + k] = slope
    out[:, 7 + k] = np.sqrt(np.maximum(std**2 - slope**2 * (tt / n), 0.0))
    # positions of the first maximum and minimum: the same in the input's own dtype, whose
    # values convert to float64 exactly and in order (ties included), and quicker in float32
    out[:, 8 + k] = np.argmax(x_in, axis=1) / denom
    out[:, 9 + k] = np.argmin(x_in, axis=1) / denom
    return out


@functools.lru_cache(maxsize=4096)
def _time_axis(q: tuple[float, ...], n: int, frame_s: float) -> tuple[dict, np.ndarray, float]:
    """What :func:`_functionals` takes from its shape alone, computed once per ``(q, n,
    frame_s)`` (``q`` a tuple: the cache's key): the column of each percentile in ``q``, the
    centred frame times ``t`` (float64, shape (n,), read-only; seconds) and ``t @ t``. The
    same arithmetic as on every call before, so the same values."""
    t = (np.arange(n) - (n - 1) / 2.0) * frame_s
    t.flags.writeable = False
    return {v: i for i, v in enumerate(q)}, t, float(t @ t)


#: float32 -0.0 viewed as int32 (its sign bit alone).
_NEG_ZERO_BITS = np.int32(-(2**31))


def _sorted_rows(x_in: np.ndarray, x64: np.ndarray) -> np.ndarray:
    """Each row of ``x64`` (float64, shape (n_rows, n), ``x_in`` converted) sorted, for
    :func:`_percentiles_sorted`; float32 when ``x_in`` is, float64 otherwise.

    Sorting float32 contours takes half the time of sorting their float64 copy, and gives
    the same values at every position: the conversion to float64 is exact and keeps the
    order, and equal float32 values have equal bits but for -0.0 and 0.0, which a sort may
    leave in either order; so contours holding a -0.0 (none of the extractor's do in
    practice) are sorted in float64, as before. :func:`_percentiles_sorted` promotes the
    float32 order statistics to float64 exactly before its arithmetic.
    """
    if x_in.dtype == np.float32 and not np.any(x_in.view(np.int32) == _NEG_ZERO_BITS):
        return np.sort(x_in, axis=1)
    return np.sort(x64, axis=1)


def _percentiles_sorted(xs: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """Percentiles ``q`` (0..100) along the last axis of already sorted data, with linear
    interpolation between order statistics (``np.percentile``'s default method).

    Parameters
    ----------
    xs : np.ndarray, float32 or float64, shape (..., n), n >= 1, sorted along the last axis
    q : tuple of float

    Returns
    -------
    np.ndarray, float64, shape (..., len(q))
        (float32 order statistics are promoted to float64, exactly, by the arithmetic)
    """
    lo, hi, frac, one_minus_frac = _percentile_weights(tuple(q), xs.shape[-1])
    return xs[..., lo] * one_minus_frac + xs[..., hi] * frac


@functools.lru_cache(maxsize=4096)
def _percentile_weights(q: tuple[float, ...], n: int) -> tuple[np.ndarray, ...]:
    """Order statistics and weights of percentiles ``q`` (a tuple: the cache's key) of ``n``
    sorted values: int64 ``lo``, ``hi`` and float64 ``frac``, ``1.0 - frac``, each shape
    (len(q),), read-only.

    They depend on ``q`` and ``n`` alone, so they are computed once per pair and kept (every
    4 s utterance has the same ``n``); the arrays are those the arithmetic of
    :func:`_percentiles_sorted` computed on every call before, so its results are the same
    to the bit.
    """
    pos = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    got = (lo, hi, frac, 1.0 - frac)
    for a in got:
        a.flags.writeable = False
    return got


def _mean_std(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation along the last axis, with one sum shared.

    Parameters
    ----------
    x : np.ndarray, float64, shape (..., n), n >= 1

    Returns
    -------
    (np.ndarray, np.ndarray)
        float64, shape (...) each (numpy float64 scalars for 1-D ``x``): ``x.mean(axis=-1)``
        and ``x.std(axis=-1)`` to the bit. numpy computes the mean as the sum divided by n,
        and the deviation as the square root of the sum of squared deviations from that
        mean, divided by n (``numpy/_core/_methods.py``: ``_mean``, ``_var``); these are the
        same operations in the same order, without the wrappers' per-call overhead.
    """
    n = x.shape[-1]
    mean = np.add.reduce(x, axis=-1, keepdims=True) / n
    c = x - mean
    np.multiply(c, c, out=c)
    return mean[..., 0], np.sqrt(np.add.reduce(c, axis=-1) / n)


def functional_names(q: tuple[float, ...]) -> list[str]:
    """Names of the columns of :func:`_functionals` for percentiles ``q``."""
    return ["mean", "std", "skew", "kurt", *[f"p{q_:g}" for q_ in q], "iqr", "p5_95", "slope", "linerr", "argmax", "argmin"]


# ----------------------------------------------------------------------------- layout
# The feature vector's layout is ONE table (:func:`_layout`): a tuple of LayoutEntry, each a
# block of columns. Both the column names (LayoutEntry.column_names) and the values
# (_pool walks the same table) are generated from it, so the two cannot drift apart.


@dataclass(frozen=True)
class LayoutEntry:
    """One block of feature columns: contours of one descriptor group, pooled one way.

    The block has ``len(rows) * max(1, len(stats))`` columns, row-major: every statistic of
    the first row, then of the second, ... Column names are ``f"{row}_{stat}"`` (or ``row``
    alone when ``stats`` is empty: the rows are already scalars).

    Attributes
    ----------
    group : str
        Name of the column group, e.g. ``"mfcc"``, ``"mfcc_d"`` (its deltas), ``"mfcc_voiced"``
        (over voiced frames), ``"pitch"``, ``"prosody"``; see :meth:`FeatureExtractor.groups`.
    rows : tuple of str
        One name per pooled contour (row of the framewise descriptor ``source``).
    stats : tuple of str
        Names of the statistics pooled from each row, in column order.
    source : str
        Key of :func:`framewise_descriptors`'s output the contours come from.
    contour : str
        How the contours are taken from ``source``: ``"frames"`` (as they are), ``"delta"``
        (HTK regression deltas over frames [4]_), ``"voiced_frames"`` (the voiced frames
        only), ``"voiced_delta"`` (deltas of the voiced frames joined in order; both for
        :attr:`FeatureConfig.shape_voiced`), ``"voiced_st_hnr"`` (f0 in semitones re
        100 Hz and HNR dB, voiced frames only) or ``"none"`` (the pooling reads the
        descriptors itself).
    pooling : str
        How a contour becomes statistics: ``"functionals"`` (:func:`functional_names`),
        ``"voiced_mean_std"`` (mean and standard deviation over voiced frames),
        ``"voiced_functionals"`` (functionals when at least 3 frames are voiced),
        ``"prosody"`` (utterance-level pitch and voicing summary), ``"voice_functionals"``
        (mean and deviation over all and voiced frames, mean over unvoiced frames) or
        ``"voice_summary"`` (jitter, shimmer, segment lengths, loudness peak rate).
    """

    group: str
    rows: tuple[str, ...]
    stats: tuple[str, ...]
    source: str
    contour: str
    pooling: str

    @property
    def n_columns(self) -> int:
        """Number of feature columns of this block."""
        return len(self.rows) * max(1, len(self.stats))

    def column_names(self) -> list[str]:
        """Names of this block's columns, in order."""
        if not self.stats:
            return list(self.rows)
        return [f"{r}_{s}" for r in self.rows for s in self.stats]


#: Utterance-level pitch, voicing and energy summary (pooling ``"prosody"``), in order.
_PROSODY_ROWS = (
    "f0_mean_st", "f0_std_st", "f0_p10_st", "f0_p50_st", "f0_p90_st", "f0_range_st",
    "f0_slope_st_per_s", "f0_delta_abs_mean_st", "voicing_mean", "voicing_std",
    "voiced_fraction", "voiced_runs_per_s", "loud_fraction", "rms_db_delta_abs_mean",
)


#: Utterance-level voice-quality and rhythm summary (pooling ``"voice_summary"``), in order.
_VOICE_SUMMARY_ROWS = (
    "jitter_rel_mean", "jitter_rel_std", "shimmer_db_mean", "shimmer_db_std",
    "voiced_segment_mean_s", "unvoiced_segment_mean_s", "loudness_peaks_per_s",
)


def _layout(cfg: FeatureConfig, analysis: _Analysis) -> tuple[LayoutEntry, ...]:
    """The feature vector's layout for a configuration: its blocks of columns, in order.

    Low-level descriptor groups (MFCC, mel bands, chroma, spectral shape, spectral contrast,
    energy) are pooled three ways: all functionals of the contour, all functionals of its
    deltas, mean and standard deviation over voiced frames. Then come the functionals of
    the voiced f0 (semitones) and HNR contours, and a utterance-level prosody summary.
    With ``cfg.voice_quality``, the ``voice`` group follows: the eGeMAPS-like descriptors
    of :func:`voice_descriptors` over all, voiced and unvoiced frames, and a summary of
    jitter, shimmer and segment lengths (:func:`_pool_voice_summary`). With
    ``cfg.shape_voiced`` the spectral-shape group's functionals and their deltas' are taken
    over the voiced frames only (contours ``"voiced_frames"`` and ``"voiced_delta"``, pooling
    ``"voiced_functionals"``); the names and the order of the columns stay.
    """
    spectral = ("centroid", "bandwidth", *[f"rolloff{int(q * 100)}" for q in _ROLLOFF_POINTS],
                "flatness", "flux", "slope", "entropy",
                *[f"band{int(lo)}_{int(hi)}_db" for lo, hi in _ENERGY_BANDS_HZ])
    lld = (
        ("mfcc", tuple(f"mfcc{i}" for i in range(cfg.n_mfcc))),
        ("logmel", tuple(f"mel{i}" for i in range(cfg.n_mels))),
        ("chroma", tuple(f"chroma{i}" for i in range(cfg.n_chroma))),
        ("spectral", spectral),
        ("contrast", tuple(f"contrast{int(lo)}_{int(hi)}" for lo, hi, _, _ in analysis.contrast_bands)),
        ("energy", ("rms_db", "zcr")),
    )
    fn = tuple(functional_names(cfg.percentiles))
    # with cfg.shape_voiced the spectral-shape contours (and deltas) are pooled over voiced frames
    voiced_only = {"spectral"} if cfg.shape_voiced else set()

    def pooled(g: str, kind: str) -> tuple[str, str]:
        return (f"voiced_{kind}", "voiced_functionals") if g in voiced_only else (kind, "functionals")

    return (
        *(LayoutEntry(g, rows, fn, g, *pooled(g, "frames")) for g, rows in lld),
        *(LayoutEntry(f"{g}_d", tuple(f"{r}_d" for r in rows), fn, g, *pooled(g, "delta")) for g, rows in lld),
        *(LayoutEntry(f"{g}_voiced", tuple(f"{r}_voiced" for r in rows), ("mean", "std"), g, "frames",
                      "voiced_mean_std") for g, rows in lld),
        LayoutEntry("pitch", ("f0_st", "hnr_db"), fn, "pitch", "voiced_st_hnr", "voiced_functionals"),
        LayoutEntry("prosody", _PROSODY_ROWS, (), "pitch", "none", "prosody"),
        *((LayoutEntry("voice", VOICE_ROWS, ("mean", "std", "voiced_mean", "voiced_std", "unvoiced_mean"),
                       "voice", "frames", "voice_functionals"),
           LayoutEntry("voice", _VOICE_SUMMARY_ROWS, (), "voice", "none", "voice_summary"))
          if cfg.voice_quality else ()),
    )


# ----------------------------------------------------------------------------- pooling


@dataclass(frozen=True)
class _Utterance:
    """One utterance's framewise descriptors and what every pooling step shares."""

    d: dict[str, np.ndarray]
    voiced: np.ndarray  # bool (n_frames,): f0 > 0
    cfg: FeatureConfig
    #: Rows of a source its "frames"/"delta" contours keep (:class:`SubsetPlan`); None: all.
    rows: dict[str, np.ndarray] | None = None

    @property
    def frame_s(self) -> float:
        return self.cfg.hop_length / self.cfg.sample_rate_hz


#: Minimum number of voiced frames for statistics over voiced frames (else they are 0).
_MIN_VOICED_FRAMES = 3

#: Contour kinds that take a source's rows as they are, row by row (a subset of the rows is
#: transformed alone): every frame, its deltas, the voiced frames, their deltas.
_ROW_CONTOURS = ("frames", "delta", "voiced_frames", "voiced_delta")


def _contours(kind: str, sources: tuple[str, ...], u: _Utterance, stacks: dict) -> np.ndarray | None:
    """Contours of entries sharing one contour ``kind``, stacked: float32 (n_rows, n).

    Rows of several sources are stacked before the transform (one delta of all rows instead
    of one per group: the same values, since every transform works row by row); ``stacks``
    memoises the stacked sources within one utterance.
    """
    if kind == "none":
        return None
    if sources not in stacks:
        pick = (lambda k: u.d[k]) if u.rows is None or kind not in _ROW_CONTOURS else \
            (lambda k: u.d[k][u.rows[k]] if k in u.rows else u.d[k])
        stacks[sources] = pick(sources[0]) if len(sources) == 1 else np.vstack([pick(k) for k in sources])
    x = stacks[sources]
    if kind == "frames":
        return x
    if kind == "delta":
        return _delta(x, u.cfg.delta_width)
    if kind == "voiced_frames":
        return x[:, u.voiced]
    if kind == "voiced_delta":  # the voiced frames joined in order, then their deltas
        return _delta(x[:, u.voiced], u.cfg.delta_width)
    if kind == "voiced_st_hnr":
        f0, _strength, hnr = x
        return np.vstack([12.0 * np.log2(f0[u.voiced] / 100.0), hnr[u.voiced]])
    raise ValueError(f"unknown contour {kind!r}")


def _pool_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    return _functionals(x, u.cfg.percentiles, u.frame_s)


def _pool_voiced_mean_std(x: np.ndarray, u: _Utterance) -> np.ndarray:
    out = np.zeros((x.shape[0], 2))
    if np.count_nonzero(u.voiced) >= _MIN_VOICED_FRAMES:  # (the columns written in place)
        out[:, 0], out[:, 1] = _mean_std(x[:, u.voiced].astype(np.float64))
    return out


def _pool_voiced_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    if np.count_nonzero(u.voiced) < _MIN_VOICED_FRAMES:
        return np.zeros((x.shape[0], len(functional_names(u.cfg.percentiles))))
    return _functionals(x, u.cfg.percentiles, u.frame_s)


def _pool_prosody(_x: None, u: _Utterance) -> np.ndarray:
    """The :data:`_PROSODY_ROWS` of one utterance, float64 shape (14, 1)."""
    # (means and deviations by _mean_std, np.mean's and np.std's values; counts of frames
    # divided as numpy divides their float64 sums, which are exact)
    f0, strength, _hnr = u.d["pitch"].astype(np.float64)
    rms_db = u.d["energy"][0].astype(np.float64)
    n = f0.shape[0]
    frame_s = u.frame_s
    voiced = f0 > 0
    nv = int(np.count_nonzero(voiced))
    if nv >= 2:
        at = np.flatnonzero(voiced)
        st = 12.0 * np.log2(f0[at] / 100.0)  # semitones re 100 Hz
        p10, p50, p90 = _percentiles_sorted(np.sort(st), (10.0, 50.0, 90.0))
        st_mean, st_std = _mean_std(st)
        t = at * frame_s
        tc = t - np.add.reduce(t) / nv
        tt = float(tc @ tc)
        slope = float(tc @ (st - st_mean)) / tt if tt > 0 else 0.0  # least-squares line
        # deltas only between consecutive voiced frames: the voiced frames one after another
        # whose positions differ by 1
        step = np.flatnonzero(at[1:] - at[:-1] == 1)
        dabs = np.add.reduce(np.abs(st[step + 1] - st[step])) / step.size if step.size else 0.0
        f0_stats = [st_mean, st_std, p10, p50, p90, p90 - p10, slope, dabs]
    else:
        f0_stats = [0.0] * 8
    runs = _voiced_runs(voiced)
    dur = max(n * frame_s, frame_s)
    loud = np.count_nonzero(rms_db > (rms_db.max() - 20.0)) / n if n else 0.0
    rms_dabs = np.add.reduce(np.abs(rms_db[1:] - rms_db[:-1])) / (n - 1) if n > 1 else 0.0
    rest = [*_mean_std(strength), nv / max(n, 1), runs / dur, loud, rms_dabs]
    return np.asarray(f0_stats + rest, dtype=np.float64)[:, None]


def _voiced_runs(voiced: np.ndarray) -> int:
    """Number of runs of True in a bool array (shape (n,)): the frames that are True after a
    False or first."""
    return int(np.count_nonzero(voiced[1:] > voiced[:-1])) + int(voiced.shape[0] > 0 and voiced[0])


def _pool_voice_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    """Mean and standard deviation over all frames and over voiced frames, mean over
    unvoiced frames (as eGeMAPS pools its spectral-balance descriptors), float64 (n, 5)."""
    x = x.astype(np.float64)
    voiced = u.voiced
    nv = int(np.count_nonzero(voiced))
    nu = voiced.shape[0] - nv
    out = np.zeros((x.shape[0], 5))  # the columns written in place (0 where there are no frames)
    out[:, 0], out[:, 1] = _mean_std(x)
    if nv >= _MIN_VOICED_FRAMES:
        out[:, 2], out[:, 3] = _mean_std(x[:, voiced])
    if nu:
        out[:, 4] = np.add.reduce(x[:, ~voiced], axis=1) / nu  # np.mean's value
    return out


#: Praat's jitter/shimmer limits [8]_: consecutive periods differing by more than this factor,
#: or amplitudes by more than a factor 1.6 (4.1 dB), are not compared.
_MAX_PERIOD_FACTOR = 1.3
_MAX_AMPLITUDE_STEP_DB = 20.0 * np.log10(1.6)
#: Moving-average length (frames, 70 ms at a 10 ms hop) applied before counting loudness
#: peaks; the factor a peak must rise above the valleys beside it (1.3 in loudness, about
#: 4 dB in power) and its minimum height relative to the highest loudness.
_PEAK_SMOOTH_FRAMES = 7
_PEAK_SMOOTH_KERNEL = np.full(_PEAK_SMOOTH_FRAMES, 1.0 / _PEAK_SMOOTH_FRAMES)
_PEAK_SMOOTH_KERNEL.flags.writeable = False
_PEAK_RATIO = 1.3
_PEAK_FLOOR = 0.1


def _count_peaks(x: np.ndarray, *, ratio: float, floor: float) -> int:
    """Number of peaks of a positive contour that rise ``ratio`` times above the valleys on
    both sides and above ``floor`` (peak detection with hysteresis, E. Billauer's
    ``peakdet``). A contour that starts high counts its first peak once it falls."""
    # the running extremes only change at the contour's turning points (and its ends), so
    # walking those alone gives the same count, at a tenth of the Python steps
    slope = np.diff(x)
    turns = np.flatnonzero(slope[1:] * slope[:-1] <= 0) + 1
    peaks = 0
    hi, lo = -np.inf, np.inf
    looking_for_peak = True
    for v in x[np.concatenate([[0], turns, [x.shape[0] - 1]])].tolist() if x.shape[0] else []:
        if v > hi:  # hi, lo = max(hi, v), min(lo, v), without the calls (the same floats)
            hi = v
        if v < lo:
            lo = v
        if looking_for_peak and v * ratio < hi:  # fell enough below the running maximum
            peaks += hi > floor and hi > 0
            looking_for_peak, lo = False, v
        elif not looking_for_peak and v > lo * ratio:  # rose enough above the valley
            looking_for_peak, hi = True, v
    return int(peaks)


def _pool_voice_summary(_x: None, u: _Utterance) -> np.ndarray:
    """The :data:`_VOICE_SUMMARY_ROWS` of one utterance, float64 shape (7, 1).

    Jitter and shimmer proxies are taken between consecutive voiced frames (10 ms apart),
    not between glottal cycles as in eGeMAPS [7]_: the relative change of the pitch period
    ``|T_t - T_t-1| / mean(T_t, T_t-1)`` and the absolute change of the frame level (dB),
    each over the pairs within Praat's default limits (period factor 1.3, amplitude factor
    1.6 [8]_), which leaves out pitch-tracking octave jumps and onsets. Segment lengths are
    those of voiced and unvoiced runs (s); loudness peaks are the peaks of the loudness
    contour, smoothed over 70 ms, that stand 1.3 times above the valleys on both sides and
    above a tenth of the highest (:func:`_count_peaks`), per second of utterance: a
    syllable-rate proxy.

    References
    ----------
    .. [8] P. Boersma and D. Weenink, Praat manual, "Voice 2. Jitter" and "Voice 3. Shimmer"
       (maximum period factor 1.3, maximum amplitude factor 1.6).
    """
    f0 = u.d["pitch"][0].astype(np.float64)
    rms_db = u.d["energy"][0].astype(np.float64)
    loudness = u.d["voice"][0].astype(np.float64)
    voiced = u.voiced
    pairs = np.flatnonzero(voiced[1:] & voiced[:-1])
    period = 1.0 / np.where(voiced, f0, 1.0)
    p0, p1 = period[pairs], period[pairs + 1]
    jitter = (np.abs(p1 - p0) / (0.5 * (p1 + p0)))[np.maximum(p1 / p0, p0 / p1) <= _MAX_PERIOD_FACTOR]
    shimmer = np.abs(rms_db[pairs + 1] - rms_db[pairs])
    shimmer = shimmer[shimmer <= _MAX_AMPLITUDE_STEP_DB]
    periodicity = [
        *(_mean_std(jitter) if jitter.size >= 2 else (0.0, 0.0)),
        *(_mean_std(shimmer) if shimmer.size >= 2 else (0.0, 0.0)),
    ]
    frame_s = u.frame_s
    n = loudness.shape[0]
    # mean segment lengths: the frames of a kind over its runs (the float64 sum of the run
    # lengths, which numpy's mean divides, is exact)
    nv = int(np.count_nonzero(voiced))
    runs_v, runs_u = _voiced_runs(voiced), _voiced_runs(~voiced)
    smooth = np.convolve(loudness, _PEAK_SMOOTH_KERNEL, mode="same")
    peaks = _count_peaks(smooth, ratio=_PEAK_RATIO, floor=_PEAK_FLOOR * float(smooth.max(initial=0.0)))
    rhythm = [nv / runs_v * frame_s if runs_v else 0.0, (n - nv) / runs_u * frame_s if runs_u else 0.0,
              peaks / max(n * frame_s, frame_s)]
    return np.asarray(periodicity + rhythm, dtype=np.float64)[:, None]


_POOLINGS = {
    "functionals": _pool_functionals,
    "voiced_mean_std": _pool_voiced_mean_std,
    "voiced_functionals": _pool_voiced_functionals,
    "prosody": _pool_prosody,
    "voice_functionals": _pool_voice_functionals,
    "voice_summary": _pool_voice_summary,
}


def _runs(entries: tuple[LayoutEntry, ...], key) -> list[tuple[str, tuple[LayoutEntry, ...]]]:
    """Split ``entries`` into maximal runs of consecutive entries with equal ``key(entry)``."""
    runs: list[tuple[str, tuple[LayoutEntry, ...]]] = []
    for e in entries:
        if runs and runs[-1][0] == key(e):
            runs[-1] = (runs[-1][0], runs[-1][1] + (e,))
        else:
            runs.append((key(e), (e,)))
    return runs


#: One pooling call: (pooling, ((contour kind, sources), ...), shape of its result).
_PoolStep = tuple[str, tuple[tuple[str, tuple[str, ...]], ...], tuple[int, int]]


def _pooling_plan(layout: tuple[LayoutEntry, ...]) -> tuple[_PoolStep, ...]:
    """The pooling calls that compute ``layout``'s values, in column order.

    Consecutive entries with the same pooling are pooled in one call, and within them
    consecutive entries with the same contour kind are transformed together (one matrix of
    stacked rows: fewer, larger numpy operations, the same values since every step works
    row by row).
    """
    return tuple(
        (pooling,
         tuple((kind, tuple(e.source for e in run)) for kind, run in _runs(batch, lambda e: e.contour)),
         (sum(len(e.rows) for e in batch), max(1, len(batch[0].stats))))
        for pooling, batch in _runs(layout, lambda e: e.pooling)
    )


def _pool(plan: tuple[_PoolStep, ...], u: _Utterance) -> np.ndarray:
    """Pool an utterance's descriptors into the feature vector of a layout's ``plan``.

    Every step's result is checked against the shape the layout gives it, so values and
    names cannot fall out of step.

    Returns
    -------
    np.ndarray, float32, shape (n_features,)
        Non-finite values replaced by 0.
    """
    parts: list[np.ndarray] = []
    stacks: dict[tuple[str, ...], np.ndarray] = {}
    for pooling, contour_runs, expect in plan:
        contours = [_contours(kind, sources, u, stacks) for kind, sources in contour_runs]
        x = None if contours[0] is None else (contours[0] if len(contours) == 1 else np.vstack(contours))
        pooled = _POOLINGS[pooling](x, u)
        if pooled.shape != expect:  # a layout/pooling mismatch is a bug, never silent
            raise RuntimeError(f"pooling {pooling!r} gave shape {pooled.shape}, layout says {expect}")
        parts.append(pooled.ravel())
    v = np.concatenate(parts)
    v[~np.isfinite(v)] = 0.0  # what np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0) gives
    return v.astype(np.float32)


#: Poolings of rows taken one by one (functionals of each row): a subset of their rows is
#: pooled alone. The others read their sources whole and are kept or left out whole.
_ROWWISE_POOLINGS = frozenset({"functionals", "voiced_mean_std", "voice_functionals", "voiced_functionals"})


@dataclass(frozen=True)
class SubsetPlan:
    """What to compute for a subset of a layout's columns (:func:`subset_plan`).

    Attributes
    ----------
    plan : tuple
        The pooling plan of the reduced layout (:func:`_pooling_plan`).
    rows : dict of str -> np.ndarray, int64
        Per descriptor source, the rows its "frames"/"delta" contours keep.
    sources : frozenset of str
        The descriptor groups any kept column reads.
    whole : frozenset of str
        The descriptor groups a kept block reads whole (all rows needed).
    positions : np.ndarray, int64, shape (n_pooled,)
        Column of the full layout of each pooled value.
    n_features : int
        Width of the full layout.
    """

    plan: tuple
    rows: dict
    sources: frozenset
    positions: np.ndarray
    n_features: int
    whole: frozenset = frozenset()

    def rows_of(self, source: str) -> frozenset[int] | None:
        """The rows of ``source`` any kept column reads; None: all of them."""
        if source in self.whole or source not in self.rows:
            return None
        return frozenset(self.rows[source].tolist())


def subset_plan(layout: tuple[LayoutEntry, ...], columns: np.ndarray) -> SubsetPlan:
    """The reduced pooling plan that computes at least ``columns`` of ``layout``.

    Row-wise blocks (:data:`_ROWWISE_POOLINGS`) keep the rows any kept column belongs to;
    since one descriptor source feeds several blocks (frames, deltas, voiced), each source
    keeps the union of its rows over them. Other blocks are kept whole when any of their
    columns is kept. Every kept value is computed by the same row-wise operations as in the
    full layout.

    Parameters
    ----------
    layout : tuple of LayoutEntry
    columns : np.ndarray, int, shape (k,)
        Column indices of the full layout.

    Returns
    -------
    SubsetPlan

    Raises
    ------
    ValueError
        A column outside the layout.
    """
    starts = np.cumsum([0] + [e.n_columns for e in layout])
    cols = np.unique(np.asarray(columns, dtype=np.int64))
    if cols.size and (cols[0] < 0 or cols[-1] >= starts[-1]):
        raise ValueError(f"columns must lie in 0..{starts[-1] - 1}")
    wanted: dict[str, set[int]] = {}
    keep_whole: set[int] = set()
    for i, e in enumerate(layout):
        inside = cols[(cols >= starts[i]) & (cols < starts[i + 1])] - starts[i]
        if not inside.size:
            continue
        if e.pooling in _ROWWISE_POOLINGS and e.contour in _ROW_CONTOURS:
            wanted.setdefault(e.source, set()).update((inside // max(1, len(e.stats))).tolist())
        else:
            keep_whole.add(i)
    rows = {src: np.array(sorted(r), dtype=np.int64) for src, r in wanted.items()}
    entries, positions = [], []
    for i, e in enumerate(layout):
        n_stats = max(1, len(e.stats))
        if i in keep_whole:
            entries.append(e)
            positions.append(np.arange(starts[i], starts[i + 1]))
        elif e.pooling in _ROWWISE_POOLINGS and e.contour in _ROW_CONTOURS and e.source in rows:
            r = rows[e.source]
            entries.append(LayoutEntry(e.group, tuple(e.rows[j] for j in r), e.stats, e.source, e.contour, e.pooling))
            positions.append((starts[i] + r[:, None] * n_stats + np.arange(n_stats)[None, :]).ravel())
    sources = frozenset(e.source for e in entries) | ({"pitch"} if entries else frozenset())
    return SubsetPlan(_pooling_plan(tuple(entries)), rows, sources,
                      np.concatenate(positions) if positions else np.zeros(0, np.int64), int(starts[-1]),
                      frozenset(layout[i].source for i in keep_whole))


def pool_subset(sub: SubsetPlan, u: _Utterance) -> np.ndarray:
    """The feature vector of the full layout with only ``sub``'s columns computed.

    Returns
    -------
    np.ndarray, float32, shape (sub.n_features,)
        The kept columns as :func:`_pool` gives them; every other column 0.
    """
    out = np.zeros(sub.n_features, dtype=np.float32)
    if sub.plan:
        out[sub.positions] = _pool(sub.plan, _Utterance(d=u.d, voiced=u.voiced, cfg=u.cfg, rows=sub.rows))
    return out
