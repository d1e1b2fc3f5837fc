"""Audio sources: push int16 16 kHz mono blocks into a :class:`~ser_live.ringbuffer.RingBuffer`.

* :class:`FileSource` replays any file libsndfile reads (any rate, any channel count) at
  real-time pace, faster, or as fast as the consumer takes it.
* :class:`MicrophoneSource` captures from a PortAudio input device through sounddevice,
  resampling in a streaming way when the device cannot open at 16 kHz.
* :class:`PushSource` takes blocks an application pushes (a websocket, WebRTC, a game
  engine's audio callback), at any rate and channel count, converted as a file's are.
* :func:`list_input_devices` lists the input devices.

Every source feeds the same ring buffer, so a replayed file exercises the code a live
microphone runs. sounddevice (and with it the PortAudio shared library) is imported only
when a microphone is used: importing this module, and replaying files, works without
PortAudio.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import math
import os
import queue
import re
import stat
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from .audiofile import (SAMPLE_RATE_HZ, audio_info, iter_audio_blocks, new_resampler, to_float32, to_int16, to_mono,
                        warn_if_narrowband)
from .errors import AudioFileError, CaptureError, DeviceError, PortAudioMissingError
from .ringbuffer import RingBuffer
from .vad import check_signal

__all__ = [
    "FileSource",
    "MicrophoneSource",
    "PushSource",
    "list_input_devices",
    "import_sounddevice",
    "portaudio_call_under_way",
    "settle_portaudio_calls",
    "AudioSystemHungError",
    "PortAudioNoiseFilter",
    "NO_AUDIO_WARN_S",
    "NO_AUDIO_TIMEOUT_S",
    "STREAM_CLOSE_TIMEOUT_S",
]

log = logging.getLogger(__name__)

#: Seconds without samples from the microphone after which a warning is given.
NO_AUDIO_WARN_S: float = 2.0
#: Default capture block (ms) of :class:`MicrophoneSource` and :class:`FileSource`: each
#: block wakes the process once (PortAudio's callback, the audio server client, the ring
#: buffer's reader), and a result can wait up to one block longer for the block that ends its
#: hangover. 40 rather than 20: listening to a microphone with the dashboard (a PulseAudio
#: null sink's source, ``python -m benchmarks.thread_cpu --microphone --ser-live-args
#: '--block-ms N'``, five runs each, ~69 s) took a median 3.33 s of CPU (3.12-4.55) against
#: 4.02 s (3.75-4.50) with 20 ms blocks, the same end-of-speech latency from the last voiced
#: block's arrival (p50 368-370 ms; docs/performance.md, round 5).
BLOCK_MS: int = 40
#: Shortest and longest ``--block-ms`` (ms) the command line accepts.
BLOCK_MS_RANGE: tuple[int, int] = (10, 100)
#: Default seconds without samples after which the capture ends with a :class:`CaptureError`.
NO_AUDIO_TIMEOUT_S: float = 10.0
#: Longest wait (s) for PortAudio to stop and close a stream; past it the stream is abandoned.
STREAM_CLOSE_TIMEOUT_S: float = 1.0
#: Longest wait (s), as the ``ser-live`` program exits, for a PortAudio call still running on a
#: daemon thread (:func:`settle_portaudio_calls`): PortAudio initialises in well under a
#: second on an audio server that answers, and the program must end within 2 s of a Ctrl-C.
PORTAUDIO_SETTLE_S: float = 1.0

#: What to do about a device that will not open, for both kinds of user: the command's
#: flags, and in brackets the Python calls that do the same.
_DEVICE_ADVICE = (
    "list the input devices with `ser-live devices` (in Python: ser_live.audio.list_input_devices()) "
    "and pick one with --device (MicrophoneSource(device=...)), or replay a recording with "
    "--input FILE (FileSource(path))"
)


class AudioSystemHungError(DeviceError):
    """The audio system (PortAudio and the audio server behind it, e.g. PulseAudio or
    PipeWire) did not answer a call within the time allowed: the server is hung or stopped."""


#: What the one import of sounddevice (``Pa_Initialize``, which asks the audio server for its
#: devices) gave: the thread running it, then ``("ok", module)`` or ``("error", exception)``.
_SD_IMPORT: dict[str, Any] = {}
_SD_IMPORT_LOCK = threading.Lock()


def _answer_within(call: Any, *, what: str, timeout_s: float, thread: threading.Thread | None = None,
                   box: dict[str, Any] | None = None, before_message: Any = None) -> Any:
    """Run ``call()`` on a daemon thread and wait for it at most ``timeout_s`` seconds.

    PortAudio's calls that reach the audio server (initialising, opening a stream) wait
    forever on a hung server, inside C code where the main thread would never see a Ctrl-C.
    Here the main thread waits in short, interruptible steps instead: a Ctrl-C (or a stop
    signal the CLI turns into one) raises ``KeyboardInterrupt`` at once, a warning is logged
    after :data:`NO_AUDIO_WARN_S`, and :class:`AudioSystemHungError` is raised after
    ``timeout_s``; the call is then left to its daemon thread.

    Parameters
    ----------
    call : callable
        No arguments; its result is returned, its exception re-raised.
    what : str
        The call in words, for the messages ("listing the audio devices").
    timeout_s : float
        Longest wait (seconds).
    thread, box : optional
        An already started thread and the dict it puts ``"result"`` or ``"error"`` in, with
        its ``"done"`` event (:func:`_call_on_thread`; to wait again for a call an earlier
        wait gave up on); started here when None.
    before_message : callable, optional
        Called (no arguments) before the warning and before giving up or being interrupted.

    Returns
    -------
    Any
        What ``call()`` returned.

    Raises
    ------
    AudioSystemHungError
        No answer within ``timeout_s``.
    Exception
        What ``call()`` raised.
    """
    if thread is None or box is None:
        thread, box = _call_on_thread(call, name="ser-live-audio-call")
    done = box["done"]  # not thread.is_alive(): see _CALLS_UNDER_WAY
    t0 = time.monotonic()
    warned = False
    try:
        while not done.is_set():
            waited_s = time.monotonic() - t0
            if not warned and waited_s >= min(NO_AUDIO_WARN_S, timeout_s):
                warned = True
                if before_message is not None:
                    before_message()
                log.warning("the audio system has not answered for %.0f s while %s (is the audio server hung?); "
                            "giving up after %g s", waited_s, what, timeout_s)
            if waited_s >= timeout_s:
                raise AudioSystemHungError(
                    f"the audio system did not answer within {timeout_s:g} s while {what} (the audio server, "
                    "e.g. PulseAudio or PipeWire, is hung or stopped: restart it, e.g. `systemctl --user restart "
                    "pipewire-pulse` or `pulseaudio -k`); or replay a recording with --input FILE"
                )
            done.wait(min(0.1, max(0.001, timeout_s - waited_s)))
    except BaseException:  # given up, or a Ctrl-C
        if before_message is not None and not warned:
            before_message()
        raise
    if "error" in box:
        raise box["error"]
    return box.get("result")


#: Threads of :func:`_call_on_thread` whose PortAudio call has not returned yet, each with
#: the event it sets once it has. Not ``Thread.is_alive()``: on CPython 3.11 a ``join``
#: that a Ctrl-C interrupts marks a thread that still runs as stopped (the bpo-45274
#: handling in ``threading.Thread._wait_for_tstate_lock`` releases the thread's own lock,
#: held because it runs, and calls ``_stop``), and a Ctrl-C while PortAudio initialises is
#: exactly such a join.
_CALLS_UNDER_WAY: dict[threading.Thread, threading.Event] = {}


def _call_on_thread(call: Callable[[], Any], *, name: str) -> tuple[threading.Thread, dict[str, Any]]:
    """Start ``call()`` on a daemon thread named ``name``; returns the thread and the dict it
    puts ``"result"`` (what the call returned) or ``"error"`` (what it raised) in, whose
    ``"done"`` (:class:`threading.Event`) is set once the call has returned. The thread counts
    in :func:`portaudio_call_under_way` until then."""
    done = threading.Event()
    box: dict[str, Any] = {"done": done}

    def run() -> None:
        try:
            box["result"] = call()
        except BaseException as exc:  # handed to the waiting thread
            box["error"] = exc
        finally:
            _CALLS_UNDER_WAY.pop(threading.current_thread(), None)
            done.set()

    thread = threading.Thread(target=run, name=name, daemon=True)
    _CALLS_UNDER_WAY[thread] = done
    thread.start()
    return thread, box


def portaudio_call_under_way() -> bool:
    """Whether a PortAudio call this module waited for on a daemon thread (initialising
    PortAudio, checking or opening a device) is still running: one given up on
    (:class:`AudioSystemHungError`, a server that answers slowly) or interrupted by Ctrl-C.

    A process that then exits the normal way runs the C libraries' exit handlers (ALSA's,
    JACK's) while that call is still inside them, which can crash it (SIGSEGV, exit status
    139 instead of 6); the ``ser-live`` program leaves with ``os._exit`` then
    (:func:`ser_live.entry.main`), as it does for an abandoned stream, once the call has had
    up to :data:`PORTAUDIO_SETTLE_S` to return (:func:`settle_portaudio_calls`).

    Returns
    -------
    bool
        True while such a call has not returned.
    """
    return bool(_CALLS_UNDER_WAY)


def settle_portaudio_calls(*, at_most_s: float = PORTAUDIO_SETTLE_S) -> list[str]:
    """Wait for the PortAudio calls still running on daemon threads
    (:func:`portaudio_call_under_way`) to return, for at most ``at_most_s`` seconds in all.

    For a process about to leave with ``os._exit`` (:func:`ser_live.runtime.exit_now`): a
    thread still inside ``Pa_Initialize`` then dies where it is, and Debian's PortAudio,
    through ALSA's JACK plugin, holds JACK's metadata database (a Berkeley DB environment in
    ``/dev/shm/jack_db-<uid>``) open during that call. A process that dies there can leave
    the database's lock held, and every later PortAudio program of that user (ser-live, or
    any other) then hangs in its own ``Pa_Initialize`` until the directory is removed (seen,
    rarely, with processes that left with ``os._exit`` at random moments while PortAudio
    initialised on a thread). A Ctrl-C while the microphone is set up is exactly that moment;
    ``python -m benchmarks.interrupts --microphone`` checks after each run that PortAudio
    still starts.

    Parameters
    ----------
    at_most_s : float, default :data:`PORTAUDIO_SETTLE_S`
        Longest wait, seconds (wall clock), for all the calls together.

    Returns
    -------
    list of str
        The names of the threads whose call had still not returned (empty: none is left;
        e.g. ``"ser-live-portaudio-init"`` for a hung audio server).

    Raises
    ------
    KeyboardInterrupt
        A Ctrl-C during the wait (in the main thread) ends it at once.
    """
    deadline = time.monotonic() + at_most_s
    for done in list(_CALLS_UNDER_WAY.values()):
        done.wait(max(0.0, deadline - time.monotonic()))
    return sorted(t.name for t in list(_CALLS_UNDER_WAY))


def import_sounddevice(*, timeout_s: float = NO_AUDIO_TIMEOUT_S) -> Any:
    """Import sounddevice, turning a missing PortAudio into an error that says what to do.

    The import initialises PortAudio, which asks the audio server for its devices; it runs
    on a daemon thread (:func:`_answer_within`), so a hung server ends the wait after
    ``timeout_s`` seconds and a Ctrl-C ends it at once. A call while an earlier import is
    still under way waits for that one rather than start a second one.

    Parameters
    ----------
    timeout_s : float, default :data:`NO_AUDIO_TIMEOUT_S`
        Longest wait for the import (seconds).

    Returns
    -------
    module
        ``sounddevice``.

    Raises
    ------
    PortAudioMissingError
        The PortAudio shared library is not installed (sounddevice raises OSError).
    DeviceError
        The sounddevice package itself is not installed.
    AudioSystemHungError
        PortAudio did not finish initialising within ``timeout_s`` (a hung audio server).
    """
    with _SD_IMPORT_LOCK:
        if "thread" not in _SD_IMPORT and sys.modules.get("sounddevice") is not None:
            return sys.modules["sounddevice"]  # initialised already: nothing to wait for
        if "thread" not in _SD_IMPORT:
            # sounddevice points fd 2 at /dev/null while PortAudio initialises (to hide ALSA's
            # chatter): on a hung server for ever. A copy of the real one gives it back.
            with contextlib.suppress(OSError):
                _SD_IMPORT["stderr"] = os.dup(2)
            thread, box = _call_on_thread(lambda: importlib.import_module("sounddevice"),
                                          name="ser-live-portaudio-init")
            _SD_IMPORT.update(thread=thread, box=box)
        thread, box = _SD_IMPORT["thread"], _SD_IMPORT["box"]
    try:
        return _answer_within(None, what="initialising PortAudio (listing the audio devices)", timeout_s=timeout_s,
                              thread=thread, box=box, before_message=_give_stderr_back)
    except OSError as exc:
        raise PortAudioMissingError(
            f"the PortAudio library, needed to capture from a microphone, is missing ({exc}); "
            "install it with `sudo apt-get install libportaudio2` (Debian/Ubuntu) or "
            "`brew install portaudio` (macOS), or replay a recording with --input FILE"
        ) from exc
    except ImportError as exc:
        raise DeviceError(
            f"the sounddevice package is not installed ({exc}); install it with "
            "`pip install sounddevice`, or replay a recording with --input FILE"
        ) from exc
    finally:
        with _SD_IMPORT_LOCK:  # only an import still under way is waited for again
            if _SD_IMPORT.get("thread") is thread and box["done"].is_set():
                _stderr_as_before()
                saved = _SD_IMPORT.pop("stderr", None)
                if saved is not None:
                    os.close(saved)
                _SD_IMPORT.clear()


def _give_stderr_back() -> None:
    """Let ser-live's own messages reach the real stderr while PortAudio's initialisation
    (which points fd 2 at /dev/null) is still under way: ``sys.stderr`` becomes a stream on a
    copy of the real one until the initialisation has returned (:func:`_stderr_as_before`).
    Fd 2 itself stays where sounddevice put it, so what ALSA and JACK print during the rest of
    the call (a screenful of "ALSA lib ..." lines when a slow audio server answers at last)
    stays off the terminal; pointing fd 2 back, as this did before, let it through."""
    saved = _SD_IMPORT.get("stderr")
    if saved is None or "sys_stderr" in _SD_IMPORT:
        return
    current = sys.stderr
    try:
        if current is not None:
            current.flush()
        ours = open(os.dup(saved), "w", encoding=getattr(current, "encoding", None) or "utf-8",  # noqa: SIM115
                    errors=getattr(current, "errors", None) or "backslashreplace", buffering=1)
    except (OSError, ValueError):
        return
    _SD_IMPORT["sys_stderr"] = (current, ours)
    sys.stderr = ours


def _stderr_as_before() -> None:
    """Undo :func:`_give_stderr_back` once PortAudio's initialisation has returned (fd 2 is
    the real stderr again): ``sys.stderr`` is the stream it was, unless something replaced
    ours meanwhile (then that stays)."""
    swapped = _SD_IMPORT.pop("sys_stderr", None)
    if swapped is None:
        return
    original, ours = swapped
    if sys.stderr is ours:
        sys.stderr = original
    with contextlib.suppress(OSError, ValueError):
        ours.flush()
        ours.close()


def _started_twice(source: object, remake: str) -> RuntimeError:
    """The error of a source started again: each feeds one run (its thread, stream, end and
    counters are that run's)."""
    return RuntimeError(f"this {type(source).__name__} was already started or ended: a source feeds one run; "
                        f"make a new {remake} for another Recognizer")


# ---------------------------------------------------------------------- file replay
def _require_regular_file(path: Path) -> None:
    """Refuse a FIFO, socket or device: a replay opens the file twice (header, then
    samples), and a pipe would be consumed by the first. Missing files are left to
    :func:`~ser_live.audiofile.audio_info`, which says so."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "not a regular file"
        raise AudioFileError(
            f"{path}: {kind}; --input reads regular files only (it reads the header, then "
            "the samples): save the audio to a file first, e.g. `cat PIPE > talk.wav`"
        )


class FileSource:
    """Replay an audio file into a ring buffer as if it were being captured.

    The file is decoded block by block and resampled in a streaming way
    (:func:`~ser_live.audiofile.iter_audio_blocks`), mixed to mono and converted to int16,
    then written in blocks of ``block_ms``. At ``speed > 0`` block *k* is written when the
    stream clock says its last sample has been "recorded": at ``t0 + end_k / (rate * speed)``
    on the monotonic ``perf_counter`` clock, so timing errors never accumulate. A slow
    consumer then loses audio to overruns exactly as with a microphone.

    At ``speed = 0`` blocks are written as fast as the consumer frees room: this is the one
    source allowed to wait for the ring buffer, because nothing is lost by pausing a file
    (a microphone callback must never wait). The file then passes through without overrun,
    and the segmenter sees exactly the file's samples.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads (WAV, FLAC, OGG, ...; any sample rate and channel count).
    speed : float, default 1.0
        1 for real time, N for N times faster, 0 for as fast as possible without loss.
    block_ms : int, default :data:`BLOCK_MS`
        Length of each block written (milliseconds), like a capture callback's block.
    sample_rate_hz : int, default 16000
        Rate of the blocks written (Hz); must equal the ring buffer's.

    Attributes
    ----------
    info : AudioInfo
        The file's header (rate, channels, duration).
    finished : threading.Event
        Set when the replay ended (end of file, :meth:`stop`, or an error); the ring buffer
        is closed at the same time.
    error : Exception or None
        What stopped the replay early, if anything (re-raised by :meth:`join`), e.g. an
        :class:`~ser_live.errors.AudioFileError` for a file that is damaged, or cut short
        on disk or while being replayed (raised once the samples it holds are written).
    samples_written : int
        Samples given to the ring buffer so far.

    Raises
    ------
    AudioFileError
        The file is missing, unreadable or empty, or not a regular file (a FIFO, a device:
        it would be read twice, header then samples); checked at construction.
    ValueError
        Negative or non-finite ``speed``, non-positive ``block_ms``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 1.0,
        block_ms: int = BLOCK_MS,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, got {block_ms}")
        self.path = Path(path)
        _require_regular_file(self.path)
        self.info = audio_info(self.path)
        self.speed = float(speed)
        self.block_ms = int(block_ms)
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_length = max(1, self.sample_rate_hz * self.block_ms // 1000)
        self.finished = threading.Event()
        self.error: Exception | None = None
        self.samples_written = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration_s(self) -> float:
        """Duration of the file (seconds), from its header."""
        return self.info.duration_s

    def start(self, ring: RingBuffer) -> None:
        """Start replaying into ``ring`` on a background thread (returns at once).

        Raises
        ------
        ValueError
            Sample-rate mismatch, or a block larger than the ring's capacity.
        RuntimeError
            Already started: a source feeds one run; make a new one.
        """
        if ring.sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"ring at {ring.sample_rate_hz} Hz, source at {self.sample_rate_hz} Hz")
        if self.block_length > ring.capacity_samples:
            raise ValueError("block_ms is longer than the ring buffer's capacity")
        if self._thread is not None:
            raise _started_twice(self, "FileSource(path)")
        self._thread = threading.Thread(
            target=self._run, args=(ring,), name="ser-live-file-source", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Ask the replay to stop after the current block (the ring buffer gets closed)."""
        self._stop.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the replay to end.

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait (seconds); forever when None.

        Returns
        -------
        bool
            True when the replay has ended.

        Raises
        ------
        Exception
            The error that stopped the replay (``error``), e.g. AudioFileError.
        """
        if self._thread is not None:
            self._thread.join(timeout_s)
        if self.error is not None:
            raise self.error
        return self.finished.is_set()

    def _emit(self, ring: RingBuffer, block: np.ndarray, t0: float) -> bool:
        """Write one block at its due time; False when asked to stop."""
        n = len(block)
        if self.speed > 0:
            due = t0 + (self.samples_written + n) / (self.sample_rate_hz * self.speed)
            delay = due - time.perf_counter()
            if delay > _SLEEP_MAX_S:
                if self._stop.wait(delay):
                    return False
            elif delay > 0:
                # a plain sleep for the usual one-block wait: Event.wait's timed condition
                # costs a third more CPU per wake-up, at 25 blocks a second; stop() is still
                # seen within one block
                time.sleep(delay)
        else:
            while not ring.wait_for_room(n, timeout_s=0.1):
                if self._stop.is_set():
                    return False
        ring.write(block)
        self.samples_written += n
        return not self._stop.is_set()

    def _run(self, ring: RingBuffer) -> None:
        bl = self.block_length
        t0 = time.perf_counter()
        pending = np.empty(0, dtype=np.int16)
        try:
            for y in iter_audio_blocks(self.path, block_s=0.25, sample_rate_hz=self.sample_rate_hz):
                x = to_int16(y)
                if len(pending):
                    x = np.concatenate([pending, x])
                n_whole = len(x) // bl * bl
                for i in range(0, n_whole, bl):
                    if not self._emit(ring, x[i : i + bl], t0):
                        return
                pending = x[n_whole:]
            if len(pending):
                self._emit(ring, pending, t0)
        except Exception as exc:  # surfaced through .error / join()
            if len(pending):  # the samples decoded before the error are still heard
                with contextlib.suppress(Exception):
                    self._emit(ring, pending, t0)
            # said once, by whoever joins (the CLI: after the summary, with the exit status)
            log.info("replay of %s ended early: %s", self.path, exc)
            self.error = exc
        finally:
            ring.close()
            self.finished.set()


#: Longest wait (s) between replayed blocks taken as a plain sleep (:meth:`FileSource._emit`);
#: longer ones (slow replays) wait on the stop event.
_SLEEP_MAX_S = 0.05


# ---------------------------------------------------------------------- pushed audio
#: ``memoryview.format`` of a bytes-like block :meth:`PushSource.push` reads as 16-bit PCM: bytes,
#: or a view of int16 samples (an ``array.array("h")``, a C callback's buffer).
_PCM16_FORMATS: frozenset[str] = frozenset({"B", "b", "c", "h", "<h", "=h"})


class PushSource:
    """Audio your own code pushes in: a websocket, WebRTC track, game engine or telephony
    callback, at any rate and channel count.

    Each :meth:`push` converts the block as a file's blocks are converted
    (:func:`~ser_live.audiofile.iter_audio_blocks`: int16 to float32 divided by 32768,
    channels averaged, soxr's streaming resampler "HQ" to 16 kHz, clipped at full scale,
    rounded to int16) and writes it into the recogniser's
    :class:`~ser_live.ringbuffer.RingBuffer` on the caller's thread, then returns: it never
    waits for the recogniser. When the recogniser falls ``ring_capacity_s`` behind (30 s by
    default), the samples that do not fit are dropped and counted (:attr:`dropped_samples`,
    also ``Recognizer.status().dropped_samples``; a warning is logged when drops begin), and
    the stream clock still advances, as with a microphone. The same audio pushed block by
    block and replayed with ``FileSource(path, speed=0)`` gives the same samples, so the same
    utterances and results when nothing is dropped.

    Times (``Result.utterance.start_s``, ...) are seconds of pushed audio from the first
    block: a stretch in which nothing is pushed (a muted WebRTC track) is not counted; push
    zeros for it to keep the stream's time equal to the wall clock's.

    Parameters
    ----------
    sample_rate_hz : float, default 16000
        Rate of the audio you push (Hz), e.g. 48000 for WebRTC, 8000 for a phone line
        (below 16 kHz a warning is logged, as ``Predictor`` does: the model was trained on
        full-band speech).
    channels : int, default 1
        Channels of the audio you push; averaged to mono unless ``channel`` is given.
    channel : int, optional
        That channel alone (0-based), e.g. a call's agent (0) or caller (1): two sources
        given the same stereo blocks, ``channel=0`` and ``channel=1``, feed two recognisers
        one side each. None (default): the average of all channels.

    Attributes
    ----------
    finished : threading.Event
        Set by :meth:`close` or :meth:`stop` (the end of the stream).
    error : None
        Always None (the protocol of a source: nothing can fail on another thread here;
        a bad block raises in :meth:`push`).
    samples_pushed : int
        Frames (samples per channel, at ``sample_rate_hz``) taken by :meth:`push` so far.
    can_wait : bool
        False: the recogniser drops utterances rather than wait when its queue is full
        (``Recognizer(queue_full=...)``), as for a microphone.

    Raises
    ------
    ValueError
        ``sample_rate_hz`` not a positive number, ``channels`` < 1, ``channel`` not in
        ``range(channels)``.

    Notes
    -----
    :meth:`push` is meant for one producer (one callback thread); calls from several threads
    are serialised by a lock held for the conversion of one block, so their blocks are taken
    one after the other, in the order the lock is taken.

    Examples
    --------
    >>> src = PushSource(sample_rate_hz=48000, channels=2)  # doctest: +SKIP
    >>> with Recognizer(src, EmotionModel.load(), on_result=print) as rec:  # doctest: +SKIP
    ...     for block in blocks_from_my_engine():  # e.g. float32 of shape (480, 2): 10 ms
    ...         src.push(block)
    ...     src.close()  # the end: the utterance in progress is classified
    """

    can_wait = False

    def __init__(self, *, sample_rate_hz: float = SAMPLE_RATE_HZ, channels: int = 1,
                 channel: int | None = None) -> None:
        if not (isinstance(sample_rate_hz, (int, float, np.number)) and 0 < sample_rate_hz < math.inf):
            raise ValueError(f"sample_rate_hz must be a positive number of Hz, got {sample_rate_hz!r}")
        if not (isinstance(channels, (int, np.integer)) and channels >= 1):
            raise ValueError(f"channels must be an int >= 1, got {channels!r}")
        if channel is not None and not (isinstance(channel, (int, np.integer)) and 0 <= channel < channels):
            raise ValueError(f"channel must be None or 0..{channels - 1} (0-based) for {channels} channel(s), "
                             f"got {channel!r}")
        warn_if_narrowband("PushSource", sample_rate_hz)
        self.sample_rate_hz = sample_rate_hz
        self.channels = int(channels)
        self.channel = channel
        self.finished = threading.Event()
        self.error: Exception | None = None
        self.samples_pushed = 0
        self._ring: RingBuffer | None = None
        self._ended = False
        self._lock = threading.Lock()
        self._resampler = (new_resampler(sample_rate_hz, SAMPLE_RATE_HZ)
                           if sample_rate_hz != SAMPLE_RATE_HZ else None)

    def start(self, ring: RingBuffer) -> None:
        """Called by :class:`~ser_live.pipeline.Recognizer` (``with`` or ``start()``): from
        now on :meth:`push` writes into ``ring``.

        Raises
        ------
        ValueError
            The ring is not at 16 kHz.
        RuntimeError
            Already started, or closed: a source feeds one run; make a new one.
        """
        if ring.sample_rate_hz != SAMPLE_RATE_HZ:
            raise ValueError(f"ring at {ring.sample_rate_hz} Hz, PushSource writes {SAMPLE_RATE_HZ} Hz")
        with self._lock:
            if self._ring is not None or self._ended:
                raise _started_twice(self, "PushSource(...)")
            self._ring = ring

    def push(self, block: ArrayLike | bytes | bytearray | memoryview) -> int:
        """Give the recogniser a block of audio; never waits.

        Parameters
        ----------
        block : np.ndarray, array-like or bytes-like
            The next samples of the stream at ``sample_rate_hz``: float (float32 or
            float64) in [-1, 1] or int16, of shape ``(n_frames, channels)``, or
            interleaved (frame after frame, as audio callbacks and PCM byte streams deliver
            it) of shape ``(n_frames * channels,)`` or ``(1, n_frames * channels)`` (a
            WebRTC frame of aiortc, ``frame.to_ndarray()``); bytes-like (bytes, bytearray, a
            memoryview of bytes or of int16) is interleaved 16-bit little-endian PCM
            (``np.frombuffer(data, "<i2")``; for float32 bytes pass ``np.frombuffer(data,
            np.float32)``). Any length, 0 included.

        Returns
        -------
        int
            16 kHz samples of this block that did not fit the recogniser's buffer and were
            dropped (0 while the recogniser keeps up); 0 after the end (:meth:`close`,
            :meth:`stop`, or the recogniser's ``max_duration_s`` reached), when blocks are
            ignored.

        Raises
        ------
        RuntimeError
            The recogniser has not started this source yet (push inside ``with
            Recognizer(source, model):``, or after ``rec.start()``).
        ValueError
            A shape that does not fit ``channels`` (channels first, ``(channels, n)``:
            pass ``block.T``), bytes that are not whole 16-bit frames, a memoryview of
            another format than bytes or int16 (float32: use ``np.frombuffer``), a dtype other than
            int16 or float, NaN or infinite samples, float samples with a peak above
            :data:`~ser_live.vad.MAX_FLOAT_PEAK` (2.0: int16-range values, divide by 32768;
            peaks in (1, 2] are taken and clipped at full scale).
        """
        x = self._frames(block)
        with self._lock:
            if self._ring is None:
                raise RuntimeError("PushSource.push before the recogniser started it: push inside "
                                   "`with Recognizer(source, model):` or after rec.start()")
            if self._ended or self._ring.closed:  # closed: the run ended (max_duration_s)
                return 0
            t = time.perf_counter()
            self.samples_pushed += len(x)
            if self.channel is not None or x.shape[1] == 1:
                x = x[:, self.channel or 0]
            if x.dtype == np.int16 and self._resampler is None and x.ndim == 1:
                out = x  # 16 kHz mono int16: the ring's own samples
            else:
                y = x.astype(np.float32) if x.dtype != np.int16 else to_float32(x)
                y = to_mono(y)
                if self._resampler is not None:
                    y = self._resampler.resample_chunk(y)
                out = to_int16(np.clip(y, -1.0, 1.0))
            ring = self._ring
            events = ring.overrun_events
            dropped = len(out) - ring.write(out, arrival_time=t)
            began_dropping = ring.overrun_events > events  # said once per stretch of drops
        if began_dropping:  # logged after the lock: a handler may call close() or rec.stop()
            log.warning("PushSource: the recogniser's buffer (%.1f s) is full: pushed audio is dropped "
                        "(%.2f s so far); it cannot keep up with the pushes, or a whole recording was pushed "
                        "at once (for a recording use FileSource or Predictor)",
                        ring.capacity_samples / SAMPLE_RATE_HZ, self.dropped_s)
        return dropped

    def _frames(self, block: ArrayLike | bytes | bytearray | memoryview) -> np.ndarray:
        """``block`` checked, as ``(n_frames, channels)`` of its own dtype (int16 or float)."""
        c = self.channels
        if isinstance(block, (bytes, bytearray, memoryview)):
            view = memoryview(block)
            if view.format not in _PCM16_FORMATS:  # e.g. a view of float32 samples, not 16-bit PCM
                raise ValueError(f"a memoryview of format {view.format!r} is not 16-bit PCM: pass "
                                 "np.frombuffer(data, <its dtype>) (float in [-1, 1] or int16)")
            n_bytes = view.nbytes  # len() of a view of int16 counts samples, not bytes
            if n_bytes % (2 * c):
                raise ValueError(f"{n_bytes} bytes are not whole frames of {c} 16-bit sample(s) "
                                 f"({2 * c} bytes each); keep the odd bytes for the next push")
            block = np.frombuffer(view, dtype="<i2").astype(np.int16, copy=False)
        x = np.asarray(block)
        if x.ndim == 2 and x.shape[0] == 1 and x.shape[1] != c:
            x = x[0]  # one packed row (PyAV's AudioFrame.to_ndarray() of s16 or flt): interleaved
        if x.ndim == 2:
            if x.shape[1] != c:
                hint = ": channels first? pass block.T" if x.shape[0] == c else ""
                raise ValueError(f"a block of shape {x.shape} for {c} channel(s): expected (n_frames, {c}){hint}")
            check_signal(x.reshape(-1))
            return x
        if x.ndim != 1:
            raise ValueError(f"a block must be (n_frames, {c}) or 1-D interleaved, got shape {x.shape}")
        check_signal(x)
        if len(x) % c:
            raise ValueError(f"{len(x)} interleaved samples are not whole frames of {c} channels")
        return x.reshape(-1, c)

    def close(self) -> None:
        """End the stream (the end of a call, a closed websocket): the resampler's last
        samples are written, the recogniser classifies the utterance in progress and its
        iteration ends, as at the end of a file. Later pushes are ignored. Idempotent."""
        with self._lock:
            if self._ended:
                return
            self._ended = True
            if self._ring is not None:
                if self._resampler is not None:
                    tail = self._resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
                    if len(tail):
                        self._ring.write(to_int16(np.clip(tail, -1.0, 1.0)))
                self._ring.close()
        self.finished.set()

    def stop(self) -> None:
        """End the stream (``Recognizer.stop`` calls it): :meth:`close`."""
        self.close()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait up to ``timeout_s`` seconds (None: forever) for the end of the stream.

        Returns
        -------
        bool
            True once :meth:`close` or :meth:`stop` was called.
        """
        return self.finished.wait(timeout_s)

    @property
    def dropped_samples(self) -> int:
        """16 kHz samples dropped because the recogniser's buffer was full (0 before start)."""
        return self._ring.overrun_samples if self._ring is not None else 0

    @property
    def dropped_s(self) -> float:
        """:attr:`dropped_samples` in seconds."""
        return self.dropped_samples / SAMPLE_RATE_HZ


# ---------------------------------------------------------------------- microphone
#: PortAudio error codes that say a device cannot be opened at all, whatever the rate:
#: ``paInvalidDevice`` (-9996) and ``paDeviceUnavailable`` (-9985, busy: another program
#: holds an ALSA ``hw`` device); no other rate is tried then.
_PA_NOT_A_RATE: frozenset[int] = frozenset({-9996, -9985})


def _pa_error_code(exc: Exception) -> int | None:
    """The ``PaErrorCode`` of a sounddevice ``PortAudioError`` (its second argument), else None."""
    args = getattr(exc, "args", ())
    return args[1] if len(args) > 1 and isinstance(args[1], int) else None


class MicrophoneSource:
    """Capture from an input device into a ring buffer.

    The PortAudio callback does nothing but copy the block into the ring buffer
    (:meth:`RingBuffer.write`, which never waits), stamped with ``time.perf_counter()``, and
    count input overflows reported by PortAudio. When the device cannot open at
    ``sample_rate_hz``, it is opened at its default rate instead (and with 2 channels, keeping
    the first, when it takes no mono); the callback then only
    puts each raw block on a :class:`queue.SimpleQueue`, and a converter thread resamples
    them with a streaming soxr resampler and writes to the ring buffer.

    Parameters
    ----------
    device : int or str, optional
        PortAudio device index, or (part of) its name; the default input device when None.
        A string of digits is taken as an index.
    sample_rate_hz : int, default 16000
        Rate of the samples written to the ring buffer (Hz).
    block_ms : int, default :data:`BLOCK_MS`
        Callback block length (milliseconds).
    no_audio_warn_s : float, default 2.0
        Seconds without samples after which a warning is logged (once per stall) and
        :attr:`no_audio_s` is worth showing.
    no_audio_timeout_s : float or None, default 10.0
        Seconds without samples after which the capture ends as if the stream had died:
        :attr:`error` becomes a :class:`~ser_live.errors.CaptureError` and the ring buffer is
        closed (the consumer drains it and ends). None never ends the capture this way.

    Attributes
    ----------
    device_index : int
    device_name : str
    device_sample_rate_hz : int
        Rate the device is opened at (equals ``sample_rate_hz`` unless resampling).
    resampling : bool
    channels : int
        Channels the device is opened with: 1, or 2 for a device that takes no mono (the
        first channel is kept).
    input_overflows : int
        Callbacks for which PortAudio reported lost input (the device's own overrun).
    samples_received : int
        Device-rate samples delivered by PortAudio so far.
    finished : threading.Event
        Set after :meth:`stop` (the ring buffer is closed then).
    error : Exception or None
        What ended the capture early: a :class:`~ser_live.errors.CaptureError` when the
        stream ended by itself (PortAudio's finished callback: audio server or device gone)
        or no audio came for ``no_audio_timeout_s``, or resampling failed.
        Re-raised by :meth:`join`.
    abandoned : bool
        True when PortAudio did not stop/close the stream within
        ``STREAM_CLOSE_TIMEOUT_S`` (1 s) and it was left to a daemon thread; the process
        should then end with ``os._exit`` (PortAudio's own exit handler could block too).

    Notes
    -----
    No PortAudio call that can block is made on the caller's thread after :meth:`start`:
    :meth:`stop` stops (or, when no audio is coming, aborts) and closes the stream on a
    daemon thread and waits at most ``STREAM_CLOSE_TIMEOUT_S``. ``Pa_StopStream`` waits for
    pending buffers and never returns while a PulseAudio source is suspended; a main
    thread blocked there would ignore Ctrl-C.

    A watchdog thread checks every 0.1 s when the last block arrived; :attr:`no_audio_s`
    says how long ago (0 while audio flows).

    The calls that wait for the audio server (initialising PortAudio, checking and opening
    the device) run on a daemon thread, waited for at most ``no_audio_timeout_s`` (10 s when
    None) in interruptible steps (:func:`_answer_within`): a hung server gives an
    :class:`AudioSystemHungError`, and a Ctrl-C ends the wait at once.

    Raises
    ------
    PortAudioMissingError
        The PortAudio library is not installed.
    AudioSystemHungError
        The audio server did not answer within ``no_audio_timeout_s``.
    DeviceError
        No input device, the named one not found or ambiguous, busy or gone, or none of its
        settings work; or the sounddevice package is not installed
        (:func:`import_sounddevice`).
    ValueError
        ``block_ms``, ``no_audio_warn_s`` or ``no_audio_timeout_s`` not positive.
    """

    def __init__(
        self,
        *,
        device: int | str | None = None,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        block_ms: int = BLOCK_MS,
        no_audio_warn_s: float = NO_AUDIO_WARN_S,
        no_audio_timeout_s: float | None = NO_AUDIO_TIMEOUT_S,
    ) -> None:
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, got {block_ms}")
        if not no_audio_warn_s > 0:
            raise ValueError(f"no_audio_warn_s must be positive, got {no_audio_warn_s}")
        if no_audio_timeout_s is not None and not no_audio_timeout_s > 0:
            raise ValueError(f"no_audio_timeout_s must be positive, got {no_audio_timeout_s}")
        self.no_audio_warn_s = float(no_audio_warn_s)
        self.no_audio_timeout_s = None if no_audio_timeout_s is None else float(no_audio_timeout_s)
        self._answer_s = self.no_audio_timeout_s or NO_AUDIO_TIMEOUT_S
        sd = import_sounddevice(timeout_s=self._answer_s)
        self._sd = sd
        if isinstance(device, str) and device.strip().isdigit():
            device = int(device)
        self.device = device
        self.sample_rate_hz = int(sample_rate_hz)
        self.block_ms = int(block_ms)
        try:
            info = sd.query_devices(device, kind="input")
        except ValueError as exc:  # no match, several matches, not an input device
            raise DeviceError(f"input device {device!r}: {exc}; {_DEVICE_ADVICE}") from exc
        except sd.PortAudioError as exc:
            what = "no default input device" if device is None else f"no input device {device!r}"
            raise DeviceError(f"{what} ({exc}); {_DEVICE_ADVICE}") from exc
        self.device_index = int(info["index"])
        self.device_name = str(info["name"])
        rate, self.channels = self._settings_that_open(info)
        self.device_sample_rate_hz = rate
        self.resampling = rate != self.sample_rate_hz
        self.input_overflows = 0
        self.samples_received = 0
        self.finished = threading.Event()
        self.error: Exception | None = None
        self.abandoned = False
        self._ring: RingBuffer | None = None
        self._stream: Any = None
        self._queue: queue.SimpleQueue | None = None
        self._converter: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None
        self._stopping = threading.Event()
        self._last_data_time = time.perf_counter()

    def _settings_that_open(self, info: dict[str, Any]) -> tuple[int, int]:
        """The first of (16 kHz, mono), (the device's default rate, mono), then the same in
        stereo (a hardware device may take 2 channels only; channel 0 is kept) that PortAudio's
        settings check accepts, as ``(rate_hz, channels)``. The check opens the device, so it
        waits for the audio server: at most ``no_audio_timeout_s`` (:class:`AudioSystemHungError`).

        Raises
        ------
        DeviceError
            The device is busy or gone (said so at once), or no setting opens it.
        """
        sd = self._sd
        default_rate = int(round(info["default_samplerate"]))
        rates = dict.fromkeys([self.sample_rate_hz, default_rate])
        channels = [1, 2] if int(info.get("max_input_channels", 1)) >= 2 else [1]
        first: Exception | None = None
        for n_channels in channels:
            for rate in rates:
                try:
                    self._answer(lambda: sd.check_input_settings(device=self.device_index, channels=n_channels,
                                                                 dtype="int16", samplerate=rate),
                                 what=f"opening input device {self.device_name!r}")
                except (sd.PortAudioError, ValueError) as exc:
                    if _pa_error_code(exc) in _PA_NOT_A_RATE:  # busy or gone at any rate
                        raise self._cannot_open(exc) from exc
                    first = first or exc
                    continue
                if (rate, n_channels) != (self.sample_rate_hz, 1):
                    log.info("input device %r cannot open at %d Hz mono (%s); opening at %d Hz, %d channel(s)%s",
                             self.device_name, self.sample_rate_hz, first, rate, n_channels,
                             ", resampling" if rate != self.sample_rate_hz else "")
                return rate, n_channels
        raise DeviceError(
            f"input device {self.device_name!r} opens neither at {self.sample_rate_hz} Hz nor at its default "
            f"{default_rate} Hz, mono or stereo 16-bit ({first}); {_DEVICE_ADVICE}"
        ) from first

    def _cannot_open(self, exc: Exception) -> DeviceError:
        """The error for a device PortAudio would not open (``exc`` says why)."""
        return DeviceError(
            f"cannot open input device {self.device_name!r} ({exc}); it may be busy "
            f"(close other programs using it) or unplugged; {_DEVICE_ADVICE}"
        )

    def _answer(self, call: Any, *, what: str) -> Any:
        """``call()`` waited for at most ``no_audio_timeout_s`` (:func:`_answer_within`)."""
        return _answer_within(call, what=what, timeout_s=self._answer_s)

    @property
    def no_audio_s(self) -> float:
        """Seconds since PortAudio last delivered a block (since :meth:`start` before the
        first); 0 before :meth:`start` and after :meth:`stop`."""
        if self._stream is None:
            return 0.0
        return max(0.0, time.perf_counter() - self._last_data_time)

    # The two callbacks run on PortAudio's thread: copy, count, nothing else.
    def _callback_direct(self, indata, frames, time_info, status) -> None:  # noqa: ANN001
        t = time.perf_counter()
        if status.input_overflow:
            self.input_overflows += 1
        self._ring.write(indata[:, 0], arrival_time=t)
        self.samples_received += frames
        self._last_data_time = t

    def _callback_queued(self, indata, frames, time_info, status) -> None:  # noqa: ANN001
        t = time.perf_counter()
        if status.input_overflow:
            self.input_overflows += 1
        if self.error is None:  # no converter reads the queue after a failure
            self._queue.put((indata[:, 0].copy(), t))
        self.samples_received += frames
        self._last_data_time = t

    def _fail(self, message: str) -> None:
        """End the capture with a :class:`CaptureError` (first cause wins): the ring is
        closed, so the consumer drains what was captured and ends."""
        if self._stopping.is_set() or self.error is not None:
            return
        self.error = CaptureError(f"input device {self.device_name!r}: {message}")
        if self._ring is not None:
            self._ring.close()

    def _on_stream_finished(self) -> None:
        """PortAudio's finished callback: the stream ended. Unless :meth:`stop` asked for
        it, the audio server or the device went away."""
        self._fail(
            f"the input stream ended by itself after {self.samples_received / self.device_sample_rate_hz:.1f} s "
            "of audio (the audio server stopped or the device was unplugged)"
        )

    def _watch(self) -> None:
        """Watchdog thread: warn after ``no_audio_warn_s`` without samples, end the capture
        after ``no_audio_timeout_s``.

        Only time the process could hear counts: a wake-up of the watchdog more than
        :data:`STOPPED_GAP_S` after the previous one (it wakes every 0.1 s) means the whole
        process was stopped (Ctrl-Z then ``fg``, SIGSTOP) or not run, not that the device
        fell silent, so the silence is counted again from then. (A gap measured against
        ``no_audio_warn_s`` instead reset the count at every wake-up for a warning time
        under 0.1 s, and the timeout never came.)"""
        warned = False
        last_wake = time.perf_counter()
        while not self._stopping.wait(0.1):
            stream = self._stream
            if stream is None or self.error is not None:
                return
            now = time.perf_counter()
            if now - last_wake > STOPPED_GAP_S:
                log.info("the process did not run for %.1f s (stopped?); the no-audio timeout counts from now",
                         now - last_wake)
                self._last_data_time = max(self._last_data_time, now)
            last_wake = now
            silent_s = self.no_audio_s
            if silent_s >= self.no_audio_warn_s and not warned:
                warned = True
                limit = (
                    f"; the run ends after {self.no_audio_timeout_s:g} s without audio"
                    if self.no_audio_timeout_s is not None else ""
                )
                log.warning(
                    "no audio from input device %r for %.1f s (is the source suspended, muted "
                    "or unplugged?)%s", self.device_name, silent_s, limit,
                )
            elif silent_s < self.no_audio_warn_s and warned:
                warned = False
                log.warning("audio from input device %r is back", self.device_name)
            if self.no_audio_timeout_s is not None and silent_s >= self.no_audio_timeout_s:
                self._fail(
                    f"no audio for {silent_s:.1f} s (no-audio timeout {self.no_audio_timeout_s:g} s); "
                    "the source may be suspended or muted, or the audio server stalled"
                )
                return

    def _convert(self) -> None:
        """Converter thread: resample queued device-rate blocks and write them to the ring.
        A failure ends the capture as a dead stream does (:meth:`_fail`: the ring is closed,
        :attr:`error` a :class:`CaptureError`), so the run ends instead of waiting for audio
        that never comes while the callback keeps queueing."""
        from .audiofile import new_resampler

        ring = self._ring
        try:
            rs = new_resampler(self.device_sample_rate_hz, self.sample_rate_hz, dtype="int16")
            while True:
                item = self._queue.get()
                if item is None:
                    tail = rs.resample_chunk(np.zeros(0, dtype=np.int16), last=True)
                    if len(tail):
                        ring.write(tail, arrival_time=time.perf_counter())
                    return
                block, t = item
                out = rs.resample_chunk(block)
                if len(out):
                    ring.write(out, arrival_time=t)
        except Exception as exc:  # surfaced through .error / join()
            self._fail(f"resampling its audio from {self.device_sample_rate_hz} Hz to {self.sample_rate_hz} Hz "
                       f"failed ({type(exc).__name__}: {exc})")

    def start(self, ring: RingBuffer) -> None:
        """Open the input stream and start capturing into ``ring`` (returns at once).

        Raises
        ------
        AudioSystemHungError
            The audio server did not answer within ``no_audio_timeout_s``.
        DeviceError
            The device cannot be opened (busy, unplugged, ...).
        ValueError
            Sample-rate mismatch with the ring buffer.
        RuntimeError
            Already started or stopped: a source feeds one run; make a new one.
        """
        if ring.sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"ring at {ring.sample_rate_hz} Hz, source at {self.sample_rate_hz} Hz")
        if self._stream is not None or self._stopping.is_set():
            raise _started_twice(self, "MicrophoneSource(...)")
        sd = self._sd
        self._ring = ring
        if self.resampling:
            self._queue = queue.SimpleQueue()
            self._converter = threading.Thread(
                target=self._convert, name="ser-live-resampler", daemon=True
            )
            self._converter.start()
            callback = self._callback_queued
        else:
            callback = self._callback_direct

        # A stream the opening thread starts after the wait for it gave up (a hung server
        # that answers late, or a Ctrl-C) is closed, not left running with nobody to stop it.
        lock, given_up, opened = threading.Lock(), threading.Event(), []

        def open_stream() -> Any:
            stream = sd.InputStream(
                samplerate=self.device_sample_rate_hz,
                channels=self.channels,
                dtype="int16",
                blocksize=max(1, self.device_sample_rate_hz * self.block_ms // 1000),
                device=self.device_index,
                callback=callback,
                finished_callback=self._on_stream_finished,
            )
            self._last_data_time = time.perf_counter()
            stream.start()
            with lock:
                if not given_up.is_set():
                    opened.append(stream)
                    return stream
            _close_stream(stream, True)
            return None

        try:
            stream = self._answer(open_stream, what=f"starting input device {self.device_name!r}")
        except BaseException as exc:
            with lock:
                given_up.set()
                late = list(opened)
            for late_stream in late:  # opened as the wait gave up: closed on a daemon thread (it may hang again)
                threading.Thread(target=_close_stream, args=(late_stream, True), name="ser-live-stream-closer", daemon=True).start()
            if self._queue is not None:
                self._queue.put(None)
            if not isinstance(exc, (sd.PortAudioError, ValueError)):
                raise
            raise self._cannot_open(exc) from exc
        self._stream = stream
        self._watchdog = threading.Thread(target=self._watch, name="ser-live-audio-watchdog", daemon=True)
        self._watchdog.start()
        log.info(
            "capturing from %r at %d Hz%s", self.device_name, self.device_sample_rate_hz,
            f", resampled to {self.sample_rate_hz} Hz" if self.resampling else "",
        )

    def stop(self) -> None:
        """Stop capturing, drain the converter and close the ring buffer. Idempotent.

        Returns within about ``STREAM_CLOSE_TIMEOUT_S`` (1 s) whatever PortAudio does: the
        stream is stopped (aborted when no audio has come for 0.5 s or the stream is no
        longer active, as ``Pa_StopStream`` would wait for buffers that never come) and
        closed on a daemon thread; if that thread does not finish in time the stream is
        left to it and :attr:`abandoned` is set.
        """
        self._stopping.set()
        stream = self._stream
        if stream is not None:
            stalled = self.no_audio_s > 0.5 or self.error is not None
            self._stream = None
            closed = threading.Event()  # not closer.is_alive() after a join: see _CALLS_UNDER_WAY
            closer = threading.Thread(
                target=_close_stream, args=(stream, stalled, closed), name="ser-live-stream-closer", daemon=True
            )
            closer.start()
            if not closed.wait(STREAM_CLOSE_TIMEOUT_S):
                self.abandoned = True
                log.warning(
                    "PortAudio did not close the input stream of %r within %g s; leaving it",
                    self.device_name, STREAM_CLOSE_TIMEOUT_S,
                )
        if self._queue is not None and self._converter is not None and self._converter.is_alive():
            self._queue.put(None)
            self._converter.join(STREAM_CLOSE_TIMEOUT_S)
        if self._ring is not None:
            self._ring.close()
        self.finished.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until :meth:`stop` has finished; re-raise a converter error.

        Parameters
        ----------
        timeout_s : float, optional
            Longest wait (seconds); None: until stopped.

        Returns
        -------
        bool
            True once stopped, False when ``timeout_s`` ran out first.

        Raises
        ------
        Exception
            What ended the capture early (:attr:`error`).
        """
        self.finished.wait(timeout_s)
        if self.error is not None:
            raise self.error
        return self.finished.is_set()


#: A watchdog wake-up this much later than the previous one (seconds; it wakes every 0.1 s)
#: means the process was stopped or not run: the no-audio time restarts (MicrophoneSource).
STOPPED_GAP_S = 1.0


def _close_stream(stream: Any, abort: bool, closed: threading.Event | None = None) -> None:
    """Stop (or abort) and close a PortAudio stream; runs on a daemon thread. ``closed`` is
    set once PortAudio's calls have returned (whether or not they failed)."""
    try:
        if abort:
            stream.abort()
        else:
            stream.stop()
        stream.close()
    except Exception as exc:  # device vanished meanwhile
        log.info("closing the input stream: %s", exc)
    finally:
        if closed is not None:
            closed.set()


def list_input_devices(*, timeout_s: float = NO_AUDIO_TIMEOUT_S) -> list[dict[str, Any]]:
    """The input devices PortAudio knows.

    Parameters
    ----------
    timeout_s : float, default :data:`NO_AUDIO_TIMEOUT_S`
        Longest wait (seconds) for PortAudio to initialise (it asks the audio server).

    Returns
    -------
    list of dict
        One per device with at least one input channel: ``index`` (int), ``name`` (str),
        ``hostapi`` (str), ``max_input_channels`` (int), ``default_samplerate`` (float, Hz),
        ``is_default`` (bool). Empty when there is none.

    Raises
    ------
    PortAudioMissingError
        The PortAudio library is not installed.
    DeviceError
        PortAudio cannot enumerate devices, or the sounddevice package is not installed.
    AudioSystemHungError
        PortAudio did not finish initialising within ``timeout_s`` (a hung audio server).
    """
    sd = import_sounddevice(timeout_s=timeout_s)
    try:
        devices = sd.query_devices()
        hostapis = sd.query_hostapis()
    except sd.PortAudioError as exc:
        raise DeviceError(f"cannot list audio devices ({exc})") from exc
    try:
        default_index = int(sd.query_devices(kind="input")["index"])
    except (sd.PortAudioError, ValueError):
        default_index = None
    out = []
    for d in devices:
        if d["max_input_channels"] < 1:
            continue
        out.append(
            {
                "index": int(d["index"]),
                "name": str(d["name"]),
                "hostapi": str(hostapis[d["hostapi"]]["name"]),
                "max_input_channels": int(d["max_input_channels"]),
                "default_samplerate": float(d["default_samplerate"]),
                "is_default": int(d["index"]) == default_index,
            }
        )
    return out


# ---------------------------------------------------------------------- stderr noise
#: A diagnostic line PortAudio's ALSA host API prints on stderr when a call fails, e.g.
#: ``Expression 'alsa_snd_pcm_poll_descriptors_revents( ... )' failed in
#: 'src/hostapi/alsa/pa_linux_alsa.c', line: 3665`` (``PA_ENSURE`` in pa_linux_alsa.c).
_PORTAUDIO_NOISE = re.compile(rb"^Expression '.*' failed in '.*', line: \d+\s*$")
_NOISE_PREFIX = b"Expression '"


class PortAudioNoiseFilter:
    """Keep PortAudio's raw assertion lines off the terminal while capturing.

    PortAudio's ALSA host API writes ``Expression '...' failed in '...', line: N`` straight
    to file descriptor 2 when the audio server dies under a running stream, before the
    program can say what happened. While active, fd 2 is a pipe read by a daemon thread
    that passes every other byte through to the real stderr unchanged and in order, and
    logs those lines at DEBUG level instead (shown with ``-vv``); :attr:`n_filtered`
    counts them.

    Use as a context manager around the capture; a no-op (``active`` False) where fd 2
    cannot be redirected.

    Attributes
    ----------
    n_filtered : int
        PortAudio lines kept off stderr.
    active : bool
        True while fd 2 is redirected.
    """

    def __init__(self) -> None:
        self.n_filtered = 0
        self.active = False
        self._saved_fd: int | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PortAudioNoiseFilter":
        try:
            sys.stderr.flush()
            saved = os.dup(2)
            r, w = os.pipe()
            os.dup2(w, 2)
            os.close(w)
        except (OSError, ValueError) as exc:  # pragma: no cover - no fd 2
            log.debug("stderr filter not installed: %s", exc)
            return self
        self._saved_fd = saved
        self._thread = threading.Thread(target=self._pump, args=(r, saved), name="ser-live-stderr", daemon=True)
        self._thread.start()
        self.active = True
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.active:
            return
        self.active = False
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        assert self._saved_fd is not None
        os.dup2(self._saved_fd, 2)  # the pipe's last writer closes: the pump sees EOF
        if self._thread is not None:
            self._thread.join(1.0)
        if self._thread is None or not self._thread.is_alive():
            os.close(self._saved_fd)
        self._saved_fd = None

    def _pump(self, r: int, out: int) -> None:
        pending = b""
        try:
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                keep = []
                for line in lines:
                    if _PORTAUDIO_NOISE.match(line):
                        self.n_filtered += 1
                        log.debug("PortAudio: %s", line.decode(errors="replace"))
                    else:
                        keep.append(line + b"\n")
                # A partial line is passed on at once unless it may become a noise line.
                if pending and not (pending.startswith(_NOISE_PREFIX) or _NOISE_PREFIX.startswith(pending)):
                    keep.append(pending)
                    pending = b""
                if keep:
                    _write_all(out, b"".join(keep))
        except OSError:  # pragma: no cover - the real stderr is gone
            pass
        finally:
            if pending:
                with contextlib.suppress(OSError):
                    _write_all(out, pending)
            os.close(r)


def _write_all(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]

