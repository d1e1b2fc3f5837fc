"""Plain data records passed between the threads of the recogniser.

Time is kept in **samples of the stream** (index of a sample since the stream began, at
``sample_rate_hz``), stamped where audio enters the ring buffer; wall-clock instants are
``time.perf_counter()`` readings, used only for latencies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np

from .affect import affect_of, affect_record

__all__ = ["latency_stats", "RecognizerStatus", "Utterance", "Prediction", "Result", "RunSummary", "UncertaintyRule", "DEFAULT_UNCERTAIN_MARGIN"]

def latency_stats(values_ms: Iterable[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum of a set of latencies.

    The one latency summary of the project: the run summary (:class:`RunSummary`), the
    dashboard's last/p50/p95 table and the benchmarks' records are all built from it.

    Parameters
    ----------
    values_ms : iterable of float
        Latencies (ms), any order (a list, a deque or a 1-D array).

    Returns
    -------
    dict
        ``{"p50": ..., "p95": ..., "max": ...}`` (ms, Python floats; percentiles by linear
        interpolation, ``numpy.percentile``'s default); empty dict for no values.
    """
    a = np.fromiter(values_ms, dtype=np.float64)
    if a.size == 0:
        return {}
    p50, p95 = np.percentile(a, [50, 95])
    return {"p50": float(p50), "p95": float(p95), "max": float(a.max())}


#: Default :attr:`UncertaintyRule.margin`: a top probability within 0.05 of the second is
#: a coin toss between two labels, whatever the number of labels.
DEFAULT_UNCERTAIN_MARGIN: float = 0.05


@dataclass
class Utterance:
    """One stretch of speech cut by the VAD segmenter.

    Attributes
    ----------
    index : int
        0-based number of the utterance in its stream.
    samples : np.ndarray, int16, shape (end_sample - start_sample,)
        The audio, pre-roll and hangover included.
    start_sample, end_sample : int
        Stream sample indices of the first sample and one past the last.
    last_voiced_sample : int
        One past the last sample of the last frame the VAD called voiced (``<= end_sample``).
    sample_rate_hz : int
        Sample rate of ``samples`` (Hz).
    last_voiced_time : float
        ``perf_counter()`` instant at which the last voiced frame's final sample entered the
        ring buffer (seconds); the origin of the end-of-speech latency.
    closed_time : float
        ``perf_counter()`` instant at which the segmenter closed the utterance (seconds); the
        origin of the processing latency.
    cut_at_max : bool
        True when the utterance was closed because it reached the maximum length, not a pause.
    """

    index: int
    samples: np.ndarray
    start_sample: int
    end_sample: int
    last_voiced_sample: int
    sample_rate_hz: int
    last_voiced_time: float = 0.0
    closed_time: float = 0.0
    cut_at_max: bool = False

    @property
    def start_s(self) -> float:
        """Start in stream seconds."""
        return self.start_sample / self.sample_rate_hz

    @property
    def end_s(self) -> float:
        """End in stream seconds (exclusive)."""
        return self.end_sample / self.sample_rate_hz

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return (self.end_sample - self.start_sample) / self.sample_rate_hz


@dataclass
class Prediction:
    """What the model says of one utterance.

    Attributes
    ----------
    label : str
        The most probable label.
    confidence : float
        Its probability, in [0, 1].
    probabilities : dict[str, float]
        Probability of every label of the model, in the model's label order; sums to 1.
    noise_branch : bool or None, default None
        True when the model's noise branch classified the utterance (its SNR was below the
        branch's cut, :mod:`ser_live.route`), False when the main classifier did; None for a
        model without a noise branch. Records carry it as ``"noise_branch"`` when not None.

    Notes
    -----
    :attr:`arousal` and :attr:`valence` are read off :attr:`probabilities` on Russell's
    circumplex (:mod:`ser_live.affect`), computed on access.
    """

    label: str
    confidence: float
    probabilities: dict[str, float]
    noise_branch: bool | None = None

    @property
    def arousal(self) -> float | None:
        """Arousal in [-1, 1] (+1 high: angry, happy, ...; -1 low: neutral, sad, ...), the
        probability-weighted sum of the labels' circumplex positions
        (:func:`ser_live.affect.affect_of`); None when a label of the model has no position."""
        av = affect_of(self.probabilities)
        return None if av is None else av[0]

    @property
    def valence(self) -> float | None:
        """Valence in [-1, 1] (+1 positive: happy, calm; -1 negative: angry, sad, ...; neutral
        0), as :attr:`arousal`; None when a label of the model has no position."""
        av = affect_of(self.probabilities)
        return None if av is None else av[1]


