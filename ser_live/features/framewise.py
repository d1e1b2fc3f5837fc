"""Framewise low-level descriptors from one STFT per utterance (see :mod:`ser_live.features`,
references [1]_-[6]_ there), and the eGeMAPS-like voice descriptors."""

from __future__ import annotations

import logging
import sys
import threading

import numpy as np

from .config import _EPS, FeatureConfig
from .filterbanks import chroma_filterbank, _dct_matrix, mel_filterbank

__all__ = ["VOICE_ROWS", "framewise_descriptors", "voice_descriptors"]

log = logging.getLogger(__name__)


def _load_pocketfft() -> object | None:
    """SciPy's pocketfft extension (``scipy/fft/_pocketfft/pypocketfft``), loaded from its
    file without importing the ``scipy.fft`` package, or None where that fails.

    ``import scipy.fft`` also imports ``scipy.special`` and SciPy's array-API layer, which
    imports most of NumPy's subpackages: 0.4-2 s of start-up on this project's 2-core
    machine (``python -X importtime``), for two calls into this one extension. NumPy's own
    FFT is not an alternative: its ``rfft`` of float32 frames differs from SciPy's in the
    last bits, and the shipped models were trained on SciPy's. :func:`_rfft` and
    :func:`_irfft` call the extension exactly as ``scipy.fft.rfft``/``irfft`` do
    (``scipy/fft/_pocketfft/basic.py``: ``r2c(x, axes, forward, norm, out, workers)``,
    ``c2r(x, axes, n, forward, norm, out, workers)``), so the values are SciPy's to the bit
    (``tests/test_fastpath.py``).

    The extension is loaded under its own name, ``scipy.fft._pocketfft.pypocketfft``, and
    left in ``sys.modules``, where ``scipy.fft`` (imported later by librosa, ``scipy.signal``,
    skops or the user's code) finds it; one imported before is reused. A second copy of the
    extension under another name made the process abort at exit with "free(): invalid
    pointer" (exit status 134) on SciPy 1.10.0 to 1.15.3 (1.16.3 and 1.17.1 did not).
    """
    name = "scipy.fft._pocketfft.pypocketfft"
    if name in sys.modules:  # scipy.fft is imported already: its module, not a second copy
        module = sys.modules[name]
        return module if hasattr(module, "r2c") and hasattr(module, "c2r") else None
    try:
        import importlib.machinery
        import importlib.util
        from pathlib import Path

        spec = importlib.util.find_spec("scipy")  # locates the package, imports nothing
        if spec is None or not spec.submodule_search_locations:
            return None
        folder = Path(list(spec.submodule_search_locations)[0]) / "fft" / "_pocketfft"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"pypocketfft{suffix}"
            if path.is_file():
                loader = importlib.machinery.ExtensionFileLoader(name, str(path))
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader))
                loader.exec_module(module)
                if not (hasattr(module, "r2c") and hasattr(module, "c2r")):
                    return None
                sys.modules[name] = module  # what `import scipy.fft` loads next: this copy
                return module
    except Exception as exc:  # any failure: scipy.fft's public functions instead
        log.debug("pocketfft extension not loaded directly (%s); using scipy.fft", exc)
    return None


_POCKETFFT = _load_pocketfft()


def _rfft(x: np.ndarray) -> np.ndarray:
    """``scipy.fft.rfft(x, axis=1)`` of float32 frames (n_frames, n_fft): complex64."""
    if _POCKETFFT is None:
        import scipy.fft

        return scipy.fft.rfft(x, axis=1)
    return _POCKETFFT.r2c(x, (1,), True, 0, None, 1)


def _irfft(x: np.ndarray, n: int) -> np.ndarray:
    """``scipy.fft.irfft(x, n=n, axis=1)`` of complex64 spectra (n_frames, n // 2 + 1): float32."""
    if _POCKETFFT is None:
        import scipy.fft

        return scipy.fft.irfft(x, n=n, axis=1)
    return _POCKETFFT.c2r(x, (1,), n, False, 2, None, 1)


