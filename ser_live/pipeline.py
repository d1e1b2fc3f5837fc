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
  (:func:`~ser_live.offline.classify_utterance`: with a model that has a session
  normaliser, the features join the run's :class:`~ser_live.normalize.SessionState`, the
  running statistics of the session, i.e. this live run, and are standardised with them,
  shrunk towards the training prior; with ``speakers`` of 2 or more (or ``"auto"``) the
  utterance is first attributed to a voice of the run, :func:`~ser_live.offline.classify_turn`,
  and normalised with that voice's session), stamps the two latencies, updates
  the :class:`RollingEstimate`, saves the utterance when asked, and puts the
  :class:`~ser_live.types.Result` on :attr:`Recognizer.results`, which the main thread
  drains (dashboard, ``--plain``, ``--jsonl``); with ``partial``, when idle it also
  classifies the latest snapshot of the utterance in progress that the segmenter thread left
  in a one-place slot, and puts a provisional ``Result(final=False)`` there.

Nothing else lives here: the rolling estimate is :mod:`ser_live.rolling`, saved recordings
:mod:`ser_live.recordings`, offline prediction :mod:`ser_live.offline` (whose
``Predictor.process_signal(y, segments=True)`` runs the very same segmenter and model on a
whole array: the streaming path, a file replayed at any speed, and the offline one give
identical utterance boundaries and probabilities, because the segmenter is deterministic
given the same samples from the same start).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from .audiofile import SAMPLE_RATE_HZ
from .denoise import with_denoise
from .forksafe import InterpreterExitingError
from .model import EmotionModel, require_model
from .offline import SpeechStretch, classify_turn, classify_utterance
from .recordings import RecordingsWriter, new_run_id
from .revision import REVISE_UTTERANCES, SessionReviser
from .ringbuffer import RingBuffer
from .rolling import DEFAULT_HALF_LIFE_S, RollingEstimate
from .speakers import SpeakerRolling, SpeakerSessions, speaker_mode
from .types import Prediction, RecognizerStatus, Result, RunSummary, Utterance, latency_stats
from .vad import LEVEL_FLOOR_DBFS, InProgressTap, PartialConfig, Segmenter, VadConfig, iter_utterances

__all__ = [
    "RecognizerStatus",
    "Recognizer",
    "latency_stats",
    "DEFAULT_RING_CAPACITY_S",
    "DEFAULT_MAX_QUEUED_UTTERANCES",
]

log = logging.getLogger(__name__)

#: Default ring-buffer capacity (seconds of audio the segmenter may fall behind by).
DEFAULT_RING_CAPACITY_S: float = 30.0
#: Put on the worker's queue to wake it for a provisional estimate (never an utterance).
_WAKE = object()
#: Default bound of the segmenter -> worker queue (utterances waiting to be classified).
#: An utterance is at most ``VadConfig.max_utterance_s`` of int16 audio, so the queue
#: holds at most this many times that (8 x 15 s x 32 kB/s = 3.8 MB with the defaults).
DEFAULT_MAX_QUEUED_UTTERANCES: int = 8
#: Longest single wait of :meth:`Recognizer.get_result` before it looks whether the run ended.
_GET_SLICE_S: float = 0.1


# ---------------------------------------------------------------------- live
class Source(Protocol):
    """What :class:`Recognizer` needs of an audio source (``FileSource``,
    ``MicrophoneSource``, ``PushSource`` or a test double): ``start(ring)`` begins writing
    16 kHz int16 blocks (from its own thread; a ``PushSource`` from the threads that push, one
    at a time) and closes the ring when it ends; ``stop()`` asks it to end; ``join()`` waits
    and re-raises its error; ``finished`` is set once it has ended. An optional
    ``input_overflows`` counts device overflows."""

    finished: threading.Event

    def start(self, ring: RingBuffer) -> None: ...

    def stop(self) -> None: ...

    def join(self, timeout_s: float | None = None) -> bool: ...


class Recognizer:
    """Streaming speech emotion recogniser: one source, four threads, results on a queue.

    Parameters
    ----------
    source : FileSource, MicrophoneSource, PushSource or any object with their
        ``start(ring)``, ``stop()``, ``join(timeout_s)`` and ``finished`` (see :class:`Source`)
        Where audio comes from: a file, a device, or blocks your code pushes
        (:class:`~ser_live.audio.PushSource`, any rate and channel count). A source serves
        one run.
    model : EmotionModel
        Classifier (with its feature extractor): ``EmotionModel.load()`` or
        ``EmotionModel.load("7class")``, not a name or path (TypeError). One model may serve
        several recognisers at once.
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
        ``<save_dir>/index.jsonl``, by the worker as soon as the result is ready, before
        the main thread sees it; an interrupted run loses nothing already classified. Writes
        are atomic and names unique per run; a failed write (e.g. a full disk) stops saving
        and the run goes on (see :class:`~ser_live.recordings.RecordingsWriter`).
    on_result : callable, optional
        Called with each :class:`Result` on the worker thread (must be quick), *instead of*
        putting it on :attr:`results`: a long run whose results nobody drains holds none of
        them, and :attr:`finished` (iteration's end) still comes. An exception it raises is
        logged (``ser_live.pipeline``) and the run goes on (``SystemExit`` from
        ``sys.exit()`` too: it cannot end the program from the worker thread). It may call
        :meth:`stop`, which then returns without waiting: what is queued is classified (and saved) after the
        callback returns, and :attr:`done` is set at the end.
    source_name : str, optional
        Shown by outputs and written to the index; default: the file name or device name.
    max_duration_s : float, optional
        Stop after this many stream seconds: the segmenter processes no frame starting at or
        after that time, flushes the utterance in progress, and the run ends as at the end
        of a file (:attr:`done` is set; :meth:`stop` then stops the source). Audio the
        source delivers after the limit is ignored, not counted as dropped. Exact whatever
        the replay speed. ``inf``: no limit, as None.
    max_queued_utterances : int, default 8
        Bound of the queue between the segmenter and the worker (utterances), so memory
        stays bounded when the worker falls behind.
    queue_full : {"wait", "drop"}, optional
        What the segmenter does when that queue is full: ``"wait"`` for room (nothing is
        lost; the ring buffer fills and a paced source then drops audio there, counted), or
        ``"drop"`` the utterance and count it (:attr:`RecognizerStatus.dropped_utterances`).
        Default: ``"wait"`` for a replayed :class:`~ser_live.audio.FileSource` (or a source
        whose ``can_wait`` attribute is true), else ``"drop"`` (a microphone).
    session_norm : bool, default True
        With a model that has a session normaliser (``model.normalizer``): the run is one
        session, each utterance normalised with the running statistics of the utterances
        heard so far, itself included, shrunk towards the training prior (formula in
        :mod:`ser_live.normalize`). False (``--no-session-norm``): each utterance is its own
        session (its own values weighted as one utterance against the prior, the
        normaliser's ``groups=None``). No effect on a model without a normaliser.
    partial : PartialConfig, optional
        When given, provisional estimates of the utterance in progress: the segmenter thread
        leaves a snapshot (:class:`~ser_live.vad.InProgressTap`) in a one-place slot, and
        the worker classifies it only when no utterance waits (a final result always comes
        first; a snapshot overwritten or stale is skipped and counted in
        :attr:`n_provisional_skipped`). No snapshot is taken in the pause that may end the
        utterance (see :class:`~ser_live.vad.InProgressTap`), so a final result waits behind
        a provisional one only if its utterance closes within one provisional processing
        time (about 10 ms) of a snapshot. Provisional results (``final=False``) go on
        :attr:`results` (or to ``on_result``) before their utterance's final one; they are
        not saved, not counted in the summary and do not update the rolling estimate.
    denoise : bool, default False
        Denoise each utterance before feature extraction (``--denoise``:
        :func:`ser_live.denoise.with_denoise`; raises ``DenoiseUnavailableError`` here when
        ``noisereduce`` is missing).
    speakers : int or "auto", default 1
        Speaker turns (``--speakers``): with a count N of 2 or more, each utterance is
        attributed to one of the run's N voices; with ``"auto"`` to one of at most
        :data:`~ser_live.speakers.AUTO_MAX_SPEAKERS`, each new voice opened once a split test
        confirms it (:func:`~ser_live.speakers.speaker_mode`,
        :class:`~ser_live.speakers.SpeakerSessions`, labels ``"A"``, ``"B"``, ... in order of
        first appearance) and normalised with that speaker's own session; results carry
        ``speaker`` and ``speaker_rolling`` (that speaker's rolling estimate). 1: no
        attribution, the run is one session and results carry no speaker.
    revise_until : int, default 20
        Session revision (:mod:`ser_live.revision`): while the run's session holds at most
        this many utterances, each final result's :attr:`~ser_live.types.Result.revision`
        re-scores the session's earlier utterances with the statistics as they are now; 0 or
        1 revises nothing. With ``session_norm``; with speaker turns each speaker's session is
        revised on its own (the revision's ``speaker`` says whose; its ``rolling`` is that
        speaker's). A result's own prediction and ``rolling`` are never changed.

    Attributes
    ----------
    results : queue.Queue of Result
        Classified utterances in order, for the main thread to drain (:meth:`get_result`,
        iteration); stays empty with ``on_result``.
    done : threading.Event
        Set once the run has ended and its last result was published (the end of a file,
        ``max_duration_s``, :meth:`stop`): with ``on_result``, ``rec.done.wait()`` waits for
        the end of a file.
    ring : RingBuffer
    segmenter : Segmenter
        Owned by the segmenter thread; its counters are read for :meth:`status`.
    rolling : RollingEstimate
        Owned by the worker thread.
    session : str
        The run id (local start time ``YYYYmmdd-HHMMSS`` and a random tag), used in saved
        file names.
    session_state : SessionState or None
        The run's session statistics, owned by the worker thread (None without a normaliser
        or with ``session_norm=False``); ``session_state.n_utterances`` is what the
        dashboard shows and each :class:`Result` carries as ``session_utterances``. With
        ``speakers``: the session of the latest final result's speaker (what a provisional
        estimate is normalised with).
    speaker_sessions : SpeakerSessions or None
        The run's speakers and their sessions, owned by the worker thread (None with
        ``speakers=1``).
    reviser : SessionReviser or None
        The session revision of the run (:mod:`ser_live.revision`), owned by the worker
        thread; None without :attr:`session_state` (no normaliser, ``session_norm=False``,
        or speaker turns, whose speakers are revised one by one).
    recordings : RecordingsWriter or None
        The writer of ``save_dir`` (None without it).
    error : BaseException or None
        What ended the source or a thread early (e.g. a decoding error mid-file).
    n_errors : int
        Utterances the worker could not classify (logged and skipped).

    Raises
    ------
    TypeError
        ``source`` is a path or lacks ``start``, ``stop`` and ``join`` (a file: pass
        ``FileSource(path)``); ``model`` is a name or path.
    ValueError
        ``ring_capacity_s`` not positive, ``max_queued_utterances`` < 1, ``queue_full`` not
        "wait" or "drop", a ``speakers`` value :func:`~ser_live.speakers.speaker_mode`
        refuses, a ``vad_config`` or ``partial`` field out of range (their ``validate()``),
        ``rolling_half_life_s`` not positive, ``max_duration_s`` not a positive number of
        seconds (0, negative, NaN, a string), or ``revise_until`` < 0 (checked with a
        session normaliser only, with or without speaker turns).
    DenoiseUnavailableError
        ``denoise=True`` without ``noisereduce`` installed.

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
        max_queued_utterances: int = DEFAULT_MAX_QUEUED_UTTERANCES,
        queue_full: str | None = None,
        session_norm: bool = True,
        partial: PartialConfig | None = None,
        denoise: bool = False,
        speakers: int | str = 1,
        revise_until: int = REVISE_UTTERANCES,
    ) -> None:
        _require_source(source)
        model = require_model(model, where="Recognizer")
        if not ring_capacity_s > 0:
            raise ValueError(f"ring_capacity_s must be positive, got {ring_capacity_s}")
        if int(max_queued_utterances) < 1:
            raise ValueError(f"max_queued_utterances must be >= 1, got {max_queued_utterances}")
        if queue_full is None:
            queue_full = "wait" if _can_wait(source) else "drop"
        if queue_full not in ("wait", "drop"):
            raise ValueError(f"queue_full must be 'wait' or 'drop', got {queue_full!r}")
        self.source = source
        self.model = with_denoise(model) if denoise else model
        self.vad_config = (vad_config or VadConfig()).validate()
        self.ring = RingBuffer(int(round(ring_capacity_s * SAMPLE_RATE_HZ)), sample_rate_hz=SAMPLE_RATE_HZ)
        self.segmenter = Segmenter(self.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
        if not float(rolling_half_life_s) > 0:  # named as the caller named it (inf: no decay)
            raise ValueError(f"rolling_half_life_s must be a positive number of seconds, got {rolling_half_life_s}")
        self.rolling = RollingEstimate(model.labels, half_life_s=rolling_half_life_s)
        n_speakers, known = speaker_mode(speakers)
        turns = n_speakers > 1
        self.speaker_sessions = (SpeakerSessions(model, max_speakers=n_speakers, known=known, session_norm=session_norm)
                                 if turns else None)
        self._speaker_rolling = SpeakerRolling(model.labels, half_life_s=rolling_half_life_s) if turns else None
        self._last_speaker: str | None = None
        self.session_state = model.new_session() if session_norm and not turns else None
        self._stretch = SpeechStretch(self.model)  # the SNR the noise route reads, over the stretch of speech
        new_reviser = functools.partial(SessionReviser, self.model, until=revise_until, half_life_s=rolling_half_life_s)
        self.reviser = new_reviser() if self.session_state is not None else None
        # with speaker turns: one revision per speaker's session, made when the speaker is first heard
        self._new_reviser = new_reviser
        self._speaker_revisers: dict[str, SessionReviser] | None = {} if turns and session_norm else None
        if self._speaker_revisers is not None and self.model.new_session() is not None:
            new_reviser()  # refuses a bad revise_until now, not on the worker at the first utterance
        self.save_dir = Path(save_dir) if save_dir is not None else None
        self.on_result = on_result
        self.source_name = source_name or _source_name(source)
        self.session = new_run_id()
        self.recordings = (
            RecordingsWriter(self.save_dir, run_id=self.session, source_name=self.source_name)
            if self.save_dir is not None
            else None
        )
        self.results: queue.Queue[Result] = queue.Queue()
        self.error: BaseException | None = None
        self.n_errors = 0
        self.done = threading.Event()
        if max_duration_s is not None:
            # checked here: a NaN or a string failed in the segmenter thread before it ran,
            # and the worker then waited for ever for the end of the run
            if isinstance(max_duration_s, (bool, np.bool_)) or not isinstance(
                    max_duration_s, (int, float, np.integer, np.floating)) or not max_duration_s > 0:
                raise ValueError(f"max_duration_s must be a positive number of seconds or None, "
                                 f"got {max_duration_s!r}")
            max_duration_s = None if np.isinf(max_duration_s) else float(max_duration_s)
        self.max_duration_s = max_duration_s
        self.reached_max_duration = False

        self.queue_full = queue_full
        self._init_partial(partial)
        self.dropped_utterances = 0
        self._utterances: queue.Queue[Utterance | None] = queue.Queue(maxsize=int(max_queued_utterances))
        self._abort = threading.Event()
        self._quit = threading.Event()
        # Held by the worker from its quit check until the result is saved and published:
        # quit() takes it once, so a saved utterance is always on `results` when quit returns.
        self._publish_lock = threading.Lock()
        self._processing_ms: list[float] = []
        self._end_of_speech_ms: list[float] = []
        self._label_counts: dict[str, int] = {}
        self._n_results = 0
        self._segmenter_thread: threading.Thread | None = None
        self._worker_thread: threading.Thread | None = None
        self._started = False
        self._stopped = False
        self._stop_lock = threading.Lock()
        #: set when the first stop() has returned (a concurrent stop() waits for it)
        self._stop_finished = threading.Event()
        #: stop() was called on the worker thread (from on_result): the worker drains and closes the index
        self._worker_drains = False

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
            Already started, or stopped (:meth:`stop` called before, even before it was
            started): a Recognizer runs once.
        SerLiveError
            The source cannot start (e.g. ``DeviceError``); the threads are stopped again.
        OSError
            ``save_dir`` cannot be used (:meth:`RecordingsWriter.open
            <ser_live.recordings.RecordingsWriter.open>`: ``NotADirectoryError`` for a file,
            a folder that cannot be made, an index that cannot be opened or is a symlink).
        """
        if self._started:
            raise RuntimeError("this Recognizer was already started: it runs once; make a new Recognizer "
                               "(and a new source) for another run; the model can be shared")
        with self._stop_lock:
            if self._stopped:  # stop() before start(): its run is over, empty (done is set)
                raise RuntimeError("this Recognizer was stopped before it started: it runs once; make a new "
                                   "Recognizer (and a new source) for the run; the model can be shared")
            self._started = True
        t0 = time.perf_counter()
        self.model.extractor.warmup()  # numba compilation, caches
        rng = np.random.default_rng(0)
        self.model.predict_signal((0.01 * rng.standard_normal(SAMPLE_RATE_HZ)).astype(np.float32))
        log.info("model %s warmed up in %.0f ms", self.model.name, (time.perf_counter() - t0) * 1000)
        if self.recordings is not None:
            self.recordings.open()
        self._worker_thread = threading.Thread(target=self._work, name="ser-live-worker", daemon=True)
        self._segmenter_thread = threading.Thread(target=self._segment, name="ser-live-segmenter", daemon=True)
        self._worker_thread.start()
        self._segmenter_thread.start()
        try:
            self.source.start(self.ring)
        except BaseException:
            try:
                self.ring.close()
                self._join_threads(None)
                self._close_index()
            finally:
                # the run is over, and so is its stop: a stop() after this one (the CLI's
                # `finally`, a `with` block's exit) returns at once. Without the event it
                # waited its whole timeout (30 s) for a stop that never ran: ser-live hung
                # for 30 s after a Ctrl-C that landed while the microphone opened.
                with self._stop_lock:
                    self._stopped = True
                self._stop_finished.set()
            raise
        return self

    def stop(self, *, timeout_s: float | None = 30.0) -> None:
        """Stop in data-flow order and wait for the last result; idempotent.

        The source is stopped first and the ring closed; the segmenter drains the ring and
        flushes the utterance in progress; the worker classifies what is queued. After
        ``timeout_s`` without the threads finishing, the segmenter is told to stop reading
        (the utterance in progress is still flushed).

        A call while another thread's ``stop()`` is under way (a UI thread stops the run
        while the main thread leaves the ``with`` block) waits as that one does, up to
        ``timeout_s``, so that it too returns with the last result published and saved.
        From ``on_result`` (the worker thread) it returns without waiting (see
        ``on_result``).

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait for the draining threads (seconds); None waits forever.
        """
        on_worker = self._worker_thread is not None and threading.current_thread() is self._worker_thread
        with self._stop_lock:
            first = not self._stopped
            if first:
                self._stopped = True
                self._worker_drains = on_worker
            worker_drains = self._worker_drains
        if not first:  # waits outside the lock
            if on_worker:
                return
            if worker_drains:  # stop() from on_result left the drain to the worker
                self._join_threads(timeout_s)
            else:  # another thread is stopping the run: its end is this call's too
                self._stop_finished.wait(timeout_s)
            return
        try:
            self._stop_run(timeout_s, on_worker)
        finally:
            self._stop_finished.set()

    def _stop_run(self, timeout_s: float | None, on_worker: bool) -> None:
        """The first :meth:`stop`: source, ring, threads, index, in data-flow order."""
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
        if on_worker:
            # stop() from on_result: the worker cannot classify what is queued while this call
            # runs, so a segmenter waiting for room in the queue would wait for `timeout_s`
            # and then be aborted, and the index closed before the queued utterances were
            # saved. The worker drains once the callback returns and closes the index (_work).
            return
        self._join_threads(timeout_s)
        self._close_index()

    def quit(self, *, timeout_s: float = 1.5) -> None:
        """Stop at once (a second Ctrl-C): no further utterance is classified, saved or put
        on :attr:`results`; waits up to ``timeout_s`` (seconds) for the worker to finish the
        utterance it is saving, so every saved utterance is on :attr:`results` to drain."""
        self._quit.set()
        self._abort.set()
        # An utterance being saved now is finished and published before this returns (a
        # save is bounded by the disk; the wait by `timeout_s` only if the disk hangs).
        if self._publish_lock.acquire(timeout=max(timeout_s, 10.0)):
            self._publish_lock.release()
        else:  # pragma: no cover - a disk that does not answer
            log.error("the worker did not finish saving an utterance within %.0f s", max(timeout_s, 10.0))
        with contextlib.suppress(queue.Full):
            self._utterances.put_nowait(None)  # wake an idle worker
        for thread in (self._worker_thread, self._segmenter_thread):
            if thread is not None and thread is not threading.current_thread() and thread.is_alive():
                thread.join(timeout_s)

    def _join_threads(self, timeout_s: float | None) -> None:
        seg, work = self._segmenter_thread, self._worker_thread  # never called on the worker (see stop)
        # A thread a Ctrl-C kept from starting (inside start()) is not alive: nothing to wait
        # for, and join() would raise "cannot join thread before it is started".
        seg = seg if seg is not None and seg.is_alive() else None
        work = work if work is not None and work.is_alive() else None
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
        if self.recordings is not None:
            self.recordings.close()

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
        try:
            limit = None if self.max_duration_s is None else int(round(self.max_duration_s * SAMPLE_RATE_HZ))
            utterances = iter_utterances(
                self.ring, self.segmenter, stop_event=self._abort, timeout_s=0.1, max_samples=limit,
                on_frame=self._offer_partial if self._partial_tap is not None else None,
            )
            for utt in utterances:
                self._enqueue(utt)
            if limit is not None and self.processed_samples >= limit:
                self.reached_max_duration = True
                # nothing reads the stream past the limit: audio written from now on (a
                # microphone or PushSource until stop()) is ignored, not counted as dropped
                self.ring.close()
        except BaseException as exc:  # pragma: no cover - a bug; keep the pipeline draining
            log.exception("segmenter thread failed")
            self._set_error(exc)
        finally:
            while True:  # the end marker always reaches a live worker
                try:
                    self._utterances.put(None, timeout=0.1)
                    break
                except queue.Full:
                    if self._worker_thread is None or not self._worker_thread.is_alive():
                        break

    def _enqueue(self, utt: Utterance) -> None:
        """Hand an utterance to the worker: wait for room, or drop it (counted) when full."""
        if self.queue_full == "drop":
            try:
                self._utterances.put_nowait(utt)
            except queue.Full:
                self.dropped_utterances += 1
                log.warning(
                    "utterance %d (%.2f-%.2f s) dropped: %d utterances already wait for "
                    "classification (%d dropped so far)",
                    utt.index, utt.start_s, utt.end_s, self._utterances.maxsize, self.dropped_utterances,
                )
            return
        while not self._abort.is_set():
            try:
                self._utterances.put(utt, timeout=0.1)
                return
            except queue.Full:
                worker = self._worker_thread
                if worker is not None and not worker.is_alive():  # it failed (rec.error): nothing takes it
                    self.dropped_utterances += 1
                    self._abort.set()  # stop reading, as stop() would after its timeout
                    return

    def _work(self) -> None:
        """Worker thread: utterances -> features -> prediction -> Result (-> saved)."""
        try:
            while True:
                utt = self._next_utterance()
                if utt is None:
                    break
                speaker = None
                try:
                    route_db = self._stretch.route_db(utt)
                    if self.speaker_sessions is None:
                        pred, n_session, x = classify_utterance(self.model, utt.samples, self.session_state,
                                                                route_db=route_db)
                    else:
                        pred, n_session, x, speaker = classify_turn(self.model, utt.samples, self.speaker_sessions,
                                                                    route_db=route_db)
                        self.session_state = self.speaker_sessions.sessions[speaker]
                        self._last_speaker = speaker
                except InterpreterExitingError:  # the program ends without stop(): end quietly
                    break
                except Exception as exc:
                    self.n_errors += 1
                    log.error("utterance %d (%.2f-%.2f s) not classified: %s", utt.index, utt.start_s, utt.end_s, exc)
                    continue
                self._publish_lock.acquire()
                try:  # released whatever happens below: a failure here must not leave quit() waiting on it
                    if self._quit.is_set():  # quit(): nothing more is saved or published
                        break
                    ready = time.perf_counter()
                    res = Result(
                        utterance=utt,
                        prediction=pred,
                        processing_ms=(ready - utt.closed_time) * 1000.0,
                        end_of_speech_ms=(ready - utt.last_voiced_time) * 1000.0,
                        ready_time=ready,
                        session_utterances=n_session,
                        features=x,
                        speaker=speaker,
                        route_db=route_db,
                    )
                    holder = speaker
                    if speaker is not None:
                        # the moved utterances' features (and revision rows) go to their new speaker's session
                        moves = self.speaker_sessions.follow(utt.index, speaker, x)
                        res.speakers_moved = {i: to for i, _, to in moves}
                        holder = self.speaker_sessions.holder(utt.index) or speaker
                        if self._speaker_revisers is not None:
                            for index, source, target in moves:
                                held = self._speaker_reviser(source).give(index)
                                if held is not None:
                                    self._speaker_reviser(target).take(held)
                    res.rolling = self.rolling.update(res)
                    if self.reviser is not None:
                        res.revision = self.reviser.add(res, self.session_state)
                    elif self._speaker_revisers is not None and holder is not None:
                        res.revision = self._speaker_reviser(holder).add(res, self.speaker_sessions.sessions[holder])
                    if self._speaker_rolling is not None:
                        res.speaker_rolling = self._speaker_rolling.update(res)
                    self._processing_ms.append(res.processing_ms)
                    self._end_of_speech_ms.append(res.end_of_speech_ms)
                    self._label_counts[pred.label] = self._label_counts.get(pred.label, 0) + 1
                    self._n_results += 1
                    if self.recordings is not None:
                        self.recordings.save(res)  # never raises: a failure stops saving only
                    if self.on_result is None:
                        self.results.put(res)
                finally:
                    self._publish_lock.release()
                self._call_back(res)
        except BaseException as exc:  # pragma: no cover - a bug
            log.exception("worker thread failed")
            self._set_error(exc)
        finally:
            if self._worker_drains:  # stopped from on_result: every queued utterance is saved now
                self._close_index()
            self.done.set()

    def _speaker_reviser(self, speaker: str) -> SessionReviser:
        """The session revision of ``speaker`` (speaker turns), made when first needed."""
        reviser = self._speaker_revisers.get(speaker)
        if reviser is None:
            reviser = self._speaker_revisers[speaker] = self._new_reviser(speaker=speaker)
        return reviser

    # ------------------------------------------------------------------ provisional estimates
    def _init_partial(self, partial: PartialConfig | None) -> None:
        self._partial_tap = InProgressTap(partial, vad_config=self.vad_config) if partial is not None else None
        self._partial_slot: Utterance | None = None
        self._partial_lock = threading.Lock()
        #: Provisional results published, and snapshots skipped (worker busy or stale).
        self.n_provisional = 0
        self.n_provisional_skipped = 0

    def _offer_partial(self, segmenter: Segmenter) -> None:
        """Segmenter thread, after each frame: leave a due snapshot in the slot and wake an
        idle worker (at most one wake-up waits in its queue: only put when it is empty)."""
        snap = self._partial_tap(segmenter)  # type: ignore[misc]
        if snap is None:
            return
        with self._partial_lock:
            if self._partial_slot is not None:
                self.n_provisional_skipped += 1
            self._partial_slot = snap
        if self._utterances.empty():
            with contextlib.suppress(queue.Full):
                self._utterances.put_nowait(_WAKE)  # type: ignore[arg-type]

    def _next_utterance(self) -> Utterance | None:
        """Worker: the next utterance (None at the end); while none waits, classify the
        pending snapshot, if any."""
        while True:
            if self._partial_tap is not None:
                self._run_partial()
            utt = self._utterances.get()
            if utt is not _WAKE:
                return utt

    def _run_partial(self) -> None:
        """Worker: classify the pending snapshot unless an utterance waits or the
        snapshot's utterance has closed meanwhile; publish it as a provisional Result."""
        with self._partial_lock:
            snap, self._partial_slot = self._partial_slot, None
            if snap is None:
                return
            if not self._utterances.empty() or snap.index < self.segmenter.n_utterances:
                self.n_provisional_skipped += 1
                return
        try:
            pred = self._predict_provisional(snap)
        except Exception as exc:
            log.warning("provisional estimate of utterance %d not made: %s", snap.index, exc)
            return
        with self._publish_lock:
            if self._quit.is_set():
                return
            ready = time.perf_counter()
            res = Result(
                utterance=snap, prediction=pred, rolling=dict(self.rolling.estimate),
                processing_ms=(ready - snap.closed_time) * 1000.0,
                end_of_speech_ms=(ready - snap.last_voiced_time) * 1000.0,
                ready_time=ready, final=False, speaker=self._last_speaker,
            )
            if self.on_result is None:
                self.results.put(res)
            self.n_provisional += 1
        self._call_back(res)

    def _call_back(self, res: Result) -> None:
        """Worker: hand ``res`` to ``on_result``, if given; whatever it raises is logged,
        ``SystemExit`` and other ``BaseException`` too (as a thread of its own would end
        quietly on ``sys.exit()``): an escaped one killed the worker, losing every later
        utterance uncounted, and left the segmenter waiting for room until :meth:`stop`
        gave up after its timeout."""
        if self.on_result is not None:
            try:
                self.on_result(res)
            except BaseException:
                log.exception("on_result callback failed (the run goes on)")

    def _predict_provisional(self, snap: Utterance) -> Prediction:
        """The model's prediction for a snapshot: the same extractor and classifier as a
        final result, normalised with the session's running statistics as they are (the
        snapshot is not added to them: only final results update any state)."""
        x = self.model.extractor.extract(snap.samples)
        return self.model.predict_features(x, session=self.session_state)

    # ------------------------------------------------------------------ main-thread API
    def get_result(self, timeout_s: float | None = None) -> Result | None:
        """Next result, waiting up to ``timeout_s`` (None: as long as the run goes on).

        ``while (r := rec.get_result()) is not None:`` takes every result and ends with the
        run: once it is over (:attr:`done`) and every result was taken (:attr:`finished`),
        None comes at once, whatever ``timeout_s``. A ``KeyboardInterrupt`` in the main
        thread interrupts the wait. With ``on_result`` nothing comes here (None at the end).

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait (seconds; 0: do not wait); None: until a result comes or the run
            ends.

        Returns
        -------
        Result or None
            None on timeout or once the run is :attr:`finished`.
        """
        deadline = None if timeout_s is None else time.monotonic() + max(float(timeout_s), 0.0)
        while True:
            # read before the queue: every result of a run that is done was put before `done`
            # was set, so an empty queue after it means none is left to come
            done = self.done.is_set()
            left = _GET_SLICE_S if deadline is None else min(_GET_SLICE_S, deadline - time.monotonic())
            try:
                return self.results.get(timeout=left) if left > 0 else self.results.get_nowait()
            except queue.Empty:
                if done or (deadline is not None and time.monotonic() >= deadline):
                    return None

    @property
    def finished(self) -> bool:
        """True once every result has been produced and taken from :attr:`results`."""
        return self.done.is_set() and self.results.empty()

    def __iter__(self) -> Iterator[Result]:
        """Results in order as they are ready, until the run ends (:attr:`finished`).

        A file ends by itself (or at ``max_duration_s``), a
        :class:`~ser_live.audio.PushSource` when it is closed; a microphone runs until
        :meth:`stop` is called from another thread or a ``KeyboardInterrupt`` ends the wait.
        With ``on_result`` it yields nothing and returns (or raises) at the end of the run.
        A run the source ended early (a file damaged or cut short, a device that failed)
        raises its error once every result is yielded. Takes results from :attr:`results`,
        so do not also call :meth:`get_result`. With ``partial``, provisional results
        (``final=False``) come too.

        Returns
        -------
        iterator of Result

        Raises
        ------
        RuntimeError
            The recogniser was never started (iterate inside ``with Recognizer(...) as
            rec:``, or call :meth:`start` first).
        SerLiveError or Exception
            After the last result: what ended the run early, :attr:`error` (e.g. an
            :class:`~ser_live.errors.AudioFileError`), the error ``ser-live`` reports.
        """
        if not self._started and not self.done.is_set():
            raise RuntimeError("the Recognizer is not started: iterate inside `with Recognizer(...) as rec:` "
                               "or call rec.start() first")
        return self._iter_results()

    def _iter_results(self) -> Iterator[Result]:
        while not self.finished:
            res = self.get_result(timeout_s=0.1)
            if res is not None:
                yield res
        try:
            self.source.join(0)  # re-raises what ended the source (stop() does the same)
        except Exception as exc:
            self._set_error(exc)
        if self.error is not None:
            raise self.error

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
            dropped_utterances=int(self.dropped_utterances),
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
            dropped_utterances=st.dropped_utterances,
            n_saved=self.recordings.n_saved if self.recordings is not None else None,
            rolling=dict(self.rolling.estimate),
        )


def _require_source(source: Any) -> None:
    """Refuse, when the Recognizer is made, what is not a :class:`Source` (e.g. a file's
    path), rather than fail on a missing method when it starts."""
    methods = ("start", "stop", "join")
    if isinstance(source, (str, Path)) or not all(callable(getattr(source, m, None)) for m in methods):
        hint = f"FileSource({str(source)!r})" if isinstance(source, (str, Path)) else "FileSource(path)"
        raise TypeError(f"Recognizer's source must be a FileSource, MicrophoneSource or PushSource (or have their "
                        f"start, stop and join), got {source!r}: for a file pass {hint}")


def _can_wait(source: Any) -> bool:
    """Whether a source can be made to wait (a file replay) rather than lose audio (a
    microphone): its ``can_wait`` attribute, else whether it is a FileSource."""
    can_wait = getattr(source, "can_wait", None)
    if can_wait is None:
        from .audio import FileSource

        can_wait = isinstance(source, FileSource)
    return bool(can_wait)


def _source_name(source: Any) -> str:
    path = getattr(source, "path", None)
    if path is not None:
        return Path(path).name
    name = getattr(source, "device_name", None)
    if name:
        return str(name)
    return type(source).__name__
