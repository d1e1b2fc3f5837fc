"""The one feature extractor of ser-live, shared by training and live recognition.

One short-time Fourier transform per utterance; every framewise descriptor is derived from
it (mel bands, MFCC and their deltas, chroma, spectral shape, spectral contrast, and pitch
and voicing from the autocorrelation that the power spectrum already holds) or from the same
frames (zero-crossing rate, RMS energy). The framewise descriptors, shape
``(n_descriptors, n_frames)`` as in librosa, are then pooled over the utterance by statistics
into one fixed-length ``float32`` vector with a name per column. The vector's layout is one
table (:func:`_layout`, a tuple of :class:`LayoutEntry`: column group, contour rows,
statistics) from which both :meth:`FeatureExtractor.feature_names` and the pooled values are
generated; :meth:`FeatureExtractor.groups` gives each group's column indices.

The extractor changes no process-wide setting; programs call
:func:`ser_live.runtime.tune_process` for fast extraction (see that module).

The filter banks are computed here with numpy (they equal librosa's, which the tests check),
so the live recogniser does not import librosa (and numba) at start-up.

References
----------
.. [1] S. Davis and P. Mermelstein, "Comparison of parametric representations for
   monosyllabic word recognition in continuously spoken sentences", IEEE TASSP 28(4), 1980
   (MFCC).
.. [2] M. Slaney, "Auditory Toolbox", Technical Report 1998-010, Interval Research, 1998
   (the mel scale and area-normalised triangular filters used here, as in librosa).
.. [3] D. Ellis, "Chroma feature analysis and synthesis", 2007 (the chroma filter bank, as
   in ``librosa.filters.chroma``).
.. [4] S. Young et al., "The HTK Book", section 5.6 (regression formula for delta features).
.. [5] D.-N. Jiang et al., "Music type classification by spectral contrast feature",
   ICME 2002 (spectral contrast: peak minus valley per sub-band).
.. [6] P. Boersma, "Accurate short-term analysis of the fundamental frequency and the
   harmonics-to-noise ratio of a sampled sound", IFA Proceedings 17, 1993 (pitch from the
   autocorrelation divided by the window's autocorrelation).
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field
from functools import cached_property

import numpy as np
import scipy.fft

from .audiofile import SAMPLE_RATE_HZ

__all__ = [
    "FEATURE_VERSION",
    "FeatureConfig",
    "FeatureExtractor",
    "LayoutEntry",
    "VOICE_ROWS",
    "mel_filterbank",
    "chroma_filterbank",
    "framewise_descriptors",
    "voice_descriptors",
]

log = logging.getLogger(__name__)

#: Bumped whenever the computation changes in a way the configuration does not describe.
FEATURE_VERSION: int = 1

_EPS = 1e-10


@dataclass(frozen=True)
class FeatureConfig:
    """Everything that determines the feature vector. A model records it and refuses others.

    Attributes
    ----------
    sample_rate_hz : int
        Input sample rate (Hz). Audio must be resampled to it first.
    win_length : int
        Analysis window length (samples); 400 = 25 ms at 16 kHz, the common speech frame.
    hop_length : int
        Hop between frames (samples); 160 = 10 ms.
    n_fft : int
        FFT size (samples, >= ``win_length + sample_rate_hz / f0_min_hz`` so the
        autocorrelation taken from the power spectrum is not circularly aliased at pitch lags).
    n_mels : int
        Number of mel bands (Slaney mel scale, 0 Hz to ``fmax_hz``).
    fmax_hz : float
        Upper edge of the mel filter bank (Hz).
    n_mfcc : int
        Number of MFCCs (DCT-II, orthonormal, of the log mel spectrum in dB), c0 included.
    delta_width : int
        Half-width N (frames) of the delta regression window [4]_.
    n_chroma : int
        Chroma bins per octave.
    f0_min_hz, f0_max_hz : float
        Pitch search range (Hz).
    voicing_threshold : float
        Minimum normalised autocorrelation peak (0..1) for a frame to count as voiced.
    level_normalize : bool
        Scale each utterance so its loud frames (90th percentile of frame RMS) sit at
        ``target_level_dbfs`` before analysis, making features independent of microphone gain.
    target_level_dbfs : float
        Level (dBFS) the loud frames are scaled to when ``level_normalize`` is on.
    percentiles : tuple of float
        Percentiles (0..100) used as pooling functionals; must include 5, 25, 75 and 95
        (the inter-quartile and 5-95 % ranges are taken from them).
    voice_quality : bool
        Add the ``voice`` group: eGeMAPS-like prosodic and voice-quality descriptors
        (loudness, alpha ratio, Hammarberg index, spectral slopes 0-500 and 500-1500 Hz,
        H1-H2, jitter and shimmer proxies, voiced and unvoiced segment lengths, loudness
        peak rate; see :func:`voice_descriptors`). Off by default: the default layout, and
        the shipped model made with it, stay as they are. Written by :meth:`to_dict` only
        when on, so the default configuration's dict and hash are unchanged.
    """

    sample_rate_hz: int = SAMPLE_RATE_HZ
    win_length: int = 400
    hop_length: int = 160
    n_fft: int = 1024
    n_mels: int = 64
    fmax_hz: float = 8000.0
    n_mfcc: int = 20
    delta_width: int = 2
    n_chroma: int = 12
    f0_min_hz: float = 70.0
    f0_max_hz: float = 500.0
    voicing_threshold: float = 0.45
    level_normalize: bool = True
    target_level_dbfs: float = -20.0
    percentiles: tuple[float, ...] = (1.0, 5.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0)
    version: int = field(default=FEATURE_VERSION)
    voice_quality: bool = False

    #: Fields added after version 1, written only when they differ from their default, so
    #: that configurations (and the model files and feature caches keyed by them) made
    #: before the field existed keep their dict and hash.
    _OPTIONAL_FIELDS = ("voice_quality",)

    def to_dict(self) -> dict:
        """JSON-able dict of every field (tuples become lists; optional fields at their
        default are left out)."""
        d = asdict(self)
        d["percentiles"] = list(self.percentiles)
        for name in self._OPTIONAL_FIELDS:
            if d[name] == self.__dataclass_fields__[name].default:
                del d[name]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "FeatureConfig":
        """Inverse of :meth:`to_dict`. Raises ``TypeError`` on unknown fields."""
        d = dict(d)
        if "percentiles" in d:
            d["percentiles"] = tuple(float(p) for p in d["percentiles"])
        return cls(**d)

    @property
    def config_hash(self) -> str:
        """Short stable hash (12 hex digits) of the configuration, for caches and model files."""
        s = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha1(s.encode()).hexdigest()[:12]

    @property
    def min_samples(self) -> int:
        """Shortest input accepted (samples): five windows' worth of hops, 0.065 s by default."""
        return self.win_length + 4 * self.hop_length