#: float32 scalars of the descriptors, made once (the same values as made per call)
_EPS32 = np.float32(_EPS)
_LN10_OVER_10 = np.float32(np.log(10.0) / 10.0)  # dB to natural log
_RMS_FLOOR = np.float32(1e-5)
_LOUDNESS_EXPONENT = np.float32(0.3)

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
        self.log2_n_bins = np.float32(np.log2(n_bins))  # the spectral entropy's normaliser
        # eGeMAPS-like spectral balance (voice_quality): band bins and slope regressors
        self.alpha_bands = (self._bins(50.0, 1000.0), self._bins(1000.0, 5000.0))
        self.hammarberg_bands = (self._bins(0.0, 2000.0), self._bins(2000.0, 5000.0))
        self.slope_bands = []
        for lo, hi in _VOICE_SLOPE_BANDS_HZ:
            a, b = self._bins(lo, hi)
            fc = self.freqs[a:b].astype(np.float64) - self.freqs[a:b].mean()
            self.slope_bands.append((a, b, (1000.0 * fc / (fc @ fc)).astype(np.float32)))  # dB per kHz
        # zero crossings (_sign_changes): a frame's win_length - 1 sample pairs as whole
        # blocks of hop_length pairs and the first r pairs of one more
        self.zc_whole_blocks, r = divmod(cfg.win_length - 1, cfg.hop_length)
        self.zc_blocks = np.zeros((cfg.hop_length, 2), dtype=np.float32)
        self.zc_blocks[:, 0] = 1.0
        self.zc_blocks[:r, 1] = 1.0
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
    # the view sliding_window_view(y, win_length)[::hop_length][:n_frames] is, made directly
    # (a fifth of its cost): the same memory, read-only as that one. On a contiguous signal
    # (as the extractor's) the ndarray constructor makes it, a quarter of as_strided's cost
    strides = (hop_length * y.strides[0], y.strides[0])
    if not y.flags.c_contiguous:
        return np.lib.stride_tricks.as_strided(y, shape=(n_frames, win_length), strides=strides, writeable=False)
    frames = np.ndarray((n_frames, win_length), dtype=y.dtype, buffer=y, strides=strides)
    frames.flags.writeable = False
    return frames


#: Offsets of a lag's neighbours and itself (column: broadcast against a row of lags).
_NEIGHBOURS = np.array([[-1], [0], [1]])

try:  # the ufunc np.clip calls (numpy/_core/_methods.py: _clip), without its Python wrappers
    from numpy._core.umath import clip as _clip
except ImportError:  # NumPy < 2, or a NumPy that moved it: np.clip itself, the same values
    _clip = np.clip

_SCRATCH = threading.local()

#: Longest utterance (frames) whose scratch buffer a thread keeps between calls (20 s:
#: 8 MB of FFT input at n_fft 1024); longer ones get fresh buffers.
_SCRATCH_MAX_FRAMES = 2000


def _frame_rms_db(frames: np.ndarray) -> np.ndarray:
    """RMS level (dBFS, floored at -100) of each frame: float32, shape (n_frames,), of frames
    (float32, shape (n_frames, win_length)); the energy group's ``rms_db`` row."""
    rms = np.sqrt(np.einsum("ij,ij->i", frames, frames) / frames.shape[1])
    return 20.0 * np.log10(np.maximum(rms, _RMS_FLOOR))


def _sign_changes(y: np.ndarray, n_t: int, analysis: _Analysis) -> np.ndarray:
    """Sign changes between consecutive samples within each frame: float64 (n_t,), whole
    numbers, of ``y`` (float32, shape (n_samples,)) framed as :func:`_frames` frames it (the
    tail zero-padded, whose samples count as positive).

    The same counts as finding the changes along the signal and counting those between each
    frame's first and last sample (``np.flatnonzero``, two ``np.searchsorted``), which the
    extractor did before, at a third of the cost: a frame's ``win_length - 1`` sample pairs
    are ``m`` whole blocks of ``hop_length`` pairs and the first ``r`` pairs of the next
    (``win_length - 1 = m * hop_length + r``), so its count is ``m`` block counts plus one
    partial count, both taken for every block at once by one product of the 0/1 change
    indicators (float32) with ``analysis.zc_blocks``. Sums of at most ``hop_length`` ones are
    whole numbers far below 2**24, exact in float32 whatever order the BLAS kernel adds them
    in, so every count is the integer itself (``tests/test_features.py``).
    """
    hop = analysis.cfg.hop_length
    m = analysis.zc_whole_blocks
    n_blocks = n_t + m
    # sign bits, then 0 (positive) past the signal: its zero padding and the blocks' tail,
    # whose pairs no frame reads
    signs = np.zeros(n_blocks * hop + 1, dtype=bool)
    np.signbit(y, out=signs[: y.shape[0]])
    changes = np.not_equal(signs[1:], signs[:-1]).astype(np.float32)  # pair (i, i + 1) at i
    counts = changes.reshape(n_blocks, hop) @ analysis.zc_blocks  # (n_blocks, 2): whole, first r
    n_changes = counts[m:, 1].astype(np.float64)  # the partial block after the whole ones
    for j in range(m):
        n_changes += counts[j : j + n_t, 0]
    return n_changes


