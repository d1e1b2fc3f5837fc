"""The extractor's configuration (:class:`FeatureConfig`) and version."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field

from ..audiofile import SAMPLE_RATE_HZ

__all__ = ["FEATURE_VERSION", "FeatureConfig"]

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
        Minimum normalised autocorrelation peak (0..1) for a frame to count as voiced; 0.45
        is Praat's default voicing threshold for ``Sound: To Pitch (ac)...`` (Boersma 1993,
        the autocorrelation method the pitch tracker follows).
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
    pause_gate : bool
        Before analysis, set the blocks of the utterance that hold only its floor (pauses,
        the segmenter's pre-roll and hangover) to digital silence, as the training corpora's
        pauses are, when the speech stands at least 15 dB above that floor
        (:func:`ser_live.features.gating.gate_pauses`). Off by default; written by
        :meth:`to_dict` only when on.
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
    pause_gate: bool = False

    #: Fields added after version 1, written only when they differ from their default, so
    #: that configurations (and the model files and feature caches keyed by them) made
    #: before the field existed keep their dict and hash.
    _OPTIONAL_FIELDS = ("voice_quality", "pause_gate")

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
