"""Single-producer single-consumer ring buffer of int16 samples, with overrun counting.

The producer is an audio source (a PortAudio callback, or a thread replaying a file); the
consumer is the segmenter thread, which reads fixed-size frames (30 ms). The buffer keeps
**stream time**: every sample the producer offers has a stream index (0, 1, 2, ... since the
stream began, at ``sample_rate_hz``), whether or not it could be stored.

Overrun policy
--------------
When the consumer falls behind and the buffer is full, :meth:`RingBuffer.write` **drops the
new samples that do not fit** (it never waits, and never overwrites unread samples). The
dropped samples still advance the stream clock, so stream indices stay aligned with the
wall clock of the capture. The consumer therefore sees a *gap*: the next
:meth:`RingBuffer.read` returns a block whose start index jumps past the dropped samples
(``last_skipped_samples`` says by how much), and the segmenter treats the discontinuity as
the end of any utterance in progress. Dropping the newest rather than the oldest samples
keeps every stored sample where it was put (the producer never touches unread memory, so no
lock is needed) and keeps the audio before the stall intact for the utterance that was being
cut. Every maximal run of dropped samples counts as one ``overrun_events``; their total is
``overrun_samples`` (``overrun_s`` in seconds).

A block returned by :meth:`read` is always contiguous in stream time: if a gap falls inside
the next ``n`` stored samples, the stored samples before the gap (fewer than ``n``) are
discarded too (counted in ``discarded_samples``) and the read continues after the gap.

Thread safety
-------------
Exactly one producer thread calls :meth:`write` and :meth:`close`; exactly one consumer
thread calls :meth:`read`, :meth:`read_available` and :meth:`arrival_time_of`. No lock is
shared between them: each side owns its own indices (``_stored_w`` for the producer,
``_stored_r`` for the consumer), and under CPython's global interpreter lock an attribute
store of an ``int`` is atomic. The producer copies the samples into free space first and
publishes them afterwards by advancing its index (program order), so a consumer that sees
the new index sees the samples; the consumer copies samples out before advancing its own
index, so the producer never writes into unread space. Gap markers live in a
``collections.deque`` (whose ``append``/``popleft`` are thread-safe). The only
synchronisation objects are two :class:`threading.Event` flags used to wake a *waiting*
consumer (data arrived) or a waiting file replay (room freed); setting an event takes its
internal lock for the time of a flag update, never for the time of a wait.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from typing import Callable

import numpy as np

from .audiofile import SAMPLE_RATE_HZ

__all__ = ["RingBuffer"]

log = logging.getLogger(__name__)


class RingBuffer:
    """Fixed-capacity SPSC ring of int16 samples that never blocks its producer.

    Parameters
    ----------
    capacity_samples : int
        Number of samples the buffer holds (preallocated once), e.g. ``10 * 16000`` for
        10 s at 16 kHz.
    sample_rate_hz : int, default 16000
        Sample rate of the stream (Hz); used to express counts in seconds.
    stamp_log_size : int, default 4096
        Number of writes whose arrival instant is remembered for :meth:`arrival_time_of`
        (4096 writes of 20 ms blocks cover 82 s).

    Attributes
    ----------
    last_skipped_samples : int
        Stream samples skipped between the previous block returned to the consumer and
        the latest one (0 when the stream was continuous).

    Raises
    ------
    ValueError
        ``capacity_samples`` or ``sample_rate_hz`` not positive, ``stamp_log_size`` < 16.

    Notes
    -----
    See the module docstring for the overrun policy (drop the newest samples, keep stream
    time) and the thread-safety contract (one producer thread, one consumer thread).
    """

    def __init__(
        self,
        capacity_samples: int,
        *,
        sample_rate_hz: int = SAMPLE_RATE_HZ,
        stamp_log_size: int = 4096,
    ) -> None:
        capacity_samples = int(capacity_samples)
        if capacity_samples <= 0:
            raise ValueError(f"capacity_samples must be positive, got {capacity_samples}")
        if sample_rate_hz <= 0:
            raise ValueError(f"sample_rate_hz must be positive, got {sample_rate_hz}")
        if stamp_log_size < 16:
            raise ValueError(f"stamp_log_size must be at least 16, got {stamp_log_size}")
        self._cap = capacity_samples
        self._sr = int(sample_rate_hz)
        self._buf = np.zeros(capacity_samples, dtype=np.int16)

        # --- producer-owned state -------------------------------------------------------
        self._stored_w = 0  # samples ever stored (position = _stored_w % capacity)
        self._stream_w = 0  # stream clock: samples ever offered, stored or dropped
        self._gap_pending = False  # samples were dropped since the last stored one
        self._overrun_samples = 0
        self._overrun_events = 0
        self._closed = False
        self._stamp_log_size = int(stamp_log_size)
        self._stamp_end = np.zeros(self._stamp_log_size, dtype=np.int64)
        self._stamp_time = np.zeros(self._stamp_log_size, dtype=np.float64)
        self._n_stamps = 0

        # --- consumer-owned state -------------------------------------------------------
        self._stored_r = 0  # samples ever consumed or discarded from storage
        self._next_stream_r = 0  # stream index that would follow the last block returned
        self._skipped_samples = 0
        self._discarded_samples = 0
        self.last_skipped_samples = 0

        # --- shared ---------------------------------------------------------------------
        # (stored index, stream index) where a contiguous run of stored samples begins.
        # The producer appends one after each gap; the consumer pops the ones it passed.
        self._segments: deque[tuple[int, int]] = deque([(0, 0)])
        self._data_event = threading.Event()
        # samples the waiting consumer needs (read's n): the producer wakes it only once they
        # are stored (or at close), not at every block (a 20 ms block to a 30 ms frame woke
        # it half the time for nothing)
        self._want = 1
        self._space_event = threading.Event()

    # ------------------------------------------------------------------ producer side
    def write(self, block: np.ndarray, *, arrival_time: float | None = None) -> int:
        """Store a block of samples; never waits.

        Samples that do not fit are dropped and counted as an overrun, but still advance
        the stream clock (see the module docstring).

        Parameters
        ----------
        block : np.ndarray, int16, shape (n,)
            Consecutive samples of the stream (any 1-D int16 array or view).
        arrival_time : float, optional
            ``time.perf_counter()`` instant at which the block arrived (seconds); taken now
            when not given.

        Returns
        -------
        int
            Number of samples stored (``n`` minus the samples dropped). After
            :meth:`close` the block is ignored and 0 returned (not counted as an overrun):
            a capture callback still running during shutdown must not raise.
        """
        n = len(block)
        if n == 0 or self._closed:
            return 0
        t = time.perf_counter() if arrival_time is None else arrival_time
        cap = self._cap
        stored_w = self._stored_w
        free = cap - (stored_w - self._stored_r)
        k = n if n <= free else free
        if k > 0:
            if self._gap_pending:
                # Published before the samples so the consumer always sees the marker first.
                self._segments.append((stored_w, self._stream_w))
                self._gap_pending = False
            pos = stored_w % cap
            first = cap - pos
            if k <= first:
                self._buf[pos : pos + k] = block[:k]
            else:
                self._buf[pos:] = block[:first]
                self._buf[: k - first] = block[first:k]
            self._stored_w = stored_w + k  # publish
        if k < n:
            if not self._gap_pending:
                self._overrun_events += 1
                self._gap_pending = True
            self._overrun_samples += n - k
        self._stream_w += n
        slot = self._n_stamps % self._stamp_log_size
        self._stamp_end[slot] = self._stream_w
        self._stamp_time[slot] = t
        self._n_stamps += 1
        if k > 0 and self._stored_w - self._stored_r >= self._want:
            self._data_event.set()
        return k

    def close(self) -> None:
        """Mark the end of the stream (producer side).

        The consumer still reads every whole block left, then :meth:`read` returns None.
        Idempotent.
        """
        self._closed = True
        self._data_event.set()

    def wait_for_room(self, n: int, *, timeout_s: float | None = None) -> bool:
        """Wait until ``n`` samples can be stored without dropping any.

        Only for producers that lose nothing by waiting (a file replayed as fast as
        possible); an audio callback must never call this.

        Parameters
        ----------
        n : int
            Samples needed, at most ``capacity_samples``.
        timeout_s : float, optional
            Longest wait (seconds); forever when None.

        Returns
        -------
        bool
            True when there is room, False on timeout.

        Raises
        ------
        ValueError
            ``n`` exceeds the capacity (there can never be room).
        """
        if n > self._cap:
            raise ValueError(f"{n} samples can never fit a ring of {self._cap} samples")
        return self._wait(self._space_event, lambda: self.free >= n, timeout_s)

    def _wait(self, event: threading.Event, ready: Callable[[], bool], timeout_s: float | None, *,
              want: int | None = None) -> bool:
        """Wait on ``event`` until ``ready()`` (checked again after each clear, so a set
        between the check and the clear is not lost); False after ``timeout_s``. ``want``
        is published as the samples the consumer waits for (see :meth:`write`) before the
        clear."""
        deadline = None if timeout_s is None else time.perf_counter() + timeout_s
        while True:
            if ready():
                return True
            if want is not None:
                self._want = want
            event.clear()
            if ready():
                return True
            if deadline is None:
                event.wait()
            else:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return False
                event.wait(remaining)

    # ------------------------------------------------------------------ consumer side
    def wait_available(self, n: int, *, timeout_s: float | None = None) -> bool:
        """Wait until at least ``n`` samples are stored unread, or the stream is closed;
        nothing is consumed. Consumer side: lets the reader wake once for several frames
        (:func:`ser_live.vad.iter_utterances`) instead of once per frame.

        Parameters
        ----------
        n : int
            Samples wanted, at most ``capacity_samples``.
        timeout_s : float, optional
            Longest wait (seconds); forever when None.

        Returns
        -------
        bool
            True when they are stored (or the ring is closed), False on timeout.

        Raises
        ------
        ValueError
            ``n`` is not in 1..``capacity_samples``.
        """
        if n <= 0 or n > self._cap:
            raise ValueError(f"n must be in 1..{self._cap}, got {n}")
        return self._wait(self._data_event, lambda: self._closed or self._stored_w - self._stored_r >= n, timeout_s,
                          want=n)

    def _locate(self, stored_r: int) -> tuple[int, int | None]:
        """Stream index of stored sample ``stored_r`` and the stored index of the next gap."""
        segs = self._segments
        while len(segs) > 1 and segs[1][0] <= stored_r:
            segs.popleft()
        st0, sm0 = segs[0]
        next_gap = segs[1][0] if len(segs) > 1 else None
        return sm0 + (stored_r - st0), next_gap

    def _copy_out(self, start: int, n: int) -> np.ndarray:
        cap = self._cap
        pos = start % cap
        first = cap - pos
        if n <= first:
            return self._buf[pos : pos + n].copy()
        out = np.empty(n, dtype=np.int16)
        out[:first] = self._buf[pos:]
        out[first:] = self._buf[: n - first]
        return out

    def _consume(self, stream_start: int, n: int) -> np.ndarray:
        out = self._copy_out(self._stored_r, n)
        self._stored_r += n
        self._space_event.set()
        skip = stream_start - self._next_stream_r
        self.last_skipped_samples = skip
        self._skipped_samples += skip
        self._next_stream_r = stream_start + n
        return out

    def _discard(self, n: int) -> None:
        self._stored_r += n
        self._discarded_samples += n
        self._space_event.set()

    def read(self, n: int, *, timeout_s: float | None = None) -> tuple[int, np.ndarray] | None:
        """Take exactly ``n`` consecutive samples, waiting (consumer only) until they arrive.

        Parameters
        ----------
        n : int
            Samples wanted (e.g. 480 for a 30 ms frame at 16 kHz), at most the capacity.
        timeout_s : float, optional
            Longest wait for the samples (seconds); forever when None.

        Returns
        -------
        (int, np.ndarray) or None
            ``(start_sample, samples)``: the stream index of the first sample and an int16
            array of shape ``(n,)``, contiguous in stream time. ``start_sample`` jumps past
            samples lost to an overrun (``last_skipped_samples`` gives the jump). None on
            timeout, or at the end of the stream (after :meth:`close`, once fewer than ``n``
            samples remain; that tail is discarded and :attr:`eof` becomes True).

        Raises
        ------
        ValueError
            ``n`` outside 1..capacity.
        """
        if n <= 0 or n > self._cap:
            raise ValueError(f"n must be in 1..{self._cap}, got {n}")
        deadline = None if timeout_s is None else time.perf_counter() + timeout_s
        while True:
            closed = self._closed  # read before _stored_w: once closed, _stored_w is final
            stored_r = self._stored_r
            avail = self._stored_w - stored_r
            if avail >= n:
                stream_start, next_gap = self._locate(stored_r)
                if next_gap is not None and next_gap < stored_r + n:
                    self._discard(next_gap - stored_r)  # keep blocks contiguous in time
                    continue
                return stream_start, self._consume(stream_start, n)
            if closed:
                if avail > 0:
                    self._discard(avail)
                return None
            if not self.wait_available(n, timeout_s=None if deadline is None else deadline - time.perf_counter()):
                return None

    def read_available(self, max_samples: int | None = None) -> tuple[int, np.ndarray] | None:
        """Take whatever contiguous samples are stored now, without waiting.

        Parameters
        ----------
        max_samples : int, optional
            Take at most this many.

        Returns
        -------
        (int, np.ndarray) or None
            ``(start_sample, samples)`` with int16 ``samples`` of shape ``(k,)``, ``k >= 1``,
            stopping before the next gap; None when nothing is stored.
        """
        stored_r = self._stored_r
        avail = self._stored_w - stored_r
        if avail <= 0:
            return None
        stream_start, next_gap = self._locate(stored_r)
        if next_gap is not None and next_gap < stored_r + avail:
            avail = next_gap - stored_r
        if max_samples is not None:
            avail = min(avail, int(max_samples))
        if avail <= 0:
            return None
        return stream_start, self._consume(stream_start, avail)

    def arrival_time_of(self, sample_index: int) -> float:
        """``perf_counter()`` instant at which a sample entered the buffer.

        That is the arrival time of the write that contained stream sample
        ``sample_index`` (stored or dropped).

        Parameters
        ----------
        sample_index : int
            Stream index of a sample already written.

        Returns
        -------
        float
            Seconds on the ``time.perf_counter()`` clock. For a sample older than the
            stamp log remembers, an estimate extrapolated from the oldest entry at the
            nominal sample rate.

        Raises
        ------
        ValueError
            The sample has not been written yet, or is negative.
        """
        count = self._n_stamps  # snapshot; entries below count are complete
        size = self._stamp_log_size
        ends, times = self._stamp_end, self._stamp_time
        if sample_index < 0 or count == 0 or sample_index >= ends[(count - 1) % size]:
            raise ValueError(f"sample {sample_index} has not been written to the ring yet")
        # Skip a few of the oldest slots: the producer may be overwriting them meanwhile.
        lo = 0 if count <= size else count - size + 8
        hi = count - 1
        if ends[lo % size] <= sample_index:
            # Binary search: smallest k in (lo, hi] with ends[k] > sample_index.
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if ends[mid % size] > sample_index:
                    hi = mid
                else:
                    lo = mid
            return float(times[hi % size])
        if lo == 0:
            return float(times[0])
        # Older than the log: extrapolate from the oldest remembered write.
        return float(times[lo % size] - (ends[lo % size] - 1 - sample_index) / self._sr)

    # ------------------------------------------------------------------ properties
    @property
    def capacity_samples(self) -> int:
        """Samples the buffer holds."""
        return self._cap

    @property
    def sample_rate_hz(self) -> int:
        """Sample rate of the stream (Hz)."""
        return self._sr

    @property
    def available(self) -> int:
        """Samples stored and not yet read (may span a gap)."""
        return self._stored_w - self._stored_r

    @property
    def free(self) -> int:
        """Samples that can be written now without an overrun."""
        return self._cap - (self._stored_w - self._stored_r)

    @property
    def written_samples(self) -> int:
        """Stream clock: samples offered to :meth:`write` so far, stored or dropped."""
        return self._stream_w

    @property
    def written_s(self) -> float:
        """Stream clock in seconds."""
        return self._stream_w / self._sr

    @property
    def stored_samples(self) -> int:
        """Samples actually stored so far (``written_samples - overrun_samples``)."""
        return self._stored_w

    @property
    def overrun_samples(self) -> int:
        """Samples dropped because the buffer was full."""
        return self._overrun_samples

    @property
    def overrun_s(self) -> float:
        """Audio dropped because the buffer was full (seconds)."""
        return self._overrun_samples / self._sr

    @property
    def overrun_events(self) -> int:
        """Number of separate runs of dropped samples (gaps the consumer will meet)."""
        return self._overrun_events

    @property
    def skipped_samples(self) -> int:
        """Stream samples the consumer has jumped over so far (dropped or discarded)."""
        return self._skipped_samples

    @property
    def discarded_samples(self) -> int:
        """Stored samples thrown away by the consumer side: pieces shorter than a read
        before a gap, and the tail shorter than a read at the end of the stream."""
        return self._discarded_samples

    @property
    def closed(self) -> bool:
        """True once the producer called :meth:`close`."""
        return self._closed

    @property
    def eof(self) -> bool:
        """True once the stream is closed and everything stored has been consumed."""
        return self._closed and self._stored_w == self._stored_r

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return (
            f"RingBuffer(capacity={self._cap}, written={self._stream_w}, "
            f"available={self.available}, overrun={self._overrun_samples}, closed={self._closed})"
        )