def _scratch(name: str, n_t: int, n_cols: int, dtype: type) -> np.ndarray:
    """A per-thread buffer of zeros, shape (n_t, n_cols), reused by the next call.

    Callers write only the parts they overwrite on every call (the windowed frames of the
    zero-padded FFT input), so the rest stays 0: allocating and zeroing 1.6 MB per 4 s
    utterance cost more than the writes.
    A work buffer the caller overwrites whole holds whatever the last call left. Each name
    is one buffer: a caller must be done with it before the next call asks for it again.
    """
    if n_t > _SCRATCH_MAX_FRAMES:
        return np.zeros((n_t, n_cols), dtype=dtype)
    buf = getattr(_SCRATCH, name, None)
    if buf is None or buf.shape[1] != n_cols or buf.shape[0] < n_t or buf.dtype != dtype:
        buf = np.zeros((max(n_t, 500), n_cols), dtype=dtype)
        setattr(_SCRATCH, name, buf)
    return buf[:n_t]


class _CumulativePower:
    """``np.cumsum(power, axis=1)`` for the few bins a caller reads, without the rest.

    Indexed as the array it stands for, ``cum[:, i]`` (float32, shape (n_frames,)) or
    ``cum[:, i:i + 1]`` (shape (n_frames, 1)); each bin is summed on first use. The sums
    run over bins in order, one frame per lane (``np.add.reduce`` along the first axis of
    the transposed power spectrum adds its rows one after another), so every value equals
    ``np.cumsum``'s, which also adds bin after bin, to the bit (``tests/test_features.py``).
    With a single frame that reduction would run along contiguous memory, where NumPy sums
    pairwise, so one frame takes ``np.cumsum`` itself.

    A bin's sum continues from the sum of the nearest lower bin already summed: that sum is
    put in place of its bin's row for the one reduction (and the row put back), so the
    reduction adds the following rows to it one after another, the same additions in the
    same order as from bin 0. ``bins``, the bins a caller will read, are summed at once in
    increasing order, each from the last: every row is added once.
    """

    def __init__(self, power: np.ndarray, bins: tuple[int, ...] = ()) -> None:
        self.n_bins = power.shape[1]
        self.by_bin = np.ascontiguousarray(power.T)  # (n_bins, n_frames)
        self._memo: dict[int, np.ndarray] = {}
        if power.shape[0] < 2:
            self._memo = dict(enumerate(np.cumsum(power, axis=1).T))
        for i in sorted({int(b) % self.n_bins for b in bins if -self.n_bins <= int(b) < self.n_bins}):
            self._sum_to(i)

    def _sum_to(self, i: int) -> np.ndarray:
        """The cumulative sum up to bin ``i`` (memoised), continued from the nearest lower
        memoised bin's."""
        got = self._memo.get(i)
        if got is not None:
            return got
        below = [j for j in self._memo if j < i]
        if not below:
            got = np.add.reduce(self.by_bin[: i + 1], axis=0)
        else:
            j = max(below)
            row = self.by_bin[j].copy()
            self.by_bin[j] = self._memo[j]  # the sum up to j, then rows j + 1 .. i added to it
            got = np.add.reduce(self.by_bin[j : i + 1], axis=0)
            self.by_bin[j] = row
        self._memo[i] = got
        return got

    def __getitem__(self, key: tuple) -> np.ndarray:
        if not (isinstance(key, tuple) and len(key) == 2 and key[0] == slice(None)):
            raise IndexError("only cum[:, i] and cum[:, i:i + 1] are supported")
        k = key[1]
        if isinstance(k, slice):
            start, stop, step = k.indices(self.n_bins)
            if stop - start != 1 or step != 1:
                raise IndexError("only cum[:, i] and cum[:, i:i + 1] are supported")
            return self[:, start][:, None]
        i = int(k) % self.n_bins if -self.n_bins <= int(k) < self.n_bins else None
        if i is None:
            raise IndexError(f"bin {k} out of range for {self.n_bins} bins")
        return self._sum_to(i)