# ----------------------------------------------------------------------------- filter banks


#: Slaney's mel scale [2]_ (as librosa, htk=False): linear, 200/3 Hz per mel, below 1 kHz;
#: logarithmic above, a factor 6.4 every 27 mels.
_MEL_F_SP = 200.0 / 3
_MEL_MIN_LOG_HZ = 1000.0
_MEL_MIN_LOG_MEL = _MEL_MIN_LOG_HZ / _MEL_F_SP
_MEL_LOGSTEP = np.log(6.4) / 27.0


def _hz_to_mel_slaney(f: np.ndarray) -> np.ndarray:
    """Hz -> mel on Slaney's scale (see the constants above)."""
    f = np.asanyarray(f, dtype=np.float64)
    log_part = _MEL_MIN_LOG_MEL + np.log(np.maximum(f, _EPS) / _MEL_MIN_LOG_HZ) / _MEL_LOGSTEP
    return np.where(f >= _MEL_MIN_LOG_HZ, log_part, f / _MEL_F_SP)


def _mel_to_hz_slaney(m: np.ndarray) -> np.ndarray:
    """Inverse of :func:`_hz_to_mel_slaney`."""
    m = np.asanyarray(m, dtype=np.float64)
    log_part = _MEL_MIN_LOG_HZ * np.exp(_MEL_LOGSTEP * (m - _MEL_MIN_LOG_MEL))
    return np.where(m >= _MEL_MIN_LOG_MEL, log_part, _MEL_F_SP * m)