@dataclass(frozen=True)
class UncertaintyRule:
    """When a prediction is shown as "uncertain" instead of its label.

    A prediction is uncertain when its top probability is within ``margin`` of the second
    highest, or below ``below``. Only the display changes (the dashboard says "uncertain");
    the label is kept in every record, and the rolling estimate weights each utterance by
    its confidence as before.

    Attributes
    ----------
    margin : float, default 0.05
        Top minus second probability (in [0, 1]) at or under which the prediction is
        uncertain; 0 disables the rule.
    below : float or None, default None
        Top probability (in [0, 1]) under which the prediction is uncertain; None disables
        the rule. :meth:`for_labels` gives a default relative to chance.

    Raises
    ------
    ValueError
        From :meth:`validate`, a value outside [0, 1].
    """

    margin: float = DEFAULT_UNCERTAIN_MARGIN
    below: float | None = None

    #: ``below`` chosen by :meth:`for_labels`: this many times chance (1 / number of labels).
    AUTO_BELOW_X_CHANCE = 1.5

    def validate(self) -> "UncertaintyRule":
        """Check the values; return ``self``.

        Raises
        ------
        ValueError
            ``margin`` or ``below`` outside [0, 1] (or not a number).
        """
        if not 0.0 <= self.margin <= 1.0:
            raise ValueError(f"uncertain margin must be in [0, 1] (got {self.margin})")
        if self.below is not None and not 0.0 <= self.below <= 1.0:
            raise ValueError(f"uncertain-below threshold must be in [0, 1] (got {self.below})")
        return self

    @classmethod
    def for_labels(cls, n_labels: int, *, margin: float = DEFAULT_UNCERTAIN_MARGIN) -> "UncertaintyRule":
        """The rule with ``below`` at :attr:`AUTO_BELOW_X_CHANCE` times chance.

        Parameters
        ----------
        n_labels : int
            Labels of the model (>= 1): chance is ``1 / n_labels``, so ``below`` is 0.375
            for 4 labels, 0.214 for 7, 0.1875 for 8.
        margin : float, default 0.05

        Returns
        -------
        UncertaintyRule

        Raises
        ------
        ValueError
            ``n_labels`` < 1, or a ``margin`` :meth:`validate` refuses.
        """
        if n_labels < 1:
            raise ValueError(f"n_labels must be >= 1 (got {n_labels})")
        return cls(margin=margin, below=min(1.0, cls.AUTO_BELOW_X_CHANCE / n_labels)).validate()

    def applies(self, prediction: "Prediction") -> bool:
        """Whether ``prediction`` is uncertain under this rule.

        Parameters
        ----------
        prediction : Prediction

        Returns
        -------
        bool
            True when the top probability is at most ``margin`` above the second (with
            two or more labels), or below ``below``.
        """
        top = float(prediction.confidence)
        if self.below is not None and top < self.below:
            return True
        probs = sorted((float(p) for p in prediction.probabilities.values()), reverse=True)
        return len(probs) >= 2 and probs[0] - probs[1] <= self.margin

    def applies_to_rows(self, proba: np.ndarray) -> np.ndarray:
        """:meth:`applies` for many predictions at once, from their probabilities.

        Parameters
        ----------
        proba : np.ndarray, float, shape (n, n_labels)
            Probabilities per row (the top one is the confidence).

        Returns
        -------
        np.ndarray, bool, shape (n,)
            True where :meth:`applies` would say uncertain.
        """
        P = np.sort(np.asarray(proba, dtype=np.float64), axis=1)[:, ::-1]
        out = np.zeros(len(P), dtype=bool)
        if self.below is not None:
            out |= P[:, 0] < self.below
        if P.shape[1] >= 2:
            out |= P[:, 0] - P[:, 1] <= self.margin
        return out