def _cumulative_bins(analysis: _Analysis, spectral: bool, spectral_rows: frozenset[int] | None) -> tuple[int, ...]:
    """The bins of the cumulative power spectrum that :func:`_spectral` (its total and band
    energies, when ``spectral``) and :func:`voice_descriptors` (band energies) will read."""
    bins = []
    if spectral:
        bins.append(analysis.n_bins - 1)
        for i, (a, b) in enumerate(analysis.energy_bands):
            if spectral_rows is None or 10 + i in spectral_rows:
                bins += [b - 1, a - 1] if a > 0 else [b - 1]
    if analysis.cfg.voice_quality:
        for a, b in analysis.alpha_bands:
            bins += [b - 1, a - 1] if a > 0 else [b - 1]
    return tuple(bins)


#: Descriptor groups :func:`framewise_descriptors` can leave out (``need``); the others
#: (``mfcc``, ``logmel``, ``energy``, ``pitch``, ``voice``) cost little beyond what the rest
#: needs anyway.
OPTIONAL_DESCRIPTORS: frozenset[str] = frozenset({"chroma", "spectral", "contrast"})


def framewise_descriptors(y: np.ndarray, analysis: _Analysis, *, need: frozenset[str] | None = None,
                          spectral_rows: frozenset[int] | None = None) -> dict[str, np.ndarray]:
    """Framewise low-level descriptors of one utterance, all from one STFT.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Mono audio at ``analysis.cfg.sample_rate_hz``, at least ``cfg.min_samples`` long.
    analysis : _Analysis
        Constants of the configuration.
    need : frozenset of str, optional
        Descriptor groups wanted; those of :data:`OPTIONAL_DESCRIPTORS` not in it are not
        computed (nor returned). None: all. The others are computed the same either way.
    spectral_rows : frozenset of int, optional
        Rows of ``spectral`` wanted; the costlier others (bandwidth, roll-offs, band
        energies) are left 0. None: all.

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

    Notes
    -----
    A frame is voiced when its normalised autocorrelation peak reaches
    ``cfg.voicing_threshold``, its level is within 35 dB of the utterance's loudest frame and
    its zero-crossing rate is below 0.3; of the best lag and its halves and thirds, the
    shortest at least 0.9 times as strong is taken (a guard against octave-down errors).
    These three numbers are this project's choices, not taken from elsewhere.
    """
    cfg = analysis.cfg
    wants = (lambda group: True) if need is None else (lambda group: group in need or group not in OPTIONAL_DESCRIPTORS)
    frames = _frames(y, cfg.win_length, cfg.hop_length)  # (T, win)
    n_t = frames.shape[0]
    # --- energy and zero-crossing rate from the same frames, taken first, while the signal
    # just framed is in the cache (the same calls on the same arrays as after the spectral
    # descriptors, where they were before); the rows written into the float32 result, the
    # values np.vstack's float64 rows cast to float32
    rms_db = _frame_rms_db(frames)
    # zero-crossing rate: sign changes between a frame's consecutive samples
    n_changes = _sign_changes(y, n_t, analysis)
    zcr = n_changes / np.float32(frames.shape[1] - 1)  # float64, as the int64 counts divided
    energy = np.empty((2, n_t), dtype=np.float32)
    energy[0], energy[1] = rms_db, zcr

    # windowed frames written straight into a zero-padded buffer: the same transform as
    # rfft(frames * window, n=n_fft), without the copy scipy makes to pad each row
    # (its columns from win_length on are never written: they stay 0)
    padded = _scratch(f"padded{cfg.win_length}", n_t, cfg.n_fft, np.float32)
    np.multiply(frames, analysis.window, out=padded[:, : cfg.win_length])
    spec = _rfft(padded)  # (T, n_bins) complex64
    del padded
    # power = re*re + im*im (each product rounded to float32, then the sum: the same
    # operations as spec.real * spec.real + spec.imag * spec.imag), squaring the
    # interleaved (re, im) pairs in place
    ri = spec.view(np.float32)  # (T, 2 * n_bins): re, im, re, im, ...
    np.multiply(ri, ri, out=ri)
    power = np.add(ri[:, 0::2], ri[:, 1::2])  # (T, n_bins) float32, C-contiguous
    del spec, ri
    # --- autocorrelation for pitch and voicing: inverse FFT of the power spectrum
    # (Wiener-Khinchin), divided by the window's own autocorrelation [6]
    # (a complex64 input spares scipy its slower real-to-complex conversion, same values:
    # power + 0j, numpy's cast into a fresh array, quicker than writing the real parts into
    # a reused buffer of zeros). Taken here, while the power spectrum just written is still
    # in cache, rather than after the mel, spectral and energy descriptors, which read it
    # too: the same calls on the same arrays, in another order, so the same values.
    ac = _irfft(power.astype(np.complex64), cfg.n_fft)[:, : analysis.lag_max + 2]
    nac = ac / np.maximum(ac[:, :1], _EPS32)
    nac *= analysis.inv_window_ac
    del ac

    # --- mel and MFCC (rows = coefficients, columns = frames); deltas of every descriptor
    # are taken in pooling (see _layout)
    mel = analysis.mel_fb @ power.T  # (n_mels, T)
    logmel = 10.0 * np.log10(np.maximum(mel, _EPS32))
    mfcc = analysis.dct @ logmel

    out = {"mfcc": mfcc, "logmel": logmel}
    if wants("chroma"):
        out["chroma"] = _chroma(power, analysis)
    cum = None
    if wants("spectral") or cfg.voice_quality:
        # the roll-offs read the whole cumulative sum; the rest only a few of its bins
        rolloffs = wants("spectral") and (spectral_rows is None or any(2 + i in spectral_rows for i in range(len(_ROLLOFF_POINTS))))
        cum = np.cumsum(power, axis=1) if rolloffs else _CumulativePower(power, _cumulative_bins(analysis, wants("spectral"), spectral_rows))
    if wants("spectral"):
        out["spectral"] = _spectral(power, cum, mel, logmel, analysis, spectral_rows)
    if wants("contrast"):
        out["contrast"] = _contrast(power, analysis)

    # --- pitch and voicing: the peak of the normalised autocorrelation (nac, above)
    lo, hi = analysis.lag_min, analysis.lag_max
    # each frame's lags read from the flat array (nac is C-contiguous), one index array
    # instead of a (rows, lags) pair: the same elements; 0.9 * strength and the curvature
    # test taken once, np.clip as the ufunc it calls: the same values
    width = nac.shape[1]
    flat_nac = nac.reshape(-1)
    row_start = np.arange(0, n_t * width, width)
    best = np.argmax(nac[:, lo : hi + 1], axis=1)
    best += lo
    strength = flat_nac[row_start + best]
    # prefer the shortest lag (highest f0) that is a sub-multiple of the best one and
    # nearly as strong: guards against the usual octave-down errors. A candidate, the
    # rounded half or third of a lag in [lo, hi] (lo >= 2), lies in [1, hi], within its
    # row (width is hi + 2): read as it is, without the clip to the row
    near = 0.9 * strength
    for div in (2, 3):
        cand = np.rint(best / div).astype(np.int64)
        ok = flat_nac[row_start + cand] >= near
        ok &= cand >= lo
        np.copyto(best, cand, where=ok)
    # the peak's lag and its neighbours (lags lo - 1 .. hi + 1: within the row) in one gather
    left, val, right = flat_nac[(row_start + best) + _NEIGHBOURS]
    denom = left - 2.0 * val + right
    curved = np.abs(denom) > 1e-6
    safe = np.where(curved, denom, 1.0)
    shift = _clip(np.where(curved, 0.5 * (left - right) / safe, 0.0), -0.5, 0.5)
    f0 = cfg.sample_rate_hz / (best + shift)
    loud = rms_db > (np.maximum.reduce(rms_db) - 35.0)  # rms_db.max(), as in _spectral
    voiced = (strength >= cfg.voicing_threshold) & loud & (zcr < 0.3)
    r = _clip(strength, 1e-3, 1.0 - 1e-3)
    # rows written into the float32 result: the values np.vstack's float64 rows cast to float32
    pitch = np.empty((3, n_t), dtype=np.float32)
    pitch[0] = np.where(voiced, f0, 0.0)
    _clip(strength, 0.0, 1.0, out=pitch[1])
    np.multiply(10.0, np.log10(r / (1.0 - r)), out=pitch[2])  # harmonics-to-noise ratio (dB) [6]

    out.update(energy=energy, pitch=pitch)
    if cfg.voice_quality:
        out["voice"] = voice_descriptors(power=power, cum=cum, mel=mel, f0_hz=f0, analysis=analysis)
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}


