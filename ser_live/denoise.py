"""Optional noise reduction before feature extraction: stationary spectral gating.

One place for ``--denoise``: :func:`denoise` cleans one utterance, :func:`with_denoise` gives a
model whose extractor denoises every utterance first, so the live worker
(:class:`~ser_live.pipeline.Recognizer`), the offline :class:`~ser_live.offline.Predictor`
and the evaluation of ``python -m train evaluate --condition room --denoise``
(``train/extract.py``) run the same code.

The noise estimate is *stationary* and taken from the utterance itself: its quietest frames
(:func:`noise_clip`; the VAD-cut utterance holds pre-roll and hangover, and speech pauses)
give, per frequency, the mean and standard deviation of the noise's dB spectrum, which set a
gate threshold; time-frequency bins below it are attenuated (a fan, a hum, a steady street;
not babble).

Needs the optional package ``noisereduce`` (``pip install 'ser-live[denoise]'``).

References
----------
.. [1] T. Sainburg, M. Thielk, T. Q. Gentner, "Finding, visualizing, and quantifying latent
   structure across diverse animal vocal repertoires", PLoS Comput. Biol. 16(10), 2020
   (the spectral gating of ``noisereduce``); T. Sainburg, ``noisereduce`` 3.x,
   https://github.com/timsainb/noisereduce.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import SerLiveError

__all__ = ["DenoiseConfig", "DenoiseUnavailableError", "denoise", "noise_clip", "require_noisereduce", "with_denoise", "DenoisingExtractor"]

log = logging.getLogger(__name__)

#: What to run when the optional package is missing.
INSTALL_HINT = "pip install 'ser-live[denoise]'"


class DenoiseUnavailableError(SerLiveError, ImportError):
    """``--denoise`` was asked for but ``noisereduce`` is not installed (exit status 2)."""

    exit_code = 2


@dataclass(frozen=True)
class DenoiseConfig:
    """Spectral-gating settings (``noisereduce.reduce_noise`` with ``stationary=True``).

    Attributes
    ----------
    prop_decrease : float, default 0.8
        Fraction by which gated bins are attenuated (1.0 removes them; below 1 keeps some
        of the signal and fewer musical-noise artefacts).
    n_std_thresh : float, default 1.5
        Gate threshold: this many standard deviations above the per-frequency mean (dB).
    n_fft : int, default 512
        STFT length (samples; 32 ms at 16 kHz).
    freq_mask_smooth_hz : float, default 500
        Smoothing of the gate mask across frequency (Hz).
    time_mask_smooth_ms : float, default 50
        Smoothing of the gate mask across time (ms).
    noise_quantile : float, default 0.2
        The noise is estimated from the quietest frames up to this quantile of frame RMS
        (:func:`noise_clip`).
    """

    prop_decrease: float = 0.8
    n_std_thresh: float = 1.5
    n_fft: int = 512
    freq_mask_smooth_hz: float = 500.0
    time_mask_smooth_ms: float = 50.0
    noise_quantile: float = 0.2


def require_noisereduce() -> Any:
    """Import ``noisereduce`` or raise a clear error.

    Returns
    -------
    module
        ``noisereduce``.

    Raises
    ------
    DenoiseUnavailableError
        The package is not installed; the message names :data:`INSTALL_HINT`.
    """
    try:
        import noisereduce
    except ImportError as exc:
        raise DenoiseUnavailableError(
            f"--denoise needs the optional package noisereduce, which is not installed: {INSTALL_HINT}"
        ) from exc
    return noisereduce


def noise_clip(y: np.ndarray, *, frame: int = 512, quantile: float = 0.2) -> np.ndarray:
    """The utterance's quietest frames, joined: its stationary noise estimate.

    A VAD-cut utterance starts with pre-roll and ends with hangover, and speech has pauses:
    its quietest frames are noise (or near-silence in a studio). Estimating the noise from
    the whole utterance instead would count the speech as noise and gate it (on clean
    corpus speech that cost 6 dB of speech level).

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
    frame : int, default 512
        Frame length (samples), non-overlapping.
    quantile : float, default 0.2
        Frames whose RMS is at or below this quantile of the frame RMS are kept.

    Returns
    -------
    np.ndarray, float32, shape (n_kept * frame,)
        At least 4 frames (the quietest ones) when ``y`` holds that many; ``y`` itself
        when shorter.
    """
    n = y.size // frame
    if n < 4:
        return y
    frames = y[: n * frame].reshape(n, frame)
    rms = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    k = max(4, int(np.ceil(quantile * n)))
    keep = np.sort(np.argsort(rms, kind="stable")[:k])
    return frames[keep].reshape(-1)


def denoise(y: np.ndarray, *, sample_rate_hz: int = 16000, config: DenoiseConfig | None = None) -> np.ndarray:
    """Stationary spectral gating of one utterance, the noise estimated from itself.

    Parameters
    ----------
    y : np.ndarray, float32 in [-1, 1] or int16, shape (n_samples,)
        Mono utterance.
    sample_rate_hz : int, default 16000
    config : DenoiseConfig, optional
        Default :class:`DenoiseConfig`.

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        In [-1, 1]. Shorter than one STFT frame: returned unchanged (as float32).

    Raises
    ------
    DenoiseUnavailableError
        ``noisereduce`` is not installed.
    ValueError
        ``y`` is not 1-D.
    """
    nr = require_noisereduce()
    cfg = config or DenoiseConfig()
    x = np.asarray(y)
    if x.ndim != 1:
        raise ValueError(f"expected mono audio of shape (n_samples,), got shape {x.shape}")
    x = x.astype(np.float32) / np.float32(32768.0) if x.dtype == np.int16 else x.astype(np.float32, copy=False)
    if x.size < cfg.n_fft:
        return x.copy()
    out = nr.reduce_noise(
        y=x, y_noise=noise_clip(x, frame=cfg.n_fft, quantile=cfg.noise_quantile), sr=sample_rate_hz, stationary=True,
        prop_decrease=cfg.prop_decrease, n_std_thresh_stationary=cfg.n_std_thresh,
        n_fft=cfg.n_fft, freq_mask_smooth_hz=cfg.freq_mask_smooth_hz, time_mask_smooth_ms=cfg.time_mask_smooth_ms,
        n_jobs=1,
    )
    return np.clip(np.asarray(out, dtype=np.float32), -1.0, 1.0)


class DenoisingExtractor:
    """A feature extractor that denoises each utterance first (:func:`denoise`).

    Parameters
    ----------
    extractor : FeatureExtractor
        The model's extractor; every attribute but :meth:`extract` and :meth:`warmup` is
        its own (``n_features``, ``config``, ``feature_names``, ...).
    config : DenoiseConfig, optional
    """

    def __init__(self, extractor: Any, *, config: DenoiseConfig | None = None) -> None:
        self.inner = extractor
        self.denoise_config = config or DenoiseConfig()

    def extract(self, y: np.ndarray) -> np.ndarray:
        """Features of the denoised utterance (see ``FeatureExtractor.extract``)."""
        return self.inner.extract(denoise(y, sample_rate_hz=self.inner.config.sample_rate_hz, config=self.denoise_config))

    def warmup(self) -> None:
        """Warm the extractor and the denoiser (first-utterance latency without start-up cost)."""
        rng = np.random.default_rng(0)
        self.extract((0.01 * rng.standard_normal(self.inner.config.sample_rate_hz)).astype(np.float32))

    def __getattr__(self, name: str) -> Any:
        if name in ("inner", "denoise_config") or name.startswith("__"):  # unpickling: not set yet
            raise AttributeError(name)
        return getattr(self.inner, name)


def with_denoise(model: Any, *, config: DenoiseConfig | None = None) -> Any:
    """A shallow copy of a model whose extractor denoises every utterance first.

    Parameters
    ----------
    model : EmotionModel
        Left unchanged.
    config : DenoiseConfig, optional

    Returns
    -------
    EmotionModel
        Same estimator, normaliser and labels; ``extractor`` is a :class:`DenoisingExtractor`.

    Raises
    ------
    DenoiseUnavailableError
        ``noisereduce`` is not installed (checked here, before any audio is read).
    """
    require_noisereduce()
    out = copy.copy(model)
    out.extractor = DenoisingExtractor(model.extractor, config=config)
    return out