@dataclass
class Result:
    """One classified utterance as the outputs show it.

    ``to_json()`` gives exactly the keys of the ``--jsonl`` format: ``index``, ``start_s``,
    ``end_s``, ``duration_s``, ``label``, ``confidence``, ``probabilities``, ``arousal``,
    ``valence``, ``rolling``, ``rolling_arousal``, ``rolling_valence``, ``processing_ms``,
    ``end_of_speech_ms``; plus ``session_utterances`` when the utterance was normalised with a
    live session's running statistics, ``noise_branch`` (bool) when the model has a noise
    branch (:attr:`Prediction.noise_branch`), and ``speaker``, ``speaker_rolling``,
    ``speaker_rolling_arousal`` and ``speaker_rolling_valence`` when the run attributes
    speaker turns (``--speakers``). Arousal and valence (in [-1, 1], :mod:`ser_live.affect`)
    are read off the probabilities beside them: the utterance's, the rolling estimate's, the
    speaker's rolling estimate's; null when the model has a label without a circumplex
    position, and the rolling ones null before any rolling estimate.

    Attributes
    ----------
    utterance : Utterance
    prediction : Prediction
    rolling : dict[str, float]
        The rolling (recency-weighted) estimate after this utterance; label -> probability.
    processing_ms : float
        Utterance closed -> result ready (milliseconds).
    end_of_speech_ms : float
        Last voiced frame entered the ring buffer -> result ready (milliseconds).
    ready_time : float
        ``perf_counter()`` instant the result was ready (seconds).
    session_utterances : int or None
        Utterances the session statistics that normalised this one rest on (this one
        included; see :class:`~ser_live.normalize.SessionState`); None when no session
        normalisation was applied (a model without a normaliser, or session normalisation
        turned off).
    final : bool, default True
        False for a provisional estimate of an utterance still in progress (``--partial``):
        its ``utterance`` is a snapshot (:meth:`~ser_live.vad.Segmenter.in_progress`) whose
        ``end_s`` is the stream time the estimate covers, ``processing_ms`` is snapshot ->
        ready, ``end_of_speech_ms`` is last voiced frame in the snapshot -> ready, and
        ``rolling`` is the rolling estimate as it was (provisional estimates never update
        it). Exactly one final result follows per utterance.
    features : np.ndarray or None, float, shape (n_features,)
        The utterance's features as the worker extracted them, before any normalisation
        (None for a provisional estimate, and in ``Predictor.iter_file_segments(...,
        keep_audio=False)``'s results, as ``predict --segments`` holds them); what calibration
        keeps of a take
        (:mod:`ser_live.calibrate`). Not part of any record.
    speaker : str or None
        The speaker of the run the utterance was attributed to (``"A"``, ``"B"``, ... in
        order of first appearance; :mod:`ser_live.speakers`); None when the run attributes
        no speakers (a provisional estimate carries the speaker of the latest final result).
    speaker_rolling : dict[str, float]
        The rolling estimate of that speaker's utterances alone after this one (label ->
        probability); empty without speakers.
    speaker_revised : str or None
        ``predict --segments --speakers`` (``Predictor(speakers=...)`` with
        ``segments=True``): the utterance's speaker after the last
        re-clustering that held it (:attr:`SpeakerAssigner.revised_ <ser_live.speakers.SpeakerAssigner.revised_>`:
        the file's last one for the assigner's latest ``history`` utterances), set on every
        result of the file once the file ends; ``speaker`` stays the label at the moment, as
        live shows it. None live and without speakers.
    speakers_moved : dict[int, str]
        With speaker turns: the utterances (index -> speaker) whose speaker the run's
        re-clustering after this one changed from the one last reported
        (:meth:`SpeakerSessions.follow <ser_live.speakers.SpeakerSessions.follow>`, which also
        moves their features to their new speaker's session);
        empty when none moved. The dashboard's timeline shows them; ``ser-live --revisions``
        writes them as a ``{"kind": "speakers"}`` line. Not part of the utterance's record.
    revision : Revision or None
        The session's earlier utterances re-scored with the statistics as they are after
        this one (:class:`~ser_live.revision.Revision`); None when nothing was revised (the
        first utterance, past the revision window, no session). Not part of the utterance's
        record (``ser-live --revisions`` writes it as a line of its own).
    route_db : float or None
        The SNR (dB) the noise route decided the utterance by when it was read over the
        stretch of speech the utterance ends (:class:`~ser_live.offline.SpeechStretch`), so
        a revision routes it the same way; None: its own feature column. Not part of any
        record.
    """

    utterance: Utterance
    prediction: Prediction
    rolling: dict[str, float] = field(default_factory=dict)
    processing_ms: float = 0.0
    end_of_speech_ms: float = 0.0
    ready_time: float = 0.0
    session_utterances: int | None = None
    final: bool = True
    features: np.ndarray | None = field(default=None, repr=False, compare=False)
    speaker: str | None = None
    speaker_rolling: dict[str, float] = field(default_factory=dict)
    speaker_revised: str | None = field(default=None, compare=False)
    speakers_moved: dict[int, str] = field(default_factory=dict, compare=False)
    revision: Any = field(default=None, repr=False, compare=False)
    route_db: float | None = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """The predicted label (:attr:`Prediction.label`)."""
        return self.prediction.label

    @property
    def confidence(self) -> float:
        """The probability of :attr:`label`, in [0, 1] (:attr:`Prediction.confidence`)."""
        return self.prediction.confidence

    @property
    def arousal(self) -> float | None:
        """The utterance's arousal in [-1, 1] (:attr:`Prediction.arousal`); None for a model
        with a label without a circumplex position."""
        return self.prediction.arousal

    @property
    def valence(self) -> float | None:
        """The utterance's valence in [-1, 1] (:attr:`Prediction.valence`); None for a model
        with a label without a circumplex position."""
        return self.prediction.valence

    @property
    def rolling_affect(self) -> tuple[float, float] | None:
        """``(arousal, valence)`` of the rolling estimate :attr:`rolling` (the same mapping on
        its probabilities, :func:`ser_live.affect.affect_of`); None before any estimate or
        for a model with a label without a circumplex position."""
        return affect_of(self.rolling)

    def to_json(self, *, flags: UncertaintyRule | None = None) -> dict[str, Any]:
        """The ``--jsonl`` record (JSON-serialisable; floats rounded for reading).

        Parameters
        ----------
        flags : UncertaintyRule, optional
            When given (``--partial``), two keys are added: ``final`` (:attr:`final`) and
            ``uncertain`` (the rule applied to the prediction). Without it the record has
            exactly the fourteen keys listed in the class docstring (plus
            ``session_utterances``, ``noise_branch`` and ``speaker`` when they are not None,
            and ``speaker_rolling``, ``speaker_rolling_arousal``, ``speaker_rolling_valence``
            with ``speaker``).

        Returns
        -------
        dict
        """
        rec = self._json_keys()
        if flags is not None:
            rec["final"] = bool(self.final)
            rec["uncertain"] = flags.applies(self.prediction)
        return rec

    def _json_keys(self) -> dict[str, Any]:
        u = self.utterance
        record = {
            "index": u.index,
            "start_s": round(u.start_s, 3),
            "end_s": round(u.end_s, 3),
            "duration_s": round(u.duration_s, 3),
            "label": self.prediction.label,
            "confidence": round(float(self.prediction.confidence), 4),
            "probabilities": {k: round(float(v), 4) for k, v in self.prediction.probabilities.items()},
            **affect_record(self.prediction.probabilities),
            "rolling": {k: round(float(v), 4) for k, v in self.rolling.items()},
            **affect_record(self.rolling, prefix="rolling_"),
            "processing_ms": round(self.processing_ms, 2),
            "end_of_speech_ms": round(self.end_of_speech_ms, 2),
        }
        if self.session_utterances is not None:
            record["session_utterances"] = int(self.session_utterances)
        if self.prediction.noise_branch is not None:
            record["noise_branch"] = bool(self.prediction.noise_branch)
        if self.speaker is not None:
            record["speaker"] = self.speaker
            record["speaker_rolling"] = {k: round(float(v), 4) for k, v in self.speaker_rolling.items()}
            record.update(affect_record(self.speaker_rolling, prefix="speaker_rolling_"))
        return record


