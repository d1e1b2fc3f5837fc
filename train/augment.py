"""Training-time augmentation: additive noise at a given SNR, gain, and speed perturbation.

Applied to training-fold audio only (never to test speakers), before the VAD trimming and
the extractor, so augmented copies see the same path as live audio. Each copy is
deterministic: its random stream is seeded from the file path and the augmentation.

References
----------
.. [1] T. Ko et al., "Audio augmentation for speech recognition", Interspeech 2015
   (speed perturbation by resampling, factors 0.9 and 1.1).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["Augmentation", "apply_augmentation", "DEFAULT_AUGMENTATIONS"]


@dataclass(frozen=True)
class Augmentation:
    """One augmented copy of each training file.

    Attributes
    ----------
    snr_db : float or None
        Add white noise at this signal-to-noise ratio (dB, against the speech's loud-frame
        RMS); None for no noise.
    gain_db : float
        Gain applied (dB); the result is clipped to [-1, 1].
    speed : float
        Speed factor (>1 faster and higher, by resampling [1]_); 1.0 for none.
    """

    snr_db: float | None = None
    gain_db: float = 0.0
    speed: float = 1.0

    def key(self) -> dict:
        """JSON-able identity (part of the feature-cache key)."""
        return asdict(self)

    def __str__(self) -> str:
        parts = []
        if self.snr_db is not None:
            parts.append(f"noise {self.snr_db:g} dB SNR")
        if self.gain_db:
            parts.append(f"gain {self.gain_db:+g} dB")
        if self.speed != 1.0:
            parts.append(f"speed x{self.speed:g}")
        return ", ".join(parts) or "none"


#: The copies added per training file when augmentation is on.
DEFAULT_AUGMENTATIONS: tuple[Augmentation, ...] = (
    Augmentation(snr_db=20.0, gain_db=-6.0),
    Augmentation(speed=0.9),
    Augmentation(speed=1.1, snr_db=30.0),
)


def apply_augmentation(y: np.ndarray, aug: Augmentation, *, seed_key: str = "") -> np.ndarray:
    """Augmented copy of one utterance.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1].
    aug : Augmentation
    seed_key : str
        Seeds the noise (with ``aug``) so the copy is reproducible.

    Returns
    -------
    np.ndarray, float32, shape (n_samples',)
        ``n_samples' = round(n_samples / speed)``.
    """
    out = np.asarray(y, dtype=np.float32)
    if aug.speed != 1.0:
        import soxr

        # resample as if recorded at sr*speed, played at sr: faster and higher
        out = soxr.resample(out, 16000 * aug.speed, 16000, quality="HQ").astype(np.float32)
    if aug.snr_db is not None:
        seed = int.from_bytes(hashlib.sha1(f"{seed_key}|{aug}".encode()).digest()[:8], "little")
        rng = np.random.default_rng(seed)
        frame = 400
        n = out.size // frame
        rms = np.sqrt(np.mean(out[: n * frame].reshape(n, frame) ** 2, axis=1)) if n else np.array([np.sqrt(np.mean(out**2))])
        speech_rms = float(np.percentile(rms, 90)) if rms.size else 0.0
        noise_rms = speech_rms / (10.0 ** (aug.snr_db / 20.0))
        out = out + (noise_rms * rng.standard_normal(out.size)).astype(np.float32)
    if aug.gain_db:
        out = out * np.float32(10.0 ** (aug.gain_db / 20.0))
    return np.clip(out, -1.0, 1.0).astype(np.float32)