def mel_filterbank(
    *, sample_rate_hz: int, n_fft: int, n_mels: int, fmin_hz: float = 0.0, fmax_hz: float | None = None
) -> np.ndarray:
    """Triangular, area-normalised mel filter bank on the Slaney mel scale [2]_.

    Equal to ``librosa.filters.mel(sr=sample_rate_hz, n_fft=n_fft, n_mels=n_mels,
    fmin=fmin_hz, fmax=fmax_hz)`` (htk=False, norm="slaney").

    Returns
    -------
    np.ndarray, float32, shape (n_mels, 1 + n_fft // 2)
    """
    fmax_hz = sample_rate_hz / 2 if fmax_hz is None else fmax_hz
    fftfreqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate_hz)
    mel_pts = np.linspace(_hz_to_mel_slaney(fmin_hz), _hz_to_mel_slaney(fmax_hz), n_mels + 2)
    mel_f = _mel_to_hz_slaney(mel_pts)
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fftfreqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def chroma_filterbank(*, sample_rate_hz: int, n_fft: int, n_chroma: int = 12) -> np.ndarray:
    """Chroma filter bank of Ellis [3]_: Gaussian bumps per pitch class, octave-weighted.

    Equal to ``librosa.filters.chroma(sr=sample_rate_hz, n_fft=n_fft, n_chroma=n_chroma)``
    (tuning 0, ctroct 5, octwidth 2, norm 2, base_c True).

    Returns
    -------
    np.ndarray, float32, shape (n_chroma, 1 + n_fft // 2)
    """
    frequencies = np.linspace(0, sample_rate_hz, n_fft, endpoint=False)[1:]
    a440 = 440.0
    octs = np.log2(frequencies / (a440 / 16.0))  # hz_to_octs with tuning 0
    frqbins = n_chroma * octs
    frqbins = np.concatenate(([frqbins[0] - 1.5 * n_chroma], frqbins))
    binwidthbins = np.concatenate((np.maximum(frqbins[1:] - frqbins[:-1], 1.0), [1]))
    D = np.subtract.outer(frqbins, np.arange(0, n_chroma, dtype="d")).T
    n_chroma2 = np.round(float(n_chroma) / 2)
    D = np.remainder(D + n_chroma2 + 10 * n_chroma, n_chroma) - n_chroma2
    wts = np.exp(-0.5 * (2 * D / np.tile(binwidthbins, (n_chroma, 1))) ** 2)
    norms = np.sqrt(np.sum(wts**2, axis=0, keepdims=True))
    wts = wts / np.where(norms > 0, norms, 1.0)
    ctroct, octwidth = 5.0, 2.0
    wts *= np.tile(np.exp(-0.5 * (((frqbins / n_chroma - ctroct) / octwidth) ** 2)), (n_chroma, 1))
    wts = np.roll(wts, -3 * (n_chroma // 12), axis=0)
    return np.ascontiguousarray(wts[:, : int(1 + n_fft / 2)], dtype=np.float32)


def _dct_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Orthonormal DCT-II matrix, shape (n_out, n_in): ``mfcc = M @ log_mel``."""
    n = np.arange(n_in)
    k = np.arange(n_out)[:, None]
    m = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    m[0] /= np.sqrt(2.0)
    return m.astype(np.float32)


def _delta(x: np.ndarray, width: int) -> np.ndarray:
    """HTK regression deltas [4]_ along the last axis, edges padded by repetition.

    ``d_t = sum_{n=1..N} n (x_{t+n} - x_{t-n}) / (2 sum n^2)``; shape kept.
    """
    if x.shape[-1] == 0:
        return x.copy()
    t = x.shape[-1]
    # edge padding by concatenation: np.pad gives the same array with more overhead
    pad = np.concatenate([np.repeat(x[:, :1], width, axis=1), x, np.repeat(x[:, -1:], width, axis=1)], axis=1)
    out = np.zeros_like(x)
    for n in range(1, width + 1):
        out += n * (pad[:, width + n : width + n + t] - pad[:, width - n : width - n + t])
    return out / (2.0 * sum(n * n for n in range(1, width + 1)))


# ----------------------------------------------------------------------------- descriptors

#: Roll-off points: frequency below which this fraction of the spectral power lies.
_ROLLOFF_POINTS = (0.25, 0.5, 0.75, 0.9)

#: Bands (Hz) whose energy relative to the whole spectrum is a descriptor (as in ComParE).
_ENERGY_BANDS_HZ = ((250.0, 650.0), (1000.0, 4000.0))

#: Bands (Hz) of the eGeMAPS spectral slopes (voice_quality).
_VOICE_SLOPE_BANDS_HZ = ((0.0, 500.0), (500.0, 1500.0))

#: Sub-band edges (Hz) for spectral contrast [5]_.
_CONTRAST_EDGES_HZ = (0.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0)


class _Analysis:
    """Precomputed constants of one configuration (window, filter banks, DCT, lags)."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        n_bins = cfg.n_fft // 2 + 1
        # periodic Hann window, as scipy.signal.get_window('hann') and librosa use
        self.window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(cfg.win_length) / cfg.win_length)).astype(
            np.float32
        )
        self.mel_fb = mel_filterbank(
            sample_rate_hz=cfg.sample_rate_hz, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmax_hz=cfg.fmax_hz
        )
        self.chroma_fb = chroma_filterbank(
            sample_rate_hz=cfg.sample_rate_hz, n_fft=cfg.n_fft, n_chroma=cfg.n_chroma
        )
        self.dct = _dct_matrix(cfg.n_mfcc, cfg.n_mels)
        self.freqs = np.fft.rfftfreq(cfg.n_fft, d=1.0 / cfg.sample_rate_hz).astype(np.float32)  # (n_bins,)
        self.lag_min = max(2, int(np.floor(cfg.sample_rate_hz / cfg.f0_max_hz)))
        self.lag_max = int(np.ceil(cfg.sample_rate_hz / cfg.f0_min_hz))
        if cfg.win_length + self.lag_max > cfg.n_fft:
            raise ValueError(
                f"n_fft={cfg.n_fft} is too small for pitch lags up to {self.lag_max} samples with "
                f"a {cfg.win_length}-sample window: need n_fft >= {cfg.win_length + self.lag_max}"
            )
        # autocorrelation of the window itself, to unbias the signal's (Boersma 1993)
        w_spec = np.abs(np.fft.rfft(self.window, n=cfg.n_fft)) ** 2
        w_ac = np.fft.irfft(w_spec, n=cfg.n_fft)[: self.lag_max + 2]
        # capped so long lags, where the window overlaps itself little, are not amplified past 4x
        self.inv_window_ac = (1.0 / np.maximum(w_ac / w_ac[0], 0.25)).astype(np.float32)
        band = np.arange(cfg.n_mels, dtype=np.float64) - (cfg.n_mels - 1) / 2.0
        self.band_centered = (band / (band**2).sum()).astype(np.float32)
        edges = [e for e in _CONTRAST_EDGES_HZ if e <= cfg.sample_rate_hz / 2]
        self.contrast_bands = []
        for lo, hi in zip(edges[:-1], edges[1:]):
            idx = np.flatnonzero((self.freqs >= lo) & (self.freqs < hi if hi < cfg.sample_rate_hz / 2 else self.freqs <= hi))
            if idx.size >= 3:
                self.contrast_bands.append((lo, hi, idx[0], idx[-1] + 1))
        self.n_bins = n_bins
        # eGeMAPS-like spectral balance (voice_quality): band bins and slope regressors
        self.alpha_bands = (self._bins(50.0, 1000.0), self._bins(1000.0, 5000.0))
        self.hammarberg_bands = (self._bins(0.0, 2000.0), self._bins(2000.0, 5000.0))
        self.slope_bands = []
        for lo, hi in _VOICE_SLOPE_BANDS_HZ:
            a, b = self._bins(lo, hi)
            fc = self.freqs[a:b].astype(np.float64) - self.freqs[a:b].mean()
            self.slope_bands.append((a, b, (1000.0 * fc / (fc @ fc)).astype(np.float32)))  # dB per kHz
        self.energy_bands = [
            (int(np.searchsorted(self.freqs, lo)), int(np.searchsorted(self.freqs, hi)))
            for lo, hi in _ENERGY_BANDS_HZ
        ]


    def _bins(self, lo_hz: float, hi_hz: float) -> tuple[int, int]:
        """Bin range [a, b) of the frequencies in [lo_hz, hi_hz)."""
        return int(np.searchsorted(self.freqs, lo_hz)), int(np.searchsorted(self.freqs, hi_hz))