def _chroma(power: np.ndarray, analysis: _Analysis) -> np.ndarray:
    """Chroma, energy-normalised per frame: float32 (n_chroma, n_frames)."""
    chroma = analysis.chroma_fb @ power.T
    chroma /= np.maximum(chroma.sum(axis=0, keepdims=True), _EPS32)
    return chroma


def _spectral(power: np.ndarray, cum: np.ndarray, mel: np.ndarray, logmel: np.ndarray,
              analysis: _Analysis, rows_wanted: frozenset[int] | None = None) -> np.ndarray:
    """Spectral shape descriptors (rows in the order of the layout's ``spectral`` group):
    float32 (12, n_frames), from the power spectrum (n_frames, n_bins), its cumulative sum
    along bins, and the mel power and log-mel (dB) spectrograms (n_mels, n_frames).
    ``rows_wanted``: the bandwidth (row 1), roll-off (rows 2-5) and band-energy (rows 10-11)
    rows outside it are left 0, not computed (None: all)."""
    n_t = power.shape[0]
    wanted = (lambda *r: True) if rows_wanted is None else (lambda *r: not rows_wanted.isdisjoint(r))
    zero = np.zeros(n_t, dtype=np.float32)
    # moments of the magnitude spectrum as matrix-vector products (sums and maxima here as
    # the ufunc reductions ndarray.sum and .max call, numpy/_core/_methods.py, without
    # their Python wrappers: the same calls)
    mag = np.sqrt(power)  # (T, n_bins)
    msum = np.maximum(np.add.reduce(mag, axis=1), _EPS32)
    centroid = (mag @ analysis.freqs) / msum
    bandwidth = zero
    if wanted(1):
        second = (mag @ (analysis.freqs * analysis.freqs)) / msum
        bandwidth = np.sqrt(np.maximum(second - centroid * centroid, 0.0))
    total = np.maximum(cum[:, -1:], _EPS32)
    # the roll-off bin is the number of bins whose cumulative power is below q * total;
    # cum is non-decreasing, so that is the first bin reaching it (argmax stops there)
    rows = np.arange(n_t)
    rolloffs = []
    for i, q in enumerate(_ROLLOFF_POINTS):
        if not wanted(2 + i):
            rolloffs.append(zero)
            continue
        reached = cum >= q * total
        first = np.argmax(reached, axis=1)
        first = np.where(reached[rows, first], first, analysis.n_bins - 1)  # none reached: last bin
        rolloffs.append(analysis.freqs[first])
    # spectral entropy (bits, normalised to 0..1) of the power distribution over bins
    # (pnorm into mag's memory, no longer read; plogp a fresh array: measured quicker than
    # a per-thread buffer kept between calls, which the rest of an extraction has likely
    # pushed out of the cache by then, where the allocator reuses recently freed memory)
    pnorm = np.divide(power, total, out=mag)
    plogp = np.add(pnorm, _EPS32)
    np.log2(plogp, out=plogp)
    plogp *= pnorm
    entropy = -np.add.reduce(plogp, axis=1) / analysis.log2_n_bins
    del pnorm, plogp
    # energy of two speech bands relative to the whole spectrum (dB), as in ComParE
    band_db = [
        10.0 * np.log10((cum[:, b - 1] - (cum[:, a - 1] if a > 0 else 0.0)) / total[:, 0] + _EPS32)
        if wanted(10 + i) else zero
        for i, (a, b) in enumerate(analysis.energy_bands)
    ]
    # flatness (geometric / arithmetic mean) and flux on the mel power spectrum
    # (means over bands as ndarray.mean takes them, numpy/_core/_methods.py: _mean: the sum,
    # then true_divide by the np.intp count into it; flux's np.diff and ** 2 as the calls
    # they make, subtract of the shifted slices and square: the same operations without
    # the wrappers)
    ln_mel = logmel * _LN10_OVER_10
    n_mels = np.intp(mel.shape[0])
    ln_mean = np.add.reduce(ln_mel, axis=0)
    np.true_divide(ln_mean, n_mels, out=ln_mean, casting="unsafe")
    mel_sum = np.add.reduce(mel, axis=0)  # also the sum norm_mel divides by (mel.sum(axis=0))
    mel_mean = np.empty_like(mel_sum)
    np.true_divide(mel_sum, n_mels, out=mel_mean, casting="unsafe")
    flatness = np.exp(ln_mean) / np.maximum(mel_mean, _EPS32)
    norm_mel = mel / np.maximum(mel_sum, _EPS32)
    flux = np.zeros(n_t, dtype=np.float32)
    if n_t > 1:
        root = np.sqrt(norm_mel)
        step = np.subtract(root[:, 1:], root[:, :-1])
        np.square(step, out=step)
        flux[1:] = np.sqrt(np.add.reduce(step, axis=0))
    # spectral slope: regression of the log mel spectrum (dB) on band index
    slope = analysis.band_centered @ logmel
    # np.vstack of these rows, as its concatenate (without its per-row atleast_2d)
    return np.concatenate([centroid, bandwidth, *rolloffs, flatness, flux, slope, entropy, *band_db]).reshape(12, n_t)


