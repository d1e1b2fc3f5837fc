"""The loud-frame speech level: the one definition of "how loud the speech is".

The project measures a speech signal's level as the **90th percentile of its frame RMS**
(:data:`LOUD_FRAME_PERCENTILE`): leading and trailing silence and pauses do not lower it
(unlike the whole signal's RMS), and one click does not raise it (unlike the peak). It is
what the segmenter reports per utterance (``Segmenter.speech_level_dbfs``, on its voiced
frames), what the extractor scales to ``FeatureConfig.target_level_dbfs``, what the "too
quiet" message reads, and what every SNR of training and evaluation is defined against
(``train.augment.speech_rms``, ``train.sessions``). Callers choose the frames (the
segmenter's 30 ms VAD frames, the extractor's 25 ms / 10 ms analysis frames, 25 ms
non-overlapping frames for SNRs); the statistic over them is this module's.

The percentile is taken with numpy's default linear interpolation, of whatever monotone
quantity the caller holds (linear RMS, or frame levels in dBFS: the two differ only by the
interpolation between the two frames around the 90th percentile).
"""

from __future__ import annotations

import numpy as np

__all__ = ["LOUD_FRAME_PERCENTILE", "MAX_CLIPPED_FRACTION", "clipped_fraction", "loud_frame_level", "frame_rms",
           "rms_dbfs", "speech_level_dbfs", "speech_rms"]

#: Percentile (0-100) of the frame levels taken as the speech level.
LOUD_FRAME_PERCENTILE: float = 90.0

#: Speech with more of its samples at int16 full scale than this share (0..1) is clipped:
#: the calibration's take check refuses it, ``predict`` warns of it. One sample in a thousand
#: is this project's choice (set with the calibration's take check), not a number taken
#: from elsewhere.
MAX_CLIPPED_FRACTION: float = 0.001


def clipped_fraction(y: np.ndarray) -> float:
    """Share (0..1) of the samples of ``y`` at int16 full scale (32767 or -32768).

    Parameters
    ----------
    y : array-like, shape (n,)
        int16, or float32 in [-1, 1] (converted as :func:`ser_live.audiofile.to_int16` does).

    Returns
    -------
    float
        0 for no samples.
    """
    y = np.asarray(y)
    if not y.size:
        return 0.0
    if y.dtype != np.int16:
        from .audiofile import to_int16

        y = to_int16(y)
    return float(np.mean((y >= 32767) | (y <= -32768)))


def loud_frame_level(frame_levels: np.ndarray | list[float]) -> float:
    """The loud-frame level of a set of frame levels: their 90th percentile.

    Parameters
    ----------
    frame_levels : array-like, shape (n_frames,)
        One level per frame, linear RMS (full scale = 1) or dBFS; any float dtype.

    Returns
    -------
    float
        In the unit of ``frame_levels``.

    Raises
    ------
    ValueError
        No frames.
    """
    x = np.asarray(frame_levels)
    if x.size == 0:
        raise ValueError("no frames to take a speech level of")
    if x.ndim != 1 or x.dtype not in (np.float32, np.float64) or not np.isfinite(x).all():
        return float(np.percentile(x, LOUD_FRAME_PERCENTILE))
    return _linear_percentile(x, LOUD_FRAME_PERCENTILE)


def _linear_percentile(x: np.ndarray, q: float) -> float:
    """``float(np.percentile(x, q))`` of finite float32/float64 values, to the bit, without
    its generic machinery (0.2 ms of a 4 s utterance's extraction for a 400-frame array).

    The same steps as NumPy's ``method="linear"`` (``numpy/lib/_function_base_impl.py``,
    ``_quantile`` and ``_lerp``, with ``q`` a Python float): virtual index ``(n - 1) * (q /
    100)`` in float64, the two order statistics ``a``, ``b`` around it (``np.partition``),
    then ``a + (b - a) * t``, or ``b - (b - a) * (1 - t)`` where ``t >= 0.5``, in ``x``'s dtype
    (``t`` is a weak Python float) (``tests/test_features.py`` compares the two on random data).

    Parameters
    ----------
    x : np.ndarray, float32 or float64, shape (n,), n >= 1, finite
    q : float
        Percentile, 0-100.

    Returns
    -------
    float
    """
    n = x.shape[0]
    virtual = (n - 1) * (q / 100.0)
    lo = int(np.floor(virtual))
    hi = min(lo + 1, n - 1)
    part = np.partition(x, (lo, hi)) if hi != lo else np.partition(x, lo)
    a, b = part[lo], part[hi]  # numpy scalars of x's dtype
    t = virtual - lo  # a Python float: numpy's weak scalar, so the arithmetic stays in x's dtype
    d = b - a
    return float(b - d * (1.0 - t) if t >= 0.5 else a + d * t)