def _frames(y: np.ndarray, win_length: int, hop_length: int) -> np.ndarray:
    """Non-centred frames, shape (n_frames, win_length); the tail is zero-padded to a hop."""
    n = y.shape[0]
    n_frames = 1 + max(0, int(np.ceil((n - win_length) / hop_length)))
    need = (n_frames - 1) * hop_length + win_length
    if need > n:
        y = np.concatenate([y, np.zeros(need - n, dtype=y.dtype)])
    return np.lib.stride_tricks.sliding_window_view(y, win_length)[::hop_length][:n_frames]


def framewise_descriptors(y: np.ndarray, analysis: _Analysis) -> dict[str, np.ndarray]:
    """Framewise low-level descriptors of one utterance, all from one STFT.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Mono audio at ``analysis.cfg.sample_rate_hz``, at least ``cfg.min_samples`` long.
    analysis : _Analysis
        Constants of the configuration.

    Returns
    -------
    dict of str -> np.ndarray, float32, each shape (n_rows, n_frames)
        ``mfcc`` (n_mfcc), ``logmel`` (n_mels, dB),
        ``chroma`` (n_chroma, frame-normalised to sum 1), ``spectral`` (centroid Hz,
        bandwidth Hz, roll-off Hz at 25/50/75/90 % of the power, flatness 0..1, flux, slope
        dB/band, entropy 0..1, energy of 250-650 Hz and 1-4 kHz relative to all, dB),
        ``contrast`` (dB, one row per sub-band), ``energy`` (RMS dBFS, zero-crossing rate),
        ``pitch`` (f0 Hz, 0 where unvoiced; voicing strength 0..1; harmonics-to-noise dB);
        with ``cfg.voice_quality``, ``voice`` (see :func:`voice_descriptors`).
    """
    cfg = analysis.cfg
    frames = _frames(y, cfg.win_length, cfg.hop_length)  # (T, win)
    n_t = frames.shape[0]
    # windowed frames written straight into a zero-padded buffer: the same transform as
    # rfft(frames * window, n=n_fft), without the copy scipy makes to pad each row
    padded = np.zeros((n_t, cfg.n_fft), dtype=np.float32)
    np.multiply(frames, analysis.window, out=padded[:, : cfg.win_length])
    spec = scipy.fft.rfft(padded, axis=1)  # (T, n_bins) complex64
    del padded
    power = spec.real * spec.real + spec.imag * spec.imag  # (T, n_bins) float32

    # --- mel and MFCC (rows = coefficients, columns = frames); deltas of every descriptor
    # are taken in pooling (see _layout)
    mel = analysis.mel_fb @ power.T  # (n_mels, T)
    logmel = 10.0 * np.log10(np.maximum(mel, np.float32(_EPS)))
    mfcc = analysis.dct @ logmel

    # --- chroma (energy-normalised per frame)
    chroma = analysis.chroma_fb @ power.T
    chroma /= np.maximum(chroma.sum(axis=0, keepdims=True), np.float32(_EPS))

    # --- spectral shape: moments of the magnitude spectrum as matrix-vector products
    mag = np.sqrt(power)  # (T, n_bins)
    msum = np.maximum(mag.sum(axis=1), np.float32(_EPS))
    centroid = (mag @ analysis.freqs) / msum
    second = (mag @ (analysis.freqs * analysis.freqs)) / msum
    bandwidth = np.sqrt(np.maximum(second - centroid * centroid, 0.0))
    cum = np.cumsum(power, axis=1)
    total = np.maximum(cum[:, -1:], np.float32(_EPS))
    # the roll-off bin is the number of bins whose cumulative power is below q * total;
    # cum is non-decreasing, so that is the first bin reaching it (argmax stops there)
    rows = np.arange(n_t)
    rolloffs = []
    for q in _ROLLOFF_POINTS:
        reached = cum >= q * total
        first = np.argmax(reached, axis=1)
        first = np.where(reached[rows, first], first, analysis.n_bins - 1)  # none reached: last bin
        rolloffs.append(analysis.freqs[first])
    # spectral entropy (bits, normalised to 0..1) of the power distribution over bins
    pnorm = power / total
    plogp = pnorm + np.float32(_EPS)
    np.log2(plogp, out=plogp)
    plogp *= pnorm
    entropy = -plogp.sum(axis=1) / np.float32(np.log2(analysis.n_bins))
    del pnorm, plogp
    # energy of two speech bands relative to the whole spectrum (dB), as in ComParE
    band_db = [
        10.0 * np.log10((cum[:, b - 1] - (cum[:, a - 1] if a > 0 else 0.0)) / total[:, 0] + np.float32(_EPS))
        for a, b in analysis.energy_bands
    ]
    # flatness (geometric / arithmetic mean) and flux on the mel power spectrum
    ln_mel = logmel * np.float32(np.log(10.0) / 10.0)
    flatness = np.exp(ln_mel.mean(axis=0)) / np.maximum(mel.mean(axis=0), np.float32(_EPS))
    norm_mel = mel / np.maximum(mel.sum(axis=0, keepdims=True), np.float32(_EPS))
    flux = np.zeros(n_t, dtype=np.float32)
    if n_t > 1:
        flux[1:] = np.sqrt((np.diff(np.sqrt(norm_mel), axis=1) ** 2).sum(axis=0))
    # spectral slope: regression of the log mel spectrum (dB) on band index
    slope = analysis.band_centered @ logmel
    spectral = np.vstack([centroid, bandwidth, *rolloffs, flatness, flux, slope, entropy, *band_db])

    # --- spectral contrast per sub-band (peak vs valley: top/bottom 20 % of bins) [5]
    contrast = np.empty((len(analysis.contrast_bands), n_t), dtype=np.float32)
    for i, (_lo, _hi, a, b) in enumerate(analysis.contrast_bands):
        sub = np.sort(power[:, a:b], axis=1)
        k = max(1, int(round(0.2 * (b - a))))
        contrast[i] = 10.0 * np.log10((sub[:, -k:].mean(axis=1) + _EPS) / (sub[:, :k].mean(axis=1) + _EPS))

    # --- energy and zero-crossing rate from the same frames
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / frames.shape[1])
    rms_db = 20.0 * np.log10(np.maximum(rms, np.float32(1e-5)))
    # zero-crossing rate: sign changes between consecutive samples, counted once along the
    # (zero-padded) signal and per frame as differences of their running count
    win, hop = frames.shape[1], cfg.hop_length
    signs = np.zeros((n_t - 1) * hop + win, dtype=bool)
    np.signbit(y, out=signs[: y.shape[0]])
    changes = np.zeros(signs.shape[0], dtype=np.int64)
    np.cumsum(signs[1:] != signs[:-1], out=changes[1:])
    starts = np.arange(n_t) * hop
    zcr = (changes[starts + win - 1] - changes[starts]) / np.float32(win - 1)
    energy = np.vstack([rms_db, zcr])

    # --- pitch and voicing: autocorrelation = inverse FFT of the power spectrum
    # (Wiener-Khinchin), divided by the window's own autocorrelation [6]
    # (a complex64 input spares scipy its slower real-to-complex conversion; same values)
    ac = scipy.fft.irfft(power.astype(np.complex64), n=cfg.n_fft, axis=1)[:, : analysis.lag_max + 2]
    nac = ac / np.maximum(ac[:, :1], np.float32(_EPS))
    nac *= analysis.inv_window_ac
    lo, hi = analysis.lag_min, analysis.lag_max
    search = nac[:, lo : hi + 1]
    rows = np.arange(n_t)
    best = np.argmax(search, axis=1) + lo
    strength = nac[rows, best]
    # prefer the shortest lag (highest f0) that is a sub-multiple of the best one and
    # nearly as strong: guards against the usual octave-down errors
    for div in (2, 3):
        cand = np.rint(best / div).astype(np.int64)
        ok = (cand >= lo) & (nac[rows, np.clip(cand, 0, nac.shape[1] - 1)] >= 0.9 * strength)
        best = np.where(ok, cand, best)
    val = nac[rows, best]
    left = nac[rows, best - 1]
    right = nac[rows, np.minimum(best + 1, nac.shape[1] - 1)]
    denom = left - 2.0 * val + right
    safe = np.where(np.abs(denom) > 1e-6, denom, 1.0)
    shift = np.clip(np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / safe, 0.0), -0.5, 0.5)
    f0 = cfg.sample_rate_hz / (best + shift)
    loud = rms_db > (rms_db.max() - 35.0)
    voiced = (strength >= cfg.voicing_threshold) & loud & (zcr < 0.3)
    r = np.clip(strength, 1e-3, 1.0 - 1e-3)
    hnr_db = 10.0 * np.log10(r / (1.0 - r))  # harmonics-to-noise ratio from the peak [6]
    pitch = np.vstack([np.where(voiced, f0, 0.0), np.clip(strength, 0.0, 1.0), hnr_db])

    out = {
        "mfcc": mfcc,
        "logmel": logmel,
        "chroma": chroma,
        "spectral": spectral,
        "contrast": contrast,
        "energy": energy,
        "pitch": pitch,
    }
    if cfg.voice_quality:
        out["voice"] = voice_descriptors(power=power, cum=cum, mel=mel, f0_hz=f0, analysis=analysis)
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