def _contrast(power: np.ndarray, analysis: _Analysis) -> np.ndarray:
    """Spectral contrast per sub-band (peak vs valley: top/bottom 20 % of bins) [5]:
    float32 (n_bands, n_frames)."""
    contrast = np.empty((len(analysis.contrast_bands), power.shape[0]), dtype=np.float32)
    for i, (_lo, _hi, a, b) in enumerate(analysis.contrast_bands):
        sub = np.sort(power[:, a:b], axis=1)
        k = max(1, int(round(0.2 * (b - a))))
        contrast[i] = 10.0 * np.log10((sub[:, -k:].mean(axis=1) + _EPS) / (sub[:, :k].mean(axis=1) + _EPS))
    return contrast


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
    f0_hz : np.ndarray, float, shape (n_frames,)
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
    eps = _EPS32
    # sums and maxima as the ufunc reductions ndarray.sum and .max call (see _spectral)
    loudness = np.add.reduce(np.power(np.maximum(mel, 0.0), _LOUDNESS_EXPONENT), axis=0)

    def band_energy(a: int, b: int) -> np.ndarray:
        return cum[:, b - 1] - (cum[:, a - 1] if a > 0 else 0.0)

    (a1, b1), (a2, b2) = analysis.alpha_bands
    alpha = 10.0 * np.log10((band_energy(a1, b1) + eps) / (band_energy(a2, b2) + eps))
    (a1, b1), (a2, b2) = analysis.hammarberg_bands
    if isinstance(cum, _CumulativePower):  # the same maxima, read along contiguous rows
        top1, top2 = np.maximum.reduce(cum.by_bin[a1:b1], axis=0), np.maximum.reduce(cum.by_bin[a2:b2], axis=0)
    else:
        top1, top2 = np.maximum.reduce(power[:, a1:b1], axis=1), np.maximum.reduce(power[:, a2:b2], axis=1)
    hammarberg = 10.0 * np.log10((top1 + eps) / (top2 + eps))
    slopes = [(10.0 * np.log10(power[:, a:b] + eps)) @ w for a, b, w in analysis.slope_bands]
    bin_hz = analysis.freqs[1]
    n_bins = power.shape[1]
    # the bins of each frame, read from the flat spectrum (one index array instead of a
    # pair): the same values, and max of the same three is the same float
    flat_power = power.reshape(-1)  # a view: power is C-contiguous
    row_start = np.arange(power.shape[0]) * n_bins
    f0 = np.asarray(f0_hz, dtype=np.float64)
    harmonic = []
    for k in (1, 2):
        centre = np.rint(k * f0 / bin_hz).astype(np.int64)
        around = [flat_power[row_start + np.minimum(np.maximum(centre + d, 0), n_bins - 1)] for d in (-1, 0, 1)]
        harmonic.append(np.maximum(np.maximum(around[0], around[1]), around[2]))
    h1_h2 = 10.0 * np.log10((harmonic[0] + eps) / (harmonic[1] + eps))
    # np.vstack of these rows, as its concatenate (without its per-row atleast_2d); all are
    # float32 already
    rows = [loudness, alpha, hammarberg, *slopes, h1_h2]
    return np.concatenate(rows).reshape(len(rows), power.shape[0]).astype(np.float32, copy=False)