def frame_rms(y: np.ndarray, *, frame_length: int) -> np.ndarray:
    """RMS of consecutive non-overlapping frames (the tail shorter than a frame is left out).

    Parameters
    ----------
    y : np.ndarray, float, shape (n_samples,)
        Audio in [-1, 1].
    frame_length : int
        Frame length (samples), e.g. 400 = 25 ms at 16 kHz.

    Returns
    -------
    np.ndarray, dtype of ``y`` (float64 for integer input), shape (n_samples // frame_length,)
        Linear RMS per frame; when ``y`` is shorter than one frame, the whole signal's RMS
        (shape (1,)), and ``[]`` for no samples.

    Raises
    ------
    ValueError
        ``frame_length`` < 1 or ``y`` not 1-D.
    """
    if frame_length < 1:
        raise ValueError(f"frame_length must be >= 1 sample, got {frame_length}")
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {y.shape}")
    n = y.size // frame_length
    if n:
        return np.sqrt(np.mean(y[: n * frame_length].reshape(n, frame_length) ** 2, axis=1))
    return np.array([np.sqrt(np.mean(y**2))]) if y.size else np.array([])


def rms_dbfs(rms: float, *, floor_dbfs: float = -200.0) -> float:
    """A linear RMS (full scale = 1) in dBFS, ``20 log10(rms)``, never below ``floor_dbfs``.

    Parameters
    ----------
    rms : float
    floor_dbfs : float, default -200.0
        Returned for digital silence (and anything quieter).

    Returns
    -------
    float
        dBFS.
    """
    return float(max(20.0 * np.log10(rms), floor_dbfs)) if rms > 0 else float(floor_dbfs)


def speech_level_dbfs(y: np.ndarray, *, frame_length: int = 400) -> float:
    """The loud-frame speech level of a signal: 90th percentile of its non-overlapping frame
    RMS, in dBFS.

    Parameters
    ----------
    y : np.ndarray, float, shape (n_samples,)
        Audio in [-1, 1].
    frame_length : int, default 400
        Frame length (samples; 400 = 25 ms at 16 kHz, the frame SNRs are defined on).

    Returns
    -------
    float
        dBFS (-200 for digital silence).

    Raises
    ------
    ValueError
        No samples, or as :func:`frame_rms`.
    """
    return rms_dbfs(loud_frame_level(frame_rms(y, frame_length=frame_length)))


def speech_rms(y: np.ndarray, *, frame_length: int = 400) -> float:
    """The loud-frame speech level of a signal as a linear RMS: 90th percentile of its
    non-overlapping frame RMS (:func:`speech_level_dbfs` before the conversion to dBFS).

    The level every SNR of training and evaluation is defined against (the noise copies of
    ``train.augment``, the ``room`` conditions of ``train.conditions``).

    Parameters
    ----------
    y : np.ndarray, float, shape (n_samples,)
        Audio in [-1, 1].
    frame_length : int, default 400
        Frame length (samples; 400 = 25 ms at 16 kHz).

    Returns
    -------
    float
        Linear RMS (full scale = 1); the whole signal's RMS when shorter than one frame.

    Raises
    ------
    ValueError
        No samples, or as :func:`frame_rms`.
    """
    return loud_frame_level(frame_rms(y, frame_length=frame_length))
