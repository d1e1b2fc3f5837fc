"""The recogniser: source -> ring buffer -> segmenter thread -> worker thread -> results.

:class:`Recognizer` wires the pieces of DESIGN.md's data flow and owns their threads:

* the **source** (:class:`~ser_live.audio.MicrophoneSource` or
  :class:`~ser_live.audio.FileSource`) writes int16 16 kHz blocks into a
  :class:`~ser_live.ringbuffer.RingBuffer` from its own thread (PortAudio's callback, or the
  replay thread); it never waits for the consumer;
* the **segmenter thread** reads 30 ms frames from the ring and cuts utterances with
  :func:`~ser_live.vad.iter_utterances` (one :class:`~ser_live.vad.Segmenter`), putting them
  on a queue;
* the **worker thread** extracts features and classifies each utterance
  (:meth:`~ser_live.model.EmotionModel.predict_signal`), stamps the two latencies, updates
  the :class:`RollingEstimate`, saves the utterance when asked, and puts the
  :class:`~ser_live.types.Result` on :attr:`Recognizer.results`, which the main thread
  drains (dashboard, ``--plain``, ``--jsonl``).

:func:`predict_segments` runs the very same segmenter and model on a whole array: the
streaming path (a file replayed at any speed) and the offline one give identical utterance
boundaries and identical probabilities (train/serve parity), because the segmenter is
deterministic given the same samples from the same start.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from .audiofile import SAMPLE_RATE_HZ, iter_audio_blocks, load_audio, to_int16, write_wav
from .errors import AudioFileError, NoSpeechError
from .model import EmotionModel
from .ringbuffer import RingBuffer
from .types import Prediction, Result, RunSummary, Utterance
from .vad import LEVEL_FLOOR_DBFS, Segmenter, VadConfig, iter_utterances, segment_signal, speech_span

__all__ = [
    "RollingEstimate",
    "RecognizerStatus",
    "Recognizer",
    "predict_segments",
    "predict_file",
    "predict_file_segments",
    "decode_like_stream",
    "latency_stats",
    "WHOLE_FILE_MAX_S",
    "DEFAULT_HALF_LIFE_S",
    "DEFAULT_RING_CAPACITY_S",
]

log = logging.getLogger(__name__)

#: Longest file (s) :func:`predict_file` takes as one utterance; longer ones need segments.
WHOLE_FILE_MAX_S: float = 60.0
#: Default half-life of the rolling estimate (stream seconds).
DEFAULT_HALF_LIFE_S: float = 20.0
#: Default ring-buffer capacity (seconds of audio the segmenter may fall behind by).
DEFAULT_RING_CAPACITY_S: float = 30.0
#: Block length (s of the file) in which files are decoded, as FileSource decodes them.
_DECODE_BLOCK_S: float = 0.25
#: Weights below this fraction of the newest utterance's decay are forgotten.
_FORGET_BELOW: float = 1e-6


# ---------------------------------------------------------------------- rolling estimate
class RollingEstimate:
    """Recency-weighted average of utterance probabilities over a conversation.

    After utterances ``i = 1..n`` (probability vectors ``p_i``, lengths ``d_i`` in seconds,
    confidences ``c_i`` = the top probability, ends ``e_i`` in stream seconds) the estimate is

    .. math::

        r = \\frac{\\sum_i w_i \\, p_i}{\\sum_i w_i}, \\qquad
        w_i = d_i \\cdot c_i \\cdot 0.5^{(e_n - e_i) / h}

    with ``h`` the half-life in stream seconds and ``e_n`` the end of the latest utterance.
    Longer and more confident utterances count more; an utterance ``h`` seconds older than
    the latest counts half as much as it did. One odd utterance among several therefore
    moves the estimate only partly, and a lasting change of mood takes over within a few
    utterances. The first utterance gives ``r = p_1``. Utterances whose decay factor falls
    below 1e-6 (about 20 half-lives) are forgotten, so memory stays bounded.

    Parameters
    ----------
    labels : list of str
        Label order of the estimate (the model's labels).
    half_life_s : float, default 20.0
        Age (stream seconds) at which an utterance's weight has halved; ``inf`` averages
        everything equally (weighted by duration and confidence only).

    Attributes
    ----------
    estimate : dict of str to float
        The current estimate (label -> probability, summing to 1); empty before the first
        update.

    Raises
    ------
    ValueError
        ``half_life_s`` not positive, or no labels.
    """

    def __init__(self, labels: list[str], *, half_life_s: float = DEFAULT_HALF_LIFE_S) -> None:
        if not labels:
            raise ValueError("labels must not be empty")
        if not (half_life_s > 0):
            raise ValueError(f"half_life_s must be positive, got {half_life_s}")
        self.labels = list(labels)
        self.half_life_s = float(half_life_s)
        self._items: list[tuple[np.ndarray, float, float]] = []  # (p, d*c, end_s)
        self._latest_end_s = -math.inf
        self.estimate: dict[str, float] = {}

    def reset(self) -> None:
        """Forget every utterance."""
        self._items.clear()
        self._latest_end_s = -math.inf
        self.estimate = {}

    def update(
        self,
        result: Result | Mapping[str, float],
        *,
        duration_s: float | None = None,
        confidence: float | None = None,
        end_s: float | None = None,
    ) -> dict[str, float]:
        """Add one utterance and return the new estimate.

        Parameters
        ----------
        result : Result or mapping of str to float
            A classified utterance (its probabilities, duration, confidence and end are
            used), or the probabilities (label -> probability) themselves, in which case
            ``duration_s``, ``end_s`` are required and ``confidence`` defaults to the
            largest probability.
        duration_s : float, optional
            Utterance length (seconds).
        confidence : float, optional
            Confidence in [0, 1].
        end_s : float, optional
            End of the utterance in stream seconds.

        Returns
        -------
        dict of str to float
            The estimate after this utterance (a new dict; also kept in :attr:`estimate`).

        Raises
        ------
        ValueError
            Missing keywords with a bare mapping, or a label the estimate does not know.
        """
        if isinstance(result, Result):
            probs: Mapping[str, float] = result.prediction.probabilities
            duration_s = result.utterance.duration_s
            confidence = result.prediction.confidence
            end_s = result.utterance.end_s
        else:
            probs = result
            if duration_s is None or end_s is None:
                raise ValueError("duration_s and end_s are needed with bare probabilities")
        unknown = set(probs) - set(self.labels)
        if unknown:
            raise ValueError(f"labels not in the estimate: {sorted(unknown)}")
        p = np.array([float(probs.get(lab, 0.0)) for lab in self.labels], dtype=np.float64)
        if confidence is None:
            confidence = float(p.max())
        self._items.append((p, max(float(duration_s), 0.0) * max(float(confidence), 0.0), float(end_s)))
        self._latest_end_s = max(self._latest_end_s, float(end_s))
        return self._recompute()

    def _recompute(self) -> dict[str, float]:
        latest = self._latest_end_s
        h = self.half_life_s
        decays = [0.5 ** (max(latest - e, 0.0) / h) for _p, _w, e in self._items]
        keep = [i for i, dec in enumerate(decays) if dec >= _FORGET_BELOW]
        self._items = [self._items[i] for i in keep]
        decays = [decays[i] for i in keep]
        weights = np.array([w * dec for (_p, w, _e), dec in zip(self._items, decays)])
        P = np.vstack([p for p, _w, _e in self._items])
        total = float(weights.sum())
        if total > 0:
            r = weights @ P / total
        else:  # only zero-length or zero-confidence utterances: plain mean
            r = P.mean(axis=0)
        s = float(r.sum())
        if s > 0:
            r = r / s
        self.estimate = {lab: float(v) for lab, v in zip(self.labels, r)}
        return dict(self.estimate)


# ---------------------------------------------------------------------- offline
def decode_like_stream(path: str | Path) -> np.ndarray:
    """Decode a whole file exactly as :class:`~ser_live.audio.FileSource` streams it.

    Same block decoding, streaming resampler, channel mix and int16 conversion, so the
    samples equal those a replay writes into the ring buffer, for any rate and channel
    count.

    Parameters
    ----------
    path : str or Path
        Audio file (WAV, FLAC, OGG, ...).

    Returns
    -------
    np.ndarray, int16, shape (n_samples,)
        Mono at 16 kHz.

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file.
    """
    blocks = [to_int16(y) for y in iter_audio_blocks(path, block_s=_DECODE_BLOCK_S, sample_rate_hz=SAMPLE_RATE_HZ)]
    if not blocks:
        raise AudioFileError(f"{path}: the file holds no audio samples (empty)")
    return np.concatenate(blocks)


def predict_segments(
    y: np.ndarray,
    model: EmotionModel,
    *,
    vad_config: VadConfig | None = None,
    half_life_s: float = DEFAULT_HALF_LIFE_S,
) -> list[Result]:
    """Cut a whole signal into utterances and classify each, as the live recogniser does.

    Uses :func:`~ser_live.vad.segment_signal` (the live segmenter fed from sample 0) and
    :meth:`EmotionModel.predict_signal` on each utterance's int16 samples, and the same
    :class:`RollingEstimate`, so every field but the latencies equals what
    :class:`Recognizer` gives for the same samples streamed from the start.

    Parameters
    ----------
    y : np.ndarray, float32 in [-1, 1] or int16, shape (n_samples,)
        Mono audio at 16 kHz.
    model : EmotionModel
    vad_config : VadConfig, optional
        Segmenter parameters; defaults when None.
    half_life_s : float, default 20.0
        Half-life of the rolling estimate (stream seconds).

    Returns
    -------
    list of Result
        One per utterance, in order; ``processing_ms`` and ``end_of_speech_ms`` are 0.

    Raises
    ------
    ValueError
        Not mono, or an unsupported dtype.
    """
    rolling = RollingEstimate(model.labels, half_life_s=half_life_s)
    out = []
    for utt in segment_signal(y, config=vad_config, sample_rate_hz=SAMPLE_RATE_HZ):
        pred = model.predict_signal(utt.samples)
        res = Result(utterance=utt, prediction=pred)
        res.rolling = rolling.update(res)
        out.append(res)
    return out


def predict_file_segments(
    path: str | Path,
    model: EmotionModel,
    *,
    vad_config: VadConfig | None = None,
    half_life_s: float = DEFAULT_HALF_LIFE_S,
) -> list[Result]:
    """:func:`predict_segments` on a file decoded as a replay streams it.

    Parameters
    ----------
    path : str or Path
        Audio file of any length, rate and channel count.
    model : EmotionModel
    vad_config : VadConfig, optional
    half_life_s : float, default 20.0

    Returns
    -------
    list of Result
        Possibly empty (no speech found).

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file.
    """
    return predict_segments(decode_like_stream(path), model, vad_config=vad_config, half_life_s=half_life_s)


def predict_file(
    path: str | Path,
    model: EmotionModel,
    *,
    vad_config: VadConfig | None = None,
    max_duration_s: float = WHOLE_FILE_MAX_S,
) -> Prediction:
    """Classify a whole file as one utterance, trimmed as training files are trimmed.

    The file is decoded to 16 kHz mono float32 (:func:`~ser_live.audiofile.load_audio`),
    trimmed to the speech span the live segmenter finds (:func:`~ser_live.vad.speech_span`,
    pre-roll and hangover included; what ``train/extract.py`` does to every training file),
    and classified.

    Parameters
    ----------
    path : str or Path
        One utterance of audio (any rate and channel count).
    model : EmotionModel
    vad_config : VadConfig, optional
    max_duration_s : float, default 60.0
        Longer files are refused (cut them with :func:`predict_file_segments`).

    Returns
    -------
    Prediction

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, or longer than ``max_duration_s``.
    NoSpeechError
        The VAD finds no speech in the file.
    """
    y = load_audio(path, max_duration_s=max_duration_s)
    span = speech_span(y, config=vad_config)
    if span is None:
        raise NoSpeechError(
            f"{path}: no speech detected (silent or noise-only; "
            f"{len(y) / SAMPLE_RATE_HZ:.1f} s of audio checked by the VAD)"
        )
    return model.predict_signal(y[span[0] : span[1]])


def latency_stats(values_ms: list[float]) -> dict[str, float]:
    """``p50``, ``p95`` and ``max`` of latencies (ms); linear-interpolated percentiles
    (``numpy.percentile``'s default). Empty dict for no values."""
    if not values_ms:
        return {}
    a = np.asarray(values_ms, dtype=np.float64)
    return {
        "p50": float(np.percentile(a, 50)),
        "p95": float(np.percentile(a, 95)),
        "max": float(a.max()),
    }


# ---------------------------------------------------------------------- live
class Source(Protocol):
    """What :class:`Recognizer` needs of an audio source (``FileSource``,
    ``MicrophoneSource`` or a test double): ``start(ring)`` begins writing int16 blocks from
    its own thread and closes the ring when it ends; ``stop()`` asks it to end; ``join()``
    waits and re-raises its error; ``finished`` is set once it has ended. An optional
    ``input_overflows`` counts device overflows."""

    finished: threading.Event

    def start(self, ring: RingBuffer) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout_s: float | None = None) -> bool: ...


@dataclass
class RecognizerStatus:
    """Live state for a dashboard, read from the main thread (values may be a frame old).

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
    noise_floor_dbfs, clipped_fraction, speech_level_dbfs : float
        The segmenter's tracked noise floor (dBFS), fraction of full-scale samples in the
        last second, and loud-frame level of the last utterance (dBFS).
    """

    level_dbfs: float
    vad_state: str
    stream_s: float
    dropped_samples: int
    dropped_s: float
    input_overflows: int
    dropped_short: int
    noise_floor_dbfs: float = LEVEL_FLOOR_DBFS
    clipped_fraction: float = 0.0
    speech_level_dbfs: float = LEVEL_FLOOR_DBFS


class Recognizer:
    """Streaming speech emotion recogniser: one source, four threads, results on a queue.

    Parameters
    ----------
    source : FileSource, MicrophoneSource or any object with their ``start(ring)``,
        ``stop()``, ``join(timeout_s)`` and ``finished`` (see :class:`Source`)
        Where audio comes from (16 kHz int16 blocks).
    model : EmotionModel
        Classifier (with its feature extractor).
    vad_config : VadConfig, optional
        Segmenter parameters; defaults when None.
    ring_capacity_s : float, default 30.0
        Ring-buffer capacity (seconds): how far the segmenter may fall behind before audio
        is dropped (and counted).
    rolling_half_life_s : float, default 20.0
        Half-life of the :class:`RollingEstimate` (stream seconds).
    save_dir : str or Path, optional
        When given, each utterance is written to ``<save_dir>/utt-<session>-<index:04d>.wav``
        (16 kHz mono int16, exactly the utterance's samples) and one JSON line (the
        ``--jsonl`` record plus ``"wav"``, the file name, and ``"source"``) is appended to
        ``<save_dir>/index.jsonl``, flushed and fsynced, by the worker as soon as the
        result is ready, before the main thread sees it; an interrupted run loses nothing
        already classified.
    on_result : callable, optional
        Called with each :class:`Result` on the worker thread (must be quick); results are
        put on :attr:`results` either way.
    source_name : str, optional
        Shown by outputs and written to the index; default: the file name or device name.
    max_duration_s : float, optional
        Stop after this many stream seconds: the segmenter processes no frame starting at or
        after that time, flushes the utterance in progress, and the run ends as at the end
        of a file (:attr:`done` is set; :meth:`stop` then stops the source). Exact whatever
        the replay speed.

    Attributes
    ----------
    results : queue.Queue of Result
        Classified utterances in order, for the main thread to drain (:meth:`get_result`).
    ring : RingBuffer
    segmenter : Segmenter
        Owned by the segmenter thread; its counters are read for :meth:`status`.
    rolling : RollingEstimate
        Owned by the worker thread.
    session : str
        Local start time ``YYYYmmdd-HHMMSS``, used in saved file names.
    error : BaseException or None
        What ended the source or a thread early (e.g. a decoding error mid-file).
    n_errors : int
        Utterances the worker could not classify (logged and skipped).

    Notes
    -----
    Shutdown (:meth:`stop`) goes in data-flow order: the source stops and the ring buffer
    is closed; the segmenter reads what is left, then flushes the utterance in progress (it
    is classified if it meets the minimum length); the worker classifies everything queued;
    then the threads are joined. The end of a replayed file runs the same sequence by
    itself: :attr:`done` is set once the last result is on :attr:`results`.
    """

    def __init__(
        self,
        source: Source,
        model: EmotionModel,
        *,
        vad_config: VadConfig | None = None,
        ring_capacity_s: float = DEFAULT_RING_CAPACITY_S,
        rolling_half_life_s: float = DEFAULT_HALF_LIFE_S,
        save_dir: str | Path | None = None,
        on_result: Callable[[Result], Any] | None = None,
        source_name: str | None = None,
        max_duration_s: float | None = None,
    ) -> None:
        if not ring_capacity_s > 0:
            raise ValueError(f"ring_capacity_s must be positive, got {ring_capacity_s}")
        self.source = source
        self.model = model
        self.vad_config = (vad_config or VadConfig()).validate()
        self.ring = RingBuffer(int(round(ring_capacity_s * SAMPLE_RATE_HZ)), sample_rate_hz=SAMPLE_RATE_HZ)
        self.segmenter = Segmenter(self.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
        self.rolling = RollingEstimate(model.labels, half_life_s=rolling_half_life_s)
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.on_result = on_result
        self.source_name = source_name or _source_name(source)
        self.session = time.strftime("%Y%m%d-%H%M%S")
        self.results: queue.Queue[Result] = queue.Queue()
        self.error: BaseException | None = None
        self.n_errors = 0
        self.done = threading.Event()
        self.max_duration_s = max_duration_s
        self.reached_max_duration = False

        self._utterances: queue.Queue[Utterance | None] = queue.Queue()
        self._abort = threading.Event()
        self._quit = threading.Event()
        self._processing_ms: list[float] = []
        self._end_of_speech_ms: list[float] = []
        self._label_counts: dict[str, int] = {}
        self._n_results = 0
        self._segmenter_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self._started = False
        self._stopped = False
        self._stop_lock = threading.Lock()
        self._index_file: Any = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> "Recognizer":
        """Warm up the model, start the segmenter and worker threads, then the source.

        Returns
        -------
        Recognizer
            ``self``.

        Raises
        ------
        RuntimeError
            Already started.
        SerLiveError
            The source cannot start (e.g. ``DeviceError``); the threads are stopped again.
        """
        if self._started:
            raise RuntimeError("Recognizer already started")
        self._started = True
        t0 = time.perf_counter()
        self.model.extractor.warmup()  # numba compilation, caches
        rng = np.random.default_rng(0)
        self.model.predict_signal((0.01 * rng.standard_normal(SAMPLE_RATE_HZ)).astype(np.float32))
        log.info("model %s warmed up in %.0f ms", self.model.name, (time.perf_counter() - t0) * 1000)
        if self.save_dir is not None:
            self.save_dir.mkdir(parents=True, exist_ok=True)
            self._index_file = open(self.save_dir / "index.jsonl", "a", encoding="utf-8")
        self._worker_thread = threading.Thread(target=self._work, name="ser-live-worker", daemon=True)
        self._segmenter_thread = threading.Thread(target=self._segment, name="ser-live-segmenter", daemon=True)
        self._worker_thread.start()
        self._segmenter_thread.start()
        try:
            self.source.start(self.ring)
        except BaseException:
            self.ring.close()
            self._join_threads(None)
            self._close_index()
            self._stopped = True
            raise
        return self

    def stop(self, *, timeout_s: float | None = 30.0) -> None:
        """Stop in data-flow order and wait for the last result; idempotent.

        The source is stopped first and the ring closed; the segmenter drains the ring and
        flushes the utterance in progress; the worker classifies what is queued. After
        ``timeout_s`` without the threads finishing, the segmenter is told to stop reading
        (the utterance in progress is still flushed).

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait for the draining threads (seconds); None waits forever.
        """
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
        if not self._started:
            self.done.set()
            return
        try:
            self.source.stop()
        except Exception as exc:  # pragma: no cover - device vanished meanwhile
            log.warning("stopping the source failed: %s", exc)
        try:
            self.source.join(timeout_s)
        except Exception as exc:
            self._set_error(exc)
        self.ring.close()
        self._join_threads(timeout_s)
        self._close_index()

    def quit(self, *, timeout_s: float = 1.5) -> None:
        """Stop at once (a second Ctrl-C): no further utterance is classified, saved or put
        on :attr:`results`; waits up to ``timeout_s`` (seconds) for the worker to finish the
        utterance it is saving, so every saved utterance is on :attr:`results` to drain."""
        self._quit.set()
        self._abort.set()
        self._utterances.put(None)  # wake an idle worker
        for thread in (self._worker_thread, self._segmenter_thread):
            if thread is not None:
                thread.join(timeout_s)

    def _join_threads(self, timeout_s: float | None) -> None:
        seg, work = self._segmenter_thread, self._worker_thread
        if seg is not None:
            seg.join(timeout_s)
            if seg.is_alive():
                log.warning("segmenter still draining after %s s; stopping it", timeout_s)
                self._abort.set()
                seg.join(5.0)
        if work is not None:
            work.join(timeout_s)
            if work.is_alive():  # pragma: no cover - a model call that never returns
                log.error("worker did not finish within %s s", timeout_s)

    def _close_index(self) -> None:
        f, self._index_file = self._index_file, None
        if f is not None:
            f.close()

    def __enter__(self) -> "Recognizer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ threads
    def _set_error(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc

    def _segment(self) -> None:
        """Segmenter thread: ring -> utterances queue; a None marks the end."""
        stop: Any = self._abort
        if self.max_duration_s is not None:
            stop = _StopAt(self, int(round(self.max_duration_s * SAMPLE_RATE_HZ)))
        try:
            for utt in iter_utterances(self.ring, self.segmenter, stop_event=stop, timeout_s=0.1):
                self._utterances.put(utt)
        except BaseException as exc:  # pragma: no cover - a bug; keep the pipeline draining
            log.exception("segmenter thread failed")
            self._set_error(exc)
        finally:
            self._utterances.put(None)

    def _work(self) -> None:
        """Worker thread: utterances -> features -> prediction -> Result (-> saved)."""
        try:
            while True:
                utt = self._utterances.get()
                if utt is None:
                    break
                try:
                    pred = self.model.predict_signal(utt.samples)
                except Exception as exc:
                    self.n_errors += 1
                    log.error("utterance %d (%.2f-%.2f s) not classified: %s", utt.index, utt.start_s, utt.end_s, exc)
                    continue
                if self._quit.is_set():  # quit(): nothing more is saved or published
                    break
                ready = time.perf_counter()
                res = Result(
                    utterance=utt,
                    prediction=pred,
                    processing_ms=(ready - utt.closed_time) * 1000.0,
                    end_of_speech_ms=(ready - utt.last_voiced_time) * 1000.0,
                    ready_time=ready,
                )
                res.rolling = self.rolling.update(res)
                self._processing_ms.append(res.processing_ms)
                self._end_of_speech_ms.append(res.end_of_speech_ms)
                self._label_counts[pred.label] = self._label_counts.get(pred.label, 0) + 1
                self._n_results += 1
                if self._index_file is not None:
                    try:
                        self._save(res)
                    except OSError as exc:
                        log.error("saving utterance %d failed: %s", utt.index, exc)
                        self._set_error(exc)
                self.results.put(res)
                if self.on_result is not None:
                    try:
                        self.on_result(res)
                    except Exception:  # pragma: no cover - caller's bug
                        log.exception("on_result callback failed")
        except BaseException as exc:  # pragma: no cover - a bug
            log.exception("worker thread failed")
            self._set_error(exc)
        finally:
            self.done.set()

    def _save(self, res: Result) -> None:
        assert self.save_dir is not None and self._index_file is not None
        name = f"utt-{self.session}-{res.utterance.index:04d}.wav"
        write_wav(self.save_dir / name, res.utterance.samples, sample_rate_hz=res.utterance.sample_rate_hz)
        record = res.to_json()
        record["wav"] = name
        record["source"] = self.source_name
        f = self._index_file
        f.write(json.dumps(record) + "\n")
        f.flush()
        os.fsync(f.fileno())

    # ------------------------------------------------------------------ main-thread API
    def get_result(self, timeout_s: float | None = None) -> Result | None:
        """Next result, waiting up to ``timeout_s`` (None: forever); None on timeout.

        A ``KeyboardInterrupt`` in the main thread interrupts the wait.
        """
        try:
            return self.results.get(timeout=timeout_s)
        except queue.Empty:
            return None

    @property
    def finished(self) -> bool:
        """True once every result has been produced and taken from :attr:`results`."""
        return self.done.is_set() and self.results.empty()

    def __iter__(self) -> Iterator[Result]:
        """Results in order as they are ready, until the run ends (:attr:`finished`).

        A file ends by itself (or at ``max_duration_s``); a microphone runs until
        :meth:`stop` is called from another thread or a ``KeyboardInterrupt`` ends the wait.
        Takes results from :attr:`results`, so do not also call :meth:`get_result`.

        Yields
        ------
        Result
        """
        while not self.finished:
            res = self.get_result(timeout_s=0.1)
            if res is not None:
                yield res

    def status(self) -> RecognizerStatus:
        """Live counters for a dashboard (see :class:`RecognizerStatus`)."""
        seg = self.segmenter
        level = seg.level_dbfs if seg.n_frames else LEVEL_FLOOR_DBFS
        return RecognizerStatus(
            level_dbfs=float(level),
            vad_state=str(seg.state),
            stream_s=self.ring.written_s,
            dropped_samples=self.ring.overrun_samples,
            dropped_s=self.ring.overrun_s,
            input_overflows=int(getattr(self.source, "input_overflows", 0)),
            dropped_short=int(seg.dropped_short),
            noise_floor_dbfs=float(seg.noise_floor_dbfs),
            clipped_fraction=float(seg.clipped_fraction),
            speech_level_dbfs=float(seg.speech_level_dbfs),
        )

    @property
    def processed_samples(self) -> int:
        """Stream samples the segmenter has gone through (frames read plus samples lost to
        overruns before them): where the recogniser is in the stream."""
        seg = self.segmenter
        return seg.n_frames * seg.frame_length + seg.gap_samples

    def summary(self) -> RunSummary:
        """What the run did so far (complete after :meth:`stop`).

        Returns
        -------
        RunSummary
            Latency percentiles from :func:`latency_stats`; ``audio_s`` is the stream time
            the segmenter went through (:attr:`processed_samples`; a replay's last partial
            frame is not counted).
        """
        st = self.status()
        return RunSummary(
            n_utterances=self._n_results,
            label_counts=dict(sorted(self._label_counts.items(), key=lambda kv: (-kv[1], kv[0]))),
            processing_ms=latency_stats(list(self._processing_ms)),
            end_of_speech_ms=latency_stats(list(self._end_of_speech_ms)),
            audio_s=self.processed_samples / SAMPLE_RATE_HZ,
            dropped_samples=st.dropped_samples,
            dropped_s=st.dropped_s,
            input_overflows=st.input_overflows,
            dropped_short=st.dropped_short,
            rolling=dict(self.rolling.estimate),
        )


class _StopAt:
    """The ``stop_event`` given to :func:`~ser_live.vad.iter_utterances` when a maximum
    duration is set: "set" once the segmenter's next frame would start at or after
    ``limit_samples``, or when the recogniser aborts."""

    def __init__(self, rec: Recognizer, limit_samples: int) -> None:
        self._rec = rec
        self._limit = limit_samples

    def is_set(self) -> bool:
        rec = self._rec
        if rec._abort.is_set():
            return True
        if rec.processed_samples >= self._limit:
            rec.reached_max_duration = True
            return True
        return False


def _source_name(source: Any) -> str:
    path = getattr(source, "path", None)
    if path is not None:
        return Path(path).name
    name = getattr(source, "device_name", None)
    if name:
        return str(name)
    return type(source).__name__
