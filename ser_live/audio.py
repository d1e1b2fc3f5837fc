"""Audio sources: push int16 16 kHz mono blocks into a :class:`~ser_live.ringbuffer.RingBuffer`.

* :class:`FileSource` replays any file libsndfile reads (any rate, any channel count) at
  real-time pace, faster, or as fast as the consumer takes it.
* :class:`MicrophoneSource` captures from a PortAudio input device through sounddevice,
  resampling in a streaming way when the device cannot open at 16 kHz.
* :func:`list_input_devices` lists the input devices.

Both sources feed the same ring buffer, so a replayed file exercises the code a live
microphone runs. sounddevice (and with it the PortAudio shared library) is imported only
when a microphone is used: importing this module, and replaying files, works without
PortAudio.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from .audiofile import SAMPLE_RATE_HZ, audio_info, iter_audio_blocks, to_int16
from .errors import DeviceError, PortAudioMissingError
from .ringbuffer import RingBuffer

__all__ = ["FileSource", "MicrophoneSource", "list_input_devices"]

log = logging.getLogger(__name__)

_DEVICE_ADVICE = (
    "list the input devices with `ser-live devices` and pick one with --device, "
    "or replay a recording with --input FILE"
)


def _import_sounddevice() -> Any:
    """Import sounddevice, turning a missing PortAudio into an error that says what to do.

    Raises
    ------
    PortAudioMissingError
        The PortAudio shared library is not installed (sounddevice raises OSError).
    DeviceError
        The sounddevice package itself is not installed.
    """
    try:
        import sounddevice
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
    return sounddevice


# ---------------------------------------------------------------------- file replay
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
    block_ms : int, default 20
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
        What stopped the replay early, if anything (re-raised by :meth:`join`).
    samples_written : int
        Samples given to the ring buffer so far.

    Raises
    ------
    AudioFileError
        The file is missing, unreadable or empty (checked at construction).
    ValueError
        Negative or non-finite ``speed``, non-positive ``block_ms``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        speed: float = 1.0,
        block_ms: int = 20,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
    ) -> None:
        if not (math.isfinite(speed) and speed >= 0):
            raise ValueError(f"speed must be >= 0 (0 = as fast as possible), got {speed}")
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, got {block_ms}")
        self.path = Path(path)
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
            Already started.
        """
        if ring.sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"ring at {ring.sample_rate_hz} Hz, source at {self.sample_rate_hz} Hz")
        if self.block_length > ring.capacity_samples:
            raise ValueError("block_ms is longer than the ring buffer's capacity")
        if self._thread is not None:
            raise RuntimeError("FileSource already started")
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
            if delay > 0 and self._stop.wait(delay):
                return False
        else:
            while not ring.wait_for_room(n, timeout_s=0.1):
                if self._stop.is_set():
                    return False
        ring.write(block)
        self.samples_written += n
        return not self._stop.is_set()

    def _run(self, ring: RingBuffer) -> None:
        bl = self.block_length
        try:
            t0 = time.perf_counter()
            pending = np.empty(0, dtype=np.int16)
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
            log.error("replay of %s failed: %s", self.path, exc)
            self.error = exc
        finally:
            ring.close()
            self.finished.set()


