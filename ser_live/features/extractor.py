"""The extractor object (:class:`FeatureExtractor`): utterance -> fixed-length feature vector."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..forksafe import fork_guard
from ..levels import loud_frame_level
from .config import FeatureConfig
from .gating import active_span, gate_pauses
from .framewise import _Analysis, _frame_rms_db, _frames, framewise_descriptors
from .pooling import _layout, LayoutEntry, _percentiles_sorted, _pool, _pooling_plan, _Utterance, pool_subset, subset_plan

__all__ = ["FeatureExtractor"]

class FeatureExtractor:
    """Utterance -> fixed-length feature vector; the same object in training and live.

    Parameters
    ----------
    config : FeatureConfig, optional
        Analysis settings; default ``FeatureConfig()``, which is not every shipped model's:
        ``ser-default`` adds voice-quality columns (4729 features against 4692). A model's
        extractor is ``FeatureExtractor(model.feature_config)`` (every column, e.g. to train
        on), or ``model.extractor`` (only the columns the model reads, the others 0: what
        it predicts from).
    columns : np.ndarray, int, shape (k,), optional
        Compute only these columns (a model's :meth:`read_columns
        <ser_live.fastpath.CompiledEstimator.read_columns>`; see :meth:`for_columns`); None:
        all (training extracts everything).

    Notes
    -----
    The extractor changes nothing outside itself but per-thread scratch buffers (see
    :func:`~ser_live.features.framewise._scratch`), so one extractor may serve any number of
    threads at once, each call giving, to the bit, what it gives alone; an extraction is a
    :func:`~ser_live.forksafe.fork_guard` section. Programs that extract many features
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

    def __init__(self, config: FeatureConfig | None = None, *, columns: np.ndarray | None = None) -> None:
        self.config = config or FeatureConfig()
        self._analysis = _Analysis(self.config)
        self._layout = _layout(self.config, self._analysis)
        self._plan = _pooling_plan(self._layout)
        self.columns = None if columns is None else np.unique(np.asarray(columns, dtype=np.int64))
        self._subset = None if self.columns is None else subset_plan(self._layout, self.columns)

    def for_columns(self, columns: np.ndarray | None) -> "FeatureExtractor":
        """An extractor of this configuration that computes only ``columns``.

        Parameters
        ----------
        columns : np.ndarray, int, shape (k,), or None
            Column indices (of :meth:`feature_names`) a model reads; None: all.

        Returns
        -------
        FeatureExtractor
            Its :meth:`extract` gives the same full-width vector with those columns
            bit-identical to this extractor's and the others 0; descriptor groups and pooled
            rows no kept column reads are not computed.

        Raises
        ------
        ValueError
            A column outside the layout.
        """
        return FeatureExtractor(self.config, columns=columns)

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
            Finite values (digital silence gives defined, finite features); with
            ``columns`` (:meth:`for_columns`), 0 outside them.

        Raises
        ------
        ValueError
            ``y`` is not 1-D, or shorter than ``config.min_samples`` (65 ms at 16 kHz).
        """
        return self._extract(y)[0]

    def extract_with_frames(self, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`extract`, and the framewise MFCCs and voicing it pooled (for the speaker
        embedding of ``--speakers N``, :mod:`ser_live.supervector`: no second analysis).

        Parameters
        ----------
        y : np.ndarray, shape (n_samples,)
            As :meth:`extract`.

        Returns
        -------
        (np.ndarray, np.ndarray, np.ndarray)
            The feature vector (bit-identical to :meth:`extract`'s); the MFCCs, float32,
            shape (n_mfcc, n_frames), those of :meth:`framewise`; per frame whether it is
            voiced (f0 > 0), bool, shape (n_frames,). The arrays are the caller's own.

        Raises
        ------
        ValueError
            As :meth:`extract`.
        """
        x, d, voiced = self._extract(y)
        return x, np.array(d["mfcc"], dtype=np.float32), voiced.copy()

    def _extract(self, y: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
        """The feature vector, the framewise descriptors it pooled, the voiced frames."""
        sub = self._subset
        with fork_guard():  # OpenBLAS products: no fork meanwhile (ser_live.forksafe)
            d = framewise_descriptors(self._prepare(y), self._analysis, need=None if sub is None else sub.sources,
                                      spectral_rows=None if sub is None else sub.rows_of("spectral"))
            u = _Utterance(d=d, voiced=d["pitch"][0] > 0, cfg=self.config)
            return (_pool(self._plan, u) if self._subset is None else pool_subset(self._subset, u)), d, u.voiced

    def level_spread_db(self, y: np.ndarray) -> float:
        """The ``rms_db_p5_95`` column of :meth:`extract` alone, without the other
        descriptors: the 95th minus the 5th percentile (dB) of the frame RMS level, the same
        frames and arithmetic as the energy group, so the value equals the column's (float32).
        What a noise route reads as the SNR (:mod:`ser_live.route`), for a stretch of speech
        longer than one utterance (:class:`ser_live.offline.SpeechStretch`) at a fraction of
        an extraction's cost.

        Parameters
        ----------
        y : np.ndarray, shape (n_samples,)
            As :meth:`extract`.

        Returns
        -------
        float
            dB.

        Raises
        ------
        ValueError
            As :meth:`extract`.
        """
        cfg = self.config
        rms_db = _frame_rms_db(_frames(self._prepare(y), cfg.win_length, cfg.hop_length))
        p5, p95 = _percentiles_sorted(np.sort(rms_db.astype(np.float64)), (5.0, 95.0))
        return float(np.float32(p95 - p5))

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
        from_int16 = y.dtype == np.int16
        if from_int16:
            y = y.astype(np.float32) / np.float32(32768.0)
        y = y.astype(np.float32, copy=False)
        if y.shape[0] < self.config.min_samples:
            raise ValueError(
                f"utterance of {y.shape[0]} samples ({y.shape[0] / self.config.sample_rate_hz * 1000:.0f} ms) "
                f"is shorter than the {self.config.min_samples} samples "
                f"({self.config.min_samples / self.config.sample_rate_hz * 1000:.0f} ms) the extractor needs"
            )
        if not from_int16 and not np.all(np.isfinite(y)):  # int16 samples are always finite
            raise ValueError("audio contains NaN or infinite samples")
        if self.config.level_normalize:
            y = self._normalize_level(y)
        if self.config.pause_gate:
            y = gate_pauses(y, sample_rate_hz=self.config.sample_rate_hz).samples
        if self.config.edge_trim:
            start, end = active_span(y, sample_rate_hz=self.config.sample_rate_hz)
            y = y[start:end]
        return y

    def _normalize_level(self, y: np.ndarray) -> np.ndarray:
        cfg = self.config
        # frames of the squared signal: the same squares, each row summed as the rows of
        # frames**2 are (contiguous runs of win_length), without squaring overlaps again
        rms = np.sqrt(np.mean(_frames(y * y, cfg.win_length, cfg.hop_length), axis=1))
        loud = loud_frame_level(rms)  # the loud-frame speech level (ser_live.levels)
        if loud < 1e-5:  # digital silence or near it: leave as is
            return y
        gain = (10.0 ** (cfg.target_level_dbfs / 20.0)) / loud
        return (y * np.float32(gain)).astype(np.float32, copy=False)