#: Rows of the ``voice`` descriptors (:func:`voice_descriptors`), in order.
VOICE_ROWS = ("loudness", "alpha_ratio_db", "hammarberg_db", "slope0_500_db_per_khz",
              "slope500_1500_db_per_khz", "h1_h2_db")


def voice_descriptors(
    *, power: np.ndarray, cum: np.ndarray, mel: np.ndarray, f0_hz: np.ndarray, analysis: _Analysis
) -> np.ndarray:
    """eGeMAPS-like framewise loudness, spectral balance and voice-quality descriptors [7]_.

    Cheap stand-ins computed from the power spectrum the other descriptors already use (no
    formant tracking, no auditory filter bank).

    Parameters
    ----------
    power : np.ndarray, float32, shape (n_frames, n_bins)
        Power spectrum of each frame.
    cum : np.ndarray, float32, shape (n_frames, n_bins)
        ``np.cumsum(power, axis=1)``.
    mel : np.ndarray, float32, shape (n_mels, n_frames)
        Mel power spectrogram.
    f0_hz : np.ndarray, shape (n_frames,)
        Pitch estimate of every frame (Hz; also of unvoiced frames, where it means little).
    analysis : _Analysis
        Constants of the configuration.

    Returns
    -------
    np.ndarray, float32, shape (6, n_frames)
        Rows :data:`VOICE_ROWS`: ``loudness`` (sum of the mel power spectrum raised to 0.3,
        Stevens' power law, as openSMILE's auditory-spectrum loudness; arbitrary units),
        ``alpha_ratio_db`` (energy 50-1000 Hz over 1-5 kHz, dB), ``hammarberg_db``
        (strongest bin 0-2 kHz over strongest bin 2-5 kHz, dB), ``slope0_500_db_per_khz``
        and ``slope500_1500_db_per_khz`` (least-squares slope of the dB power spectrum in
        the band, dB/kHz), ``h1_h2_db`` (first over second harmonic: strongest bin within
        one bin of f0 and of 2 f0, dB).

    References
    ----------
    .. [7] F. Eyben et al., "The Geneva Minimalistic Acoustic Parameter Set (GeMAPS) for
       voice research and affective computing", IEEE Trans. Affective Computing 7(2), 2016.
    """
    eps = np.float32(_EPS)
    loudness = np.power(np.maximum(mel, 0.0), np.float32(0.3)).sum(axis=0)

    def band_energy(a: int, b: int) -> np.ndarray:
        return cum[:, b - 1] - (cum[:, a - 1] if a > 0 else 0.0)

    (a1, b1), (a2, b2) = analysis.alpha_bands
    alpha = 10.0 * np.log10((band_energy(a1, b1) + eps) / (band_energy(a2, b2) + eps))
    (a1, b1), (a2, b2) = analysis.hammarberg_bands
    hammarberg = 10.0 * np.log10((power[:, a1:b1].max(axis=1) + eps) / (power[:, a2:b2].max(axis=1) + eps))
    slopes = [(10.0 * np.log10(power[:, a:b] + eps)) @ w for a, b, w in analysis.slope_bands]
    bin_hz = analysis.freqs[1]
    rows = np.arange(power.shape[0])[:, None]
    harmonic = []
    for k in (1, 2):
        centre = np.rint(k * np.asarray(f0_hz, dtype=np.float64) / bin_hz).astype(np.int64)
        idx = np.clip(centre[:, None] + np.arange(-1, 2), 0, power.shape[1] - 1)
        harmonic.append(power[rows, idx].max(axis=1))
    h1_h2 = 10.0 * np.log10((harmonic[0] + eps) / (harmonic[1] + eps))
    return np.vstack([loudness, alpha, hammarberg, *slopes, h1_h2]).astype(np.float32)