# ---------------------------------------------------------------------- microphone
class MicrophoneSource:
    """Capture from an input device into a ring buffer.

    The PortAudio callback does nothing but copy the block into the ring buffer
    (:meth:`RingBuffer.write`, which never waits), stamped with ``time.perf_counter()``, and
    count input overflows reported by PortAudio. When the device cannot open at
    ``sample_rate_hz``, it is opened at its default rate instead; the callback then only
    puts each raw block on a :class:`queue.SimpleQueue`, and a converter thread resamples
    them with a streaming soxr resampler and writes to the ring buffer.

    Parameters
    ----------
    device : int or str, optional
        PortAudio device index, or (part of) its name; the default input device when None.
        A string of digits is taken as an index.
    sample_rate_hz : int, default 16000
        Rate of the samples written to the ring buffer (Hz).
    block_ms : int, default 20
        Callback block length (milliseconds).

    Attributes
    ----------
    device_index : int
    device_name : str
    device_sample_rate_hz : int
        Rate the device is opened at (equals ``sample_rate_hz`` unless resampling).
    resampling : bool
    input_overflows : int
        Callbacks for which PortAudio reported lost input (the device's own overrun).
    finished : threading.Event
        Set after :meth:`stop` (the ring buffer is closed then).
    error : Exception or None
        Error that ended the converter thread, if any (re-raised by :meth:`join`).

    Raises
    ------
    PortAudioMissingError
        The PortAudio library is not installed.
    DeviceError
        No input device, the named one not found or ambiguous, or none of its settings work.
    """

    def __init__(
        self,
        *,
        device: int | str | None = None,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        block_ms: int = 20,
    ) -> None:
        if block_ms <= 0:
            raise ValueError(f"block_ms must be positive, got {block_ms}")
        sd = _import_sounddevice()
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
        rate = self.sample_rate_hz
        try:
            sd.check_input_settings(
                device=self.device_index, channels=1, dtype="int16", samplerate=rate
            )
        except (sd.PortAudioError, ValueError) as exc:
            rate = int(round(info["default_samplerate"]))
            log.info(
                "input device %r cannot open at %d Hz (%s); opening at %d Hz and resampling",
                self.device_name, self.sample_rate_hz, exc, rate,
            )
            try:
                sd.check_input_settings(
                    device=self.device_index, channels=1, dtype="int16", samplerate=rate
                )
            except (sd.PortAudioError, ValueError) as exc2:
                raise DeviceError(
                    f"input device {self.device_name!r} opens neither at {self.sample_rate_hz} Hz "
                    f"nor at its default {rate} Hz mono 16-bit ({exc2}); {_DEVICE_ADVICE}"
                ) from exc2
        self.device_sample_rate_hz = rate
        self.resampling = rate != self.sample_rate_hz
        self.input_overflows = 0
        self.finished = threading.Event()
        self.error: Exception | None = None
        self._ring: RingBuffer | None = None
        self._stream: Any = None
        self._queue: queue.SimpleQueue | None = None
        self._converter: threading.Thread | None = None

    # The two callbacks run on PortAudio's thread: copy, count, nothing else.
    def _callback_direct(self, indata, frames, time_info, status) -> None:  # noqa: ANN001
        if status.input_overflow:
            self.input_overflows += 1
        self._ring.write(indata[:, 0], arrival_time=time.perf_counter())

    def _callback_queued(self, indata, frames, time_info, status) -> None:  # noqa: ANN001
        if status.input_overflow:
            self.input_overflows += 1
        self._queue.put((indata[:, 0].copy(), time.perf_counter()))

    def _convert(self) -> None:
        """Converter thread: resample queued device-rate blocks and write them to the ring."""
        import soxr

        ring = self._ring
        rs = soxr.ResampleStream(
            self.device_sample_rate_hz, self.sample_rate_hz, 1, dtype="int16", quality="HQ"
        )
        try:
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
        except Exception as exc:  # pragma: no cover - surfaced through .error / join()
            log.error("resampling the input failed: %s", exc)
            self.error = exc

    def start(self, ring: RingBuffer) -> None:
        """Open the input stream and start capturing into ``ring`` (returns at once).

        Raises
        ------
        DeviceError
            The device cannot be opened (busy, unplugged, ...).
        ValueError
            Sample-rate mismatch with the ring buffer.
        RuntimeError
            Already started.
        """
        if ring.sample_rate_hz != self.sample_rate_hz:
            raise ValueError(f"ring at {ring.sample_rate_hz} Hz, source at {self.sample_rate_hz} Hz")
        if self._stream is not None:
            raise RuntimeError("MicrophoneSource already started")
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
        try:
            stream = sd.InputStream(
                samplerate=self.device_sample_rate_hz,
                channels=1,
                dtype="int16",
                blocksize=max(1, self.device_sample_rate_hz * self.block_ms // 1000),
                device=self.device_index,
                callback=callback,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            if self._queue is not None:
                self._queue.put(None)
            raise DeviceError(
                f"cannot open input device {self.device_name!r} ({exc}); it may be busy "
                f"(close other programs using it) or unplugged; {_DEVICE_ADVICE}"
            ) from exc
        self._stream = stream
        log.info(
            "capturing from %r at %d Hz%s", self.device_name, self.device_sample_rate_hz,
            f", resampled to {self.sample_rate_hz} Hz" if self.resampling else "",
        )

    def stop(self) -> None:
        """Stop capturing, drain the converter and close the ring buffer. Idempotent."""
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # pragma: no cover - device vanished meanwhile
                log.warning("closing the input stream failed: %s", exc)
        if self._queue is not None and self._converter is not None and self._converter.is_alive():
            self._queue.put(None)
            self._converter.join()
        if self._ring is not None:
            self._ring.close()
        self.finished.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait until :meth:`stop` has finished; re-raise a converter error.

        Returns
        -------
        bool
            True once stopped.
        """
        self.finished.wait(timeout_s)
        if self.error is not None:
            raise self.error
        return self.finished.is_set()


def list_input_devices() -> list[dict[str, Any]]:
    """The input devices PortAudio knows.

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
        PortAudio cannot enumerate devices.
    """
    sd = _import_sounddevice()
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