@dataclass
class RunSummary:
    """What a listening run did, printed on exit.

    Attributes
    ----------
    n_utterances : int
        Utterances classified.
    label_counts : dict[str, int]
        Utterances per predicted label.
    processing_ms : dict[str, float]
        ``p50``, ``p95``, ``max`` of utterance closed -> result ready (ms); empty if none.
    end_of_speech_ms : dict[str, float]
        ``p50``, ``p95``, ``max`` of last voiced frame entered -> result ready (ms).
    audio_s : float
        Stream seconds heard.
    dropped_samples : int
        Samples lost to ring-buffer overruns.
    dropped_s : float
        The same in seconds.
    input_overflows : int
        PortAudio input-overflow flags seen by the capture callback.
    dropped_short : int
        Speech bursts shorter than the minimum utterance length, not classified.
    dropped_utterances : int
        Utterances dropped because the worker's queue was full (live sources only).
    n_saved : int or None
        Utterances really on disk (WAV and index line) with ``--save-utterances``; None
        when not saving.
    rolling : dict[str, float]
        The rolling estimate at the end.
    """

    n_utterances: int = 0
    label_counts: dict[str, int] = field(default_factory=dict)
    processing_ms: dict[str, float] = field(default_factory=dict)
    end_of_speech_ms: dict[str, float] = field(default_factory=dict)
    audio_s: float = 0.0
    dropped_samples: int = 0
    dropped_s: float = 0.0
    input_overflows: int = 0
    dropped_short: int = 0
    dropped_utterances: int = 0
    n_saved: int | None = None
    rolling: dict[str, float] = field(default_factory=dict)