# ----------------------------------------------------------------------------- pooling


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
    x = x.astype(np.float64)
    n_rows, n = x.shape
    mean = x.mean(axis=1)
    c = x - mean[:, None]
    c2 = c * c
    std = np.sqrt(c2.mean(axis=1))
    flat = std <= 1e-8
    safe = np.where(flat, 1.0, std)
    skew = np.where(flat, 0.0, (c2 * c).mean(axis=1) / safe**3)
    kurt = np.where(flat, 0.0, (c2 * c2).mean(axis=1) / safe**4 - 3.0)
    perc = _percentiles_sorted(np.sort(x, axis=1), q)  # (n_rows, len(q))
    qi = {v: i for i, v in enumerate(q)}
    iqr = perc[:, qi[75.0]] - perc[:, qi[25.0]]
    r90 = perc[:, qi[95.0]] - perc[:, qi[5.0]]
    t = (np.arange(n) - (n - 1) / 2.0) * frame_s
    tt = float(t @ t)
    slope = (c @ t) / tt if tt > 0 else np.zeros(n_rows)
    resid = np.sqrt(np.maximum(std**2 - slope**2 * (tt / n), 0.0))
    denom = max(n - 1, 1)
    argmax = np.argmax(x, axis=1) / denom
    argmin = np.argmin(x, axis=1) / denom
    return np.column_stack([mean, std, skew, kurt, perc, iqr, r90, slope, resid, argmax, argmin])


