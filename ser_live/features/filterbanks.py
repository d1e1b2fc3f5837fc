"""Filter banks and transforms of the extractor, in numpy (equal to librosa's: mel [2]_,
chroma [3]_, the DCT-II of MFCC [1]_, and HTK-style deltas [4]_); see :mod:`ser_live.features`
for the references."""

from __future__ import annotations

import numpy as np

from .config import _EPS

__all__ = ["mel_filterbank", "chroma_filterbank"]



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

    Parameters
    ----------
    sample_rate_hz : int
        Sample rate (Hz).
    n_fft : int
        FFT length (samples); the bank has ``1 + n_fft // 2`` bins.
    n_mels : int
        Mel bands.
    fmin_hz, fmax_hz : float
        Lowest and highest frequency (Hz) of the bank; ``fmax_hz`` None: the Nyquist
        frequency.

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

    Parameters
    ----------
    sample_rate_hz : int
        Sample rate (Hz).
    n_fft : int
        FFT length (samples); the bank has ``1 + n_fft // 2`` bins.
    n_chroma : int, default 12
        Pitch classes per octave.

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
