"""Plain data records passed between the threads of the recogniser.

Time is kept in **samples of the stream** (index of a sample since the stream began, at
``sample_rate_hz``), stamped where audio enters the ring buffer; wall-clock instants are
``time.perf_counter()`` readings, used only for latencies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Utterance", "Prediction", "Result", "RunSummary"]


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
    """

    label: str
    confidence: float
    probabilities: dict[str, float]


@dataclass
class Result:
    """One classified utterance as the outputs show it.

    ``to_json()`` gives exactly the keys of the ``--jsonl`` format: ``index``, ``start_s``,
    ``end_s``, ``duration_s``, ``label``, ``confidence``, ``probabilities``, ``rolling``,
    ``processing_ms``, ``end_of_speech_ms``; plus ``session_utterances`` when the utterance
    was normalised with a live session's running statistics.

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
    """

    utterance: Utterance
    prediction: Prediction
    rolling: dict[str, float] = field(default_factory=dict)
    processing_ms: float = 0.0
    end_of_speech_ms: float = 0.0
    ready_time: float = 0.0
    session_utterances: int | None = None

    @property
    def label(self) -> str:
        return self.prediction.label

    @property
    def confidence(self) -> float:
        return self.prediction.confidence

    def to_json(self) -> dict[str, Any]:
        """The ``--jsonl`` record (JSON-serialisable; floats rounded for reading): the ten
        keys above, plus ``session_utterances`` when it is not None."""
        u = self.utterance
        record = {
            "index": u.index,
            "start_s": round(u.start_s, 3),
            "end_s": round(u.end_s, 3),
            "duration_s": round(u.duration_s, 3),
            "label": self.prediction.label,
            "confidence": round(float(self.prediction.confidence), 4),
            "probabilities": {k: round(float(v), 4) for k, v in self.prediction.probabilities.items()},
            "rolling": {k: round(float(v), 4) for k, v in self.rolling.items()},
            "processing_ms": round(self.processing_ms, 2),
            "end_of_speech_ms": round(self.end_of_speech_ms, 2),
        }
        if self.session_utterances is not None:
            record["session_utterances"] = int(self.session_utterances)
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