def _percentiles_sorted(xs: np.ndarray, q: tuple[float, ...]) -> np.ndarray:
    """Percentiles ``q`` (0..100) along the last axis of already sorted data, with linear
    interpolation between order statistics (``np.percentile``'s default method).

    Parameters
    ----------
    xs : np.ndarray, shape (..., n), n >= 1, sorted along the last axis
    q : tuple of float

    Returns
    -------
    np.ndarray, float64, shape (..., len(q))
    """
    n = xs.shape[-1]
    pos = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = pos - lo
    return xs[..., lo] * (1.0 - frac) + xs[..., hi] * frac


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
        (HTK regression deltas over frames [4]_), ``"voiced_st_hnr"`` (f0 in semitones re
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
    jitter, shimmer and segment lengths (:func:`_pool_voice_summary`).
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
    return (
        *(LayoutEntry(g, rows, fn, g, "frames", "functionals") for g, rows in lld),
        *(LayoutEntry(f"{g}_d", tuple(f"{r}_d" for r in rows), fn, g, "delta", "functionals") for g, rows in lld),
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

    @property
    def frame_s(self) -> float:
        return self.cfg.hop_length / self.cfg.sample_rate_hz


#: Minimum number of voiced frames for statistics over voiced frames (else they are 0).
_MIN_VOICED_FRAMES = 3


def _contours(kind: str, sources: tuple[str, ...], u: _Utterance, stacks: dict) -> np.ndarray | None:
    """Contours of entries sharing one contour ``kind``, stacked: float32 (n_rows, n).

    Rows of several sources are stacked before the transform (one delta of all rows instead
    of one per group: the same values, since every transform works row by row); ``stacks``
    memoises the stacked sources within one utterance.
    """
    if kind == "none":
        return None
    if sources not in stacks:
        stacks[sources] = u.d[sources[0]] if len(sources) == 1 else np.vstack([u.d[k] for k in sources])
    x = stacks[sources]
    if kind == "frames":
        return x
    if kind == "delta":
        return _delta(x, u.cfg.delta_width)
    if kind == "voiced_st_hnr":
        f0, _strength, hnr = x
        return np.vstack([12.0 * np.log2(f0[u.voiced] / 100.0), hnr[u.voiced]])
    raise ValueError(f"unknown contour {kind!r}")


def _pool_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    return _functionals(x, u.cfg.percentiles, u.frame_s)


def _pool_voiced_mean_std(x: np.ndarray, u: _Utterance) -> np.ndarray:
    if u.voiced.sum() < _MIN_VOICED_FRAMES:
        return np.zeros((x.shape[0], 2))
    vb = x[:, u.voiced].astype(np.float64)
    return np.column_stack([vb.mean(axis=1), vb.std(axis=1)])


def _pool_voiced_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    if u.voiced.sum() < _MIN_VOICED_FRAMES:
        return np.zeros((x.shape[0], len(functional_names(u.cfg.percentiles))))
    return _functionals(x, u.cfg.percentiles, u.frame_s)


def _pool_prosody(_x: None, u: _Utterance) -> np.ndarray:
    """The :data:`_PROSODY_ROWS` of one utterance, float64 shape (14, 1)."""
    f0, strength, _hnr = u.d["pitch"].astype(np.float64)
    rms_db = u.d["energy"][0].astype(np.float64)
    n = f0.shape[0]
    frame_s = u.frame_s
    voiced = f0 > 0
    nv = int(voiced.sum())
    if nv >= 2:
        st = 12.0 * np.log2(f0[voiced] / 100.0)  # semitones re 100 Hz
        p10, p50, p90 = _percentiles_sorted(np.sort(st), (10.0, 50.0, 90.0))
        t = np.flatnonzero(voiced) * frame_s
        tc = t - t.mean()
        tt = float(tc @ tc)
        slope = float(tc @ (st - st.mean())) / tt if tt > 0 else 0.0  # least-squares line
        # deltas only between consecutive voiced frames
        consec = np.flatnonzero(voiced[1:] & voiced[:-1])
        st_full = np.zeros(n)
        st_full[voiced] = st
        dabs = np.abs(st_full[consec + 1] - st_full[consec]).mean() if consec.size else 0.0
        f0_stats = [st.mean(), st.std(), p10, p50, p90, p90 - p10, slope, dabs]
    else:
        f0_stats = [0.0] * 8
    runs = int(np.sum(voiced[1:] & ~voiced[:-1]) + (1 if n and voiced[0] else 0))
    dur = max(n * frame_s, frame_s)
    loud = rms_db > (rms_db.max() - 20.0) if n else np.zeros(0, bool)
    rms_dabs = np.abs(np.diff(rms_db)).mean() if n > 1 else 0.0
    rest = [strength.mean(), strength.std(), nv / max(n, 1), runs / dur, loud.mean() if n else 0.0, rms_dabs]
    return np.asarray(f0_stats + rest, dtype=np.float64)[:, None]


def _pool_voice_functionals(x: np.ndarray, u: _Utterance) -> np.ndarray:
    """Mean and standard deviation over all frames and over voiced frames, mean over
    unvoiced frames (as eGeMAPS pools its spectral-balance descriptors), float64 (n, 5)."""
    x = x.astype(np.float64)
    voiced = u.voiced
    nv, nu = int(voiced.sum()), int((~voiced).sum())
    zeros = np.zeros(x.shape[0])
    xv = x[:, voiced]
    return np.column_stack([
        x.mean(axis=1), x.std(axis=1),
        xv.mean(axis=1) if nv >= _MIN_VOICED_FRAMES else zeros,
        xv.std(axis=1) if nv >= _MIN_VOICED_FRAMES else zeros,
        x[:, ~voiced].mean(axis=1) if nu else zeros,
    ])


def _segment_lengths(mask: np.ndarray) -> np.ndarray:
    """Lengths (frames) of the runs of True in a bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


#: Praat's jitter/shimmer limits [8]_: consecutive periods differing by more than this factor,
#: or amplitudes by more than a factor 1.6 (4.1 dB), are not compared.
_MAX_PERIOD_FACTOR = 1.3
_MAX_AMPLITUDE_STEP_DB = 20.0 * np.log10(1.6)
#: Moving-average length (frames, 70 ms at a 10 ms hop) applied before counting loudness
#: peaks; the factor a peak must rise above the valleys beside it (1.3 in loudness, about
#: 4 dB in power) and its minimum height relative to the highest loudness.
_PEAK_SMOOTH_FRAMES = 7
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
        hi, lo = max(hi, v), min(lo, v)
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
        *((jitter.mean(), jitter.std()) if jitter.size >= 2 else (0.0, 0.0)),
        *((shimmer.mean(), shimmer.std()) if shimmer.size >= 2 else (0.0, 0.0)),
    ]
    frame_s = u.frame_s
    runs_v, runs_u = _segment_lengths(voiced), _segment_lengths(~voiced)
    n = loudness.shape[0]
    smooth = np.convolve(loudness, np.full(_PEAK_SMOOTH_FRAMES, 1.0 / _PEAK_SMOOTH_FRAMES), mode="same")
    peaks = _count_peaks(smooth, ratio=_PEAK_RATIO, floor=_PEAK_FLOOR * float(smooth.max(initial=0.0)))
    rhythm = [runs_v.mean() * frame_s if runs_v.size else 0.0, runs_u.mean() * frame_s if runs_u.size else 0.0,
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
    return np.nan_to_num(v, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


class FeatureExtractor:
    """Utterance -> fixed-length feature vector; the same object in training and live.

    Parameters
    ----------
    config : FeatureConfig, optional
        Analysis settings; the default is what the shipped model uses.

    Notes
    -----
    The extractor changes nothing outside itself. Programs that extract many features
    should call :func:`ser_live.runtime.tune_process` once at start-up (the ``ser-live``
    command and ``python -m train`` do): it makes extraction 5-7x faster on a busy machine
    and runs BLAS on one thread as joblib's training workers do.

    Examples
    --------
    >>> fx = FeatureExtractor()
    >>> v = fx.extract(y)            # y: float32 (n_samples,) at 16 kHz
    >>> v.shape == (fx.n_features,), v.dtype == np.float32
    >>> fx.feature_names()[:2]       # ['mfcc0_mean', 'mfcc0_std']
    >>> X[:, fx.groups()["pitch"]]   # the columns of one group
    """

    def __init__(self, config: FeatureConfig | None = None) -> None:
        self.config = config or FeatureConfig()
        self._analysis = _Analysis(self.config)
        self._layout = _layout(self.config, self._analysis)
        self._plan = _pooling_plan(self._layout)

    # -------------------------------------------------------------- public API
    def extract(self, y: np.ndarray) -> np.ndarray:
        """Feature vector of one utterance.

        Parameters
        ----------
        y : np.ndarray, shape (n_samples,)
            Mono audio at ``config.sample_rate_hz``: float32/float64 in [-1, 1], or int16
            (converted by dividing by 32768).

        Returns
        -------
        np.ndarray, float32, shape (n_features,)
            Finite values (digital silence gives defined, finite features).

        Raises
        ------
        ValueError
            ``y`` is not 1-D, or shorter than ``config.min_samples`` (65 ms at 16 kHz).
        """
        d = framewise_descriptors(self._prepare(y), self._analysis)
        return _pool(self._plan, _Utterance(d=d, voiced=d["pitch"][0] > 0, cfg=self.config))

    def framewise(self, y: np.ndarray) -> dict[str, np.ndarray]:
        """The framewise descriptors before pooling (see :func:`framewise_descriptors`)."""
        return framewise_descriptors(self._prepare(y), self._analysis)

    def feature_names(self) -> list[str]:
        """One name per column of :meth:`extract`'s output, e.g. ``"mfcc3_p90"``."""
        return list(self._names)

    @property
    def layout(self) -> tuple[LayoutEntry, ...]:
        """The blocks of columns of the feature vector, in order (see :class:`LayoutEntry`)."""
        return self._layout

    def groups(self) -> dict[str, np.ndarray]:
        """Column indices of each group of the layout, e.g. ``X[:, fx.groups()["mfcc_d"]]``.

        Returns
        -------
        dict of str -> np.ndarray, int64, shape (n_columns_of_group,)
            In layout order: ``mfcc``, ``logmel``, ``chroma``, ``spectral``, ``contrast``,
            ``energy`` (functionals over all frames), the same six with suffix ``_d`` (their
            deltas) and ``_voiced`` (mean and standard deviation over voiced frames),
            ``pitch`` (functionals of voiced f0 in semitones and HNR), ``prosody`` (pitch,
            voicing and energy summary), and with ``config.voice_quality`` ``voice``
            (eGeMAPS-like loudness, spectral balance and voice quality).
        """
        out: dict[str, np.ndarray] = {}
        start = 0
        for e in self._layout:
            cols = np.arange(start, start + e.n_columns)
            out[e.group] = np.concatenate([out[e.group], cols]) if e.group in out else cols
            start += e.n_columns
        return out

    @property
    def n_features(self) -> int:
        """Length of the feature vector."""
        return len(self._names)

    def warmup(self) -> None:
        """Run one extraction on 1 s of noise so first-utterance latency has no start-up cost."""
        rng = np.random.default_rng(0)
        self.extract((0.01 * rng.standard_normal(self.config.sample_rate_hz)).astype(np.float32))

    # -------------------------------------------------------------- internals
    @cached_property
    def _names(self) -> list[str]:
        return [n for e in self._layout for n in e.column_names()]

    def _prepare(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
        if y.dtype == np.int16:
            y = y.astype(np.float32) / np.float32(32768.0)
        y = y.astype(np.float32, copy=False)
        if y.shape[0] < self.config.min_samples:
            raise ValueError(
                f"utterance of {y.shape[0]} samples ({y.shape[0] / self.config.sample_rate_hz * 1000:.0f} ms) "
                f"is shorter than the {self.config.min_samples} samples "
                f"({self.config.min_samples / self.config.sample_rate_hz * 1000:.0f} ms) the extractor needs"
            )
        if not np.all(np.isfinite(y)):
            raise ValueError("audio contains NaN or infinite samples")
        if self.config.level_normalize:
            y = self._normalize_level(y)
        return y

    def _normalize_level(self, y: np.ndarray) -> np.ndarray:
        cfg = self.config
        frames = _frames(y, cfg.win_length, cfg.hop_length)
        rms = np.sqrt(np.mean(frames**2, axis=1))
        loud = float(np.percentile(rms, 90))
        if loud < 1e-5:  # digital silence or near it: leave as is
            return y
        gain = (10.0 ** (cfg.target_level_dbfs / 20.0)) / loud
        return (y * np.float32(gain)).astype(np.float32)
