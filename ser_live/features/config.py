"""The extractor's configuration (:class:`FeatureConfig`) and version."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field

from ..audiofile import SAMPLE_RATE_HZ

__all__ = ["FEATURE_VERSION", "FeatureConfig"]

#: Bumped whenever the computation changes in a way the configuration does not describe.
FEATURE_VERSION: int = 1

_EPS = 1e-10

#: Inclusive ranges of the numeric fields a configuration read from a file may hold
#: (:meth:`FeatureConfig.from_dict`): wide around every configuration the project has used
#: (16 kHz, 400/160/1024 samples, 40-64 mel bands), narrow enough that setting up the
#: extractor stays within tens of megabytes (the mel bank is ``n_mels x (n_fft/2 + 1)``).
_FROM_DICT_RANGES: dict[str, tuple[float, float]] = {
    "sample_rate_hz": (8000, 96000),
    "win_length": (16, 8192),
    "hop_length": (1, 8192),
    "n_fft": (16, 16384),
    "n_mels": (1, 256),
    "fmax_hz": (1.0, 48000.0),
    "n_mfcc": (1, 256),
    "delta_width": (1, 16),
    "n_chroma": (1, 96),
    "f0_min_hz": (1.0, 48000.0),
    "f0_max_hz": (1.0, 48000.0),
    "voicing_threshold": (0.0, 1.0),
    "target_level_dbfs": (-100.0, 0.0),
}


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
    edge_trim : bool
        Before analysis (after the pause gate), keep only the utterance's span from its
        first to its last active frame plus 0.1 s (:func:`ser_live.features.gating.active_span`):
        a live cut's pre-roll and hangover of floor noise go. Off in this class's defaults, on
        in the shipped default model's since 6 December (``train/recipes/ser-default.toml``);
        written by :meth:`to_dict` only when on.
    shape_voiced : bool
        Pool the spectral-shape contours (``spectral`` group: centroid, bandwidth, roll-off,
        flatness, flux, slope, entropy, band energies) and their deltas over the voiced
        frames only (f0 > 0; the deltas of the voiced frames joined in order), as eGeMAPS
        takes its spectral parameters over voiced regions (Eyben et al., IEEE Trans. Affective
        Computing 7(2), 2016), instead of over every frame: a room's floor fills an
        utterance's pauses and edges, and those frames' spectral shape is the floor's. With
        fewer than 3 voiced frames the columns are 0 (as the pitch contour's). Column names
        are unchanged. Off by default; written by :meth:`to_dict` only when on.
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
    edge_trim: bool = False
    shape_voiced: bool = False

    #: Fields added after version 1, written only when they differ from their default, so
    #: that configurations (and the model files and feature caches keyed by them) made
    #: before the field existed keep their dict and hash.
    _OPTIONAL_FIELDS = ("voice_quality", "pause_gate", "edge_trim", "shape_voiced")

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
        """Inverse of :meth:`to_dict`, for a dict read from a file (a model's header).

        Every value is checked before anything is built from it: a model file is untrusted,
        and a configuration such as ``n_fft = 2**34`` or ``hop_length = 0`` would otherwise
        make the extractor allocate gigabytes or divide by zero while it is set up.

        Parameters
        ----------
        d : dict
            Field name -> value, as :meth:`to_dict` writes it (optional fields may be absent).

        Returns
        -------
        FeatureConfig

        Raises
        ------
        TypeError
            Not a dict, an unknown field, or a value of the wrong type (``bool`` fields take
            only booleans, integer fields only integers, float fields numbers).
        ValueError
            ``version`` other than :data:`FEATURE_VERSION` (an extractor that computes
            differently), or a value outside :data:`_FROM_DICT_RANGES` (sizes, rates), a
            non-finite number, percentiles outside 0..100 or without 5, 25, 75 and 95.
        """
        if not isinstance(d, dict):
            raise TypeError(f"the feature configuration is a {type(d).__name__}, not a dict")
        d = dict(d)
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise TypeError(f"unknown feature configuration fields {unknown}")
        if d.get("version", FEATURE_VERSION) != FEATURE_VERSION:
            raise ValueError(f"feature extractor version {d['version']!r}, this ser-live computes version {FEATURE_VERSION}")
        for name, value in d.items():
            kind = cls.__dataclass_fields__[name].type
            if kind == "bool" and not isinstance(value, bool):
                raise TypeError(f"{name} = {value!r} is not true or false")
            if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
                raise TypeError(f"{name} = {value!r} is not an integer")
            if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value)):
                raise TypeError(f"{name} = {value!r} is not a finite number")
            lo, hi = _FROM_DICT_RANGES.get(name, (-math.inf, math.inf))
            if kind in ("int", "float") and not lo <= value <= hi:
                raise ValueError(f"{name} = {value!r} is outside {lo:g}..{hi:g}")
        if "percentiles" in d:
            q = d["percentiles"]
            if not isinstance(q, list) or not 4 <= len(q) <= 101 or not all(
                    isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 100 for p in q):
                raise ValueError(f"percentiles {str(q)[:60]} are not 4 to 101 numbers in 0..100")
            d["percentiles"] = tuple(float(p) for p in q)
            if not {5.0, 25.0, 75.0, 95.0} <= set(d["percentiles"]):
                raise ValueError("percentiles must include 5, 25, 75 and 95")
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
