"""What ``ser-live`` tells a program reading ``--jsonl``/``--plain`` about the input as it
happens: audio dropped, the input gone silent and back (the dashboard shows the same in its
status panel)."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

from ..audiofile import SAMPLE_RATE_HZ
from ..records import dropped_record, input_record
from ..vad import LEVEL_FLOOR_DBFS

__all__ = ["DROPPED_EVERY_S", "SILENT_AFTER_S", "ZEROS_POLL_GAP_S", "StreamEvents"]

#: Least wall-clock time (s) between two ``dropped`` records: the first loss is reported at
#: once, later ones are added up and reported at most this often (and at the end of the run).
DROPPED_EVERY_S: float = 5.0
#: Stream seconds of exact digital zeros after which the input is reported ``silent``
#: (``reason`` ``"zeros"``): longer than any pause of real speech in a real room, whose
#: quietest samples are not all zero.
SILENT_AFTER_S: float = 3.0
#: Most stream seconds between two polls that both saw zeros for the zeros between them to
#: count as one run: polls further apart (a replay much faster than real time) may have missed
#: sound in between, so the run starts again.
ZEROS_POLL_GAP_S: float = 1.0


class StreamEvents:
    """Turns the recogniser's status, polled by the listening loop, into event records.

    Parameters
    ----------
    dropped_every_s : float, default :data:`DROPPED_EVERY_S`
        Least wall-clock seconds between two ``dropped`` records.
    silent_after_s : float, default :data:`SILENT_AFTER_S`
        Stream seconds of exact zeros before an ``input`` record says ``silent``.
    clock : callable, default ``time.perf_counter``
        Seconds, monotonic.

    Notes
    -----
    Zeros are told by the segmenter's level of its latest 30 ms frame, exactly
    :data:`~ser_live.vad.LEVEL_FLOOR_DBFS` only for a frame of zeros (a single sample of 1 is
    about -117 dBFS), sampled at each poll (4 times a second or more): the input is silent
    from the first poll that saw zeros, and back at the first poll that sees anything else. Two
    polls more than :data:`ZEROS_POLL_GAP_S` of stream apart start the run again, so a replay
    far faster than real time (``--speed 0``) is not said silent on a few samples.
    No audio at all is the microphone's own count (``no_audio_s`` against its
    ``no_audio_warn_s``, the moment it warns on stderr); it overrides zeros while it lasts.
    """

    def __init__(self, *, dropped_every_s: float = DROPPED_EVERY_S, silent_after_s: float = SILENT_AFTER_S,
                 clock: Callable[[], float] = time.perf_counter) -> None:
        self.dropped_every_s = float(dropped_every_s)
        self.silent_after_s = float(silent_after_s)
        self._clock = clock
        self._reported = (0, 0, 0)  # samples, input overflows, utterances already in a record
        self._last_dropped_t = -math.inf
        self._zeros_from_s: float | None = None  # stream time of the first poll that saw zeros
        self._zeros_last_s = 0.0  # and of the latest one
        self._silent: str | None = None  # the reason, while the input is reported silent
        self._silent_from: tuple[float, float] = (0.0, 0.0)  # (stream s, clock s) it began
        self._no_audio_seen = False  # the silence reported had no audio at all in it

    def poll(self, status: Any, *, source: Any = None, final: bool = False) -> list[dict[str, Any]]:
        """The records due now.

        Parameters
        ----------
        status : RecognizerStatus
            :meth:`Recognizer.status <ser_live.pipeline.Recognizer.status>`.
        source : object, optional
            The audio source; a microphone's ``no_audio_s`` and ``no_audio_warn_s`` tell
            that no samples come.
        final : bool, default False
            The run is over: the losses not yet reported are, whatever the time since the
            last record (so the ``dropped`` records add up to the summary's counts), and
            silence is not looked at.

        Returns
        -------
        list of dict
            :func:`~ser_live.records.dropped_record` and
            :func:`~ser_live.records.input_record` records, oldest first (often empty).
        """
        now = self._clock()
        out = []
        totals = (int(status.dropped_samples), int(status.input_overflows), int(status.dropped_utterances))
        new = tuple(t - r for t, r in zip(totals, self._reported))
        if any(new) and (final or now - self._last_dropped_t >= self.dropped_every_s):
            out.append(dropped_record(
                stream_s=status.stream_s, dropped_samples=new[0], input_overflows=new[1], dropped_utterances=new[2],
                total_samples=totals[0], total_input_overflows=totals[1], total_utterances=totals[2],
                sample_rate_hz=SAMPLE_RATE_HZ, perf_t=now,
            ))
            self._reported, self._last_dropped_t = totals, now
        if not final:
            out += self._silence(status, source, now)
        return out

    def _silence(self, status: Any, source: Any, now: float) -> list[dict[str, Any]]:
        stream_s = float(status.stream_s)
        no_audio_s = float(getattr(source, "no_audio_s", 0.0) or 0.0)
        zeros = stream_s > 0 and status.level_dbfs == LEVEL_FLOOR_DBFS
        if not zeros:
            self._zeros_from_s = None
        elif self._zeros_from_s is None or stream_s - self._zeros_last_s > ZEROS_POLL_GAP_S:
            self._zeros_from_s = stream_s
        if zeros:
            self._zeros_last_s = stream_s
        if no_audio_s >= getattr(source, "no_audio_warn_s", math.inf):
            reason, began = "no_audio", (stream_s, now - no_audio_s)
        elif zeros and stream_s - self._zeros_from_s >= self.silent_after_s:
            reason, began = "zeros", (self._zeros_from_s, now - (stream_s - self._zeros_from_s))
        elif zeros and self._silent is not None:
            reason, began = self._silent, self._silent_from  # silent, and still no sound
        else:
            reason, began = None, self._silent_from
        if reason == self._silent:
            return []
        if reason is None:
            since_s, since_t = self._silent_from
            for_s = stream_s - since_s  # no audio does not move the stream: then the wall clock counts
            self._silent = None
            return [input_record(state="back", stream_s=stream_s, perf_t=now,
                                 for_s=max(for_s, now - since_t) if self._no_audio_seen else for_s)]
        if self._silent is None:
            self._silent_from, self._no_audio_seen = began, False
        self._no_audio_seen |= reason == "no_audio"
        self._silent = reason
        for_s = stream_s - began[0] if reason == "zeros" else now - began[1]
        return [input_record(state="silent", reason=reason, stream_s=stream_s, for_s=for_s, perf_t=now)]