@dataclass
class RecognizerStatus:
    """Live state of a recogniser for a dashboard (the one status record: the
    :class:`~ser_live.pipeline.Recognizer` makes it, the dashboard keeps the latest); read
    from the main thread (values may be a frame old). Defaults: before any audio.

    Attributes
    ----------
    level_dbfs : float
        RMS level of the last VAD frame (dBFS).
    vad_state : str
        ``"silence"`` or ``"speech"``.
    stream_s : float
        Stream seconds written by the source (stored or dropped).
    dropped_samples : int
        Samples lost to ring-buffer overruns.
    dropped_s : float
        The same in seconds.
    input_overflows : int
        PortAudio input overflows reported to the capture callback (0 for files).
    dropped_short : int
        Speech bursts shorter than the minimum utterance length, not classified.
    dropped_utterances : int
        Utterances dropped because the worker's queue was full (live sources only; a file
        replay waits instead).
    noise_floor_dbfs, clipped_fraction, speech_level_dbfs : float
        The segmenter's tracked noise floor (dBFS), fraction of full-scale samples in the
        last second, and loud-frame level of the last utterance (dBFS).
    """

    level_dbfs: float = -math.inf
    vad_state: str = "silence"
    stream_s: float = 0.0
    dropped_samples: int = 0
    dropped_s: float = 0.0
    input_overflows: int = 0
    dropped_short: int = 0
    dropped_utterances: int = 0
    noise_floor_dbfs: float = -math.inf
    clipped_fraction: float = 0.0
    speech_level_dbfs: float = -math.inf
