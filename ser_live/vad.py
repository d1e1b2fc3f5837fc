"""Voice activity detection: 30 ms int16 frames in, utterances out.

:class:`Segmenter` runs the WebRTC VAD [1]_ on every frame and turns its voiced/unvoiced
decisions into utterances with start and end hysteresis, pre-roll, hangover and minimum and
maximum lengths, all set by one :class:`VadConfig`. The same segmenter serves the live
stream (frame by frame from the ring buffer, :func:`iter_utterances`) and whole arrays
(:func:`segment_signal`, :func:`speech_span`), so a file cut offline and the same samples
heard live give identical boundaries, and training audio is trimmed exactly as live audio
is.

The rules, with ``W``, ``P``, ``H`` the start window, pre-roll and hangover in frames
(milliseconds are rounded to whole frames):

* **start**: in silence, an utterance starts when at least ``ceil(start_ratio * W)`` of the
  last ``W`` frames are voiced. Its first sample is ``P`` frames before the first voiced
  frame of that window (fewer if the stream, the previous utterance or a gap is closer).
* **end**: in speech, the utterance ends after the frame at which at least
  ``ceil(end_ratio * H)`` of the last ``H`` frames (counted from the onset) are unvoiced;
  that window is the hangover and stays in the utterance. With ``end_ratio = 1`` exactly
  ``hangover_ms`` of silence follows the last voiced frame; below 1 a stray voiced frame in
  the silence (a click, a noise burst) does not hold the utterance open.
* **minimum**: the *speech span*, from the onset (first voiced frame) to the end of the last
  voiced frame, pre-roll and hangover excluded, must last ``min_utterance_s``; shorter
  bursts are dropped and counted in ``dropped_short``.
* **maximum**: an utterance reaching ``max_utterance_s`` (pre-roll included) is closed with
  ``cut_at_max=True`` and the next segment begins at the very next sample, still in speech
  (no sample lost). The minimum rule applies to every segment, so a tail shorter than
  ``min_utterance_s`` of speech after a cut is dropped.
* **level gate**: a frame the VAD calls voiced counts as voiced only if its RMS level is at
  least ``gate_margin_db`` above the tracked noise floor and at least ``min_speech_dbfs``
  (see :class:`VadConfig`); the floor is a low percentile of the frame levels of the last
  ``noise_window_s``, the current frame included.
* **VAD input gain**: the WebRTC VAD is not level-invariant (quiet speech loses its soft
  onsets and endings, so pauses between words grow past the hangover and sentences split).
  The VAD therefore hears each frame amplified by ``vad_target_dbfs`` minus the loud-frame
  level of the last 3 s of voiced frames (:data:`VOICED_HISTORY_S`), clipped to
  ``[0, max_vad_gain_db]`` dB and to int16 full scale; 0 dB until a first frame is voiced,
  and 0 dB for speech at or above ``vad_target_dbfs``. Only the VAD hears the gain: levels,
  the noise floor, the gate and the emitted samples are those of the input.
  :func:`speech_span` (the trimming of training files) runs without it.
* **gaps**: frames must follow each other (``start_sample`` advancing by one frame). When
  samples are missing (an overrun of the ring buffer), the missing audio is treated as the
  end of the utterance in progress: it is closed at the last sample received (the minimum
  rule applies), the detector returns to silence, and pre-roll never reaches across the gap.
  An utterance thus never contains a discontinuity.

References
----------
.. [1] WebRTC voice activity detector (Google), via the ``webrtcvad`` Python binding by
   J. Wiseman (maintained wheels: ``webrtcvad-wheels``): Gaussian-mixture speech/noise model
   on six sub-bands, frames of 10, 20 or 30 ms at 8, 16, 32 or 48 kHz, aggressiveness 0-3.
.. [2] R. Martin, "Noise power spectral density estimation based on optimal smoothing and
   minimum statistics", IEEE Trans. Speech and Audio Processing 9(5), 2001: the noise level
   is tracked as a minimum (here a low percentile) of the signal level over a window of a
   few seconds, long enough to span a pause.
"""

from __future__ import annotations

import argparse
import bisect
import logging
import math
import time
from collections import deque
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Callable, Iterator

import numpy as np
import webrtcvad

from .audiofile import SAMPLE_RATE_HZ, to_float32, to_int16
from .levels import LOUD_FRAME_PERCENTILE, loud_frame_level
from .types import Utterance

if TYPE_CHECKING:  # pragma: no cover
    import threading

    from numpy.typing import ArrayLike

    from .ringbuffer import RingBuffer

__all__ = [
    "VadConfig",
    "Segmenter",
    "segment_signal",
    "speech_span",
    "iter_utterances",
    "add_vad_arguments",
    "vad_config_from_args",
    "LEVEL_FLOOR_DBFS",
    "CLIP_WINDOW_S",
    "PartialConfig",
    "InProgressTap",
    "VOICED_HISTORY_S",
    "TRIM_IGNORED_FIELDS",
    "trim_settings",
    "MAX_FLOAT_PEAK",
    "check_signal",
    "resample_signal",
]

log = logging.getLogger(__name__)

#: Level reported for a digitally silent frame (dBFS).
LEVEL_FLOOR_DBFS: float = -100.0

#: Window (s) over which :attr:`Segmenter.clipped_fraction` counts full-scale samples.
CLIP_WINDOW_S: float = 1.0

#: Most frames :func:`iter_utterances` lets accumulate in the ring buffer before it wakes, when
#: none of them could close an utterance (:meth:`Segmenter.frames_before_close`): 4 frames of
#: 30 ms, one wake-up per 120 ms instead of one per capture block. Each wake-up of a Python
#: thread costs more CPU than the frame's own work (docs/performance.md, round 6).
FRAMES_PER_WAKE: int = 4

_VAD_RATES_HZ = (8000, 16000, 32000, 48000)
_FULL_SCALE_SQ = 32768.0 * 32768.0
#: Voiced frames (s) whose loud-frame level sets the VAD input gain (module docstring).
VOICED_HISTORY_S: float = 3.0
#: Highest peak (full scale = 1) float audio may reach; above it the samples are refused as not
#: in [-1, 1] (int16-range values, ``y * 32768``, passed as float by mistake). Decoders and
#: resamplers overshoot full scale on clipped speech: es_uem's Ogg Opus files read with soundfile
#: (float32) peak at up to 1.11 (30 of 749 files above 1), resampled with soxr to 8-48 kHz at up
#: to 1.13; they are taken (clipped where converted to int16). int16-range speech peaks far
#: above 2 (about 33 even at -60 dBFS).
MAX_FLOAT_PEAK: float = 2.0
#: :class:`VadConfig` fields that do not change :func:`speech_span` (it runs without the VAD
#: input gain), left out of the keys of caches of trimmed training audio (:func:`trim_settings`).
TRIM_IGNORED_FIELDS: tuple[str, ...] = ("vad_target_dbfs", "max_vad_gain_db")


class _SlidingOrderStatistic:
    """The last ``size`` values pushed, kept sorted, and their order statistics.

    What ``np.partition(window, k)[k]`` gives for the window of the last ``size`` values,
    the same float, at a bisection per value instead of a pass over the window (the
    segmenter takes one per 30 ms frame, over windows of up to 333 levels).

    Parameters
    ----------
    size : int
        Window length (values), at least 1.
    """

    __slots__ = ("_ring", "_n", "_sorted")

    def __init__(self, size: int) -> None:
        self._ring = [0.0] * max(1, int(size))
        self._n = 0
        self._sorted: list[float] = []

    def push(self, value: float) -> None:
        """Add ``value`` (a finite float), dropping the oldest once the window is full."""
        ring, slot = self._ring, self._n % len(self._ring)
        if self._n >= len(ring):
            del self._sorted[bisect.bisect_left(self._sorted, ring[slot])]
        ring[slot] = value = float(value)
        bisect.insort(self._sorted, value)
        self._n += 1

    def at_percentile(self, percentile: float) -> float:
        """The ``k``-th smallest value of the window, ``k = int(percentile / 100 * (n - 1) +
        0.5)`` for ``n`` values in it (at least one pushed)."""
        n = len(self._sorted)
        return self._sorted[int(percentile / 100.0 * (n - 1) + 0.5)]


@dataclass
class VadConfig:
    """All parameters of voice activity detection and utterance cutting.

    Defaults suit both acted studio speech (RAVDESS, TESS, EmoDB: one sentence of 1.5-3 s
    between silences) and a laptop microphone in a room:

    * ``aggressiveness=2``: mode 3 clips soft onsets and endings (fricatives, sad or calm
      low-level speech); modes 0-1 fire on fan and keyboard noise of laptop microphones.
    * ``frame_ms=30``: the VAD's most reliable frame length and the fewest calls.
    * ``start_window_ms=150``, ``start_ratio=0.6``: 3 voiced frames out of 5 start speech,
      so a key click (1-2 frames) does not, while a real onset is caught within ~100 ms.
    * ``preroll_ms=300``: the VAD fires only once voicing is strong; unvoiced onsets (the
      /k/ of "Kids", the breath before a phrase) lie up to a few hundred ms before.
    * ``hangover_ms=400``, ``end_ratio=0.9``: pauses between words and stop closures are
      shorter than 400 ms, so a sentence stays one utterance, yet the end is declared
      within half a second of silence (the end-of-speech latency); one stray voiced frame
      in 13 does not hold it open.
    * ``min_utterance_s=0.5``: emotion statistics pooled over less than half a second of
      speech are unreliable, and coughs, clicks and "mm" are shorter.
    * ``max_utterance_s=8.0``: the training utterances are 1.5-5 s; during a monologue a
      result appears at least every 8 s.
    * ``noise_window_s=10``, ``noise_percentile=10``, ``gate_margin_db=3``,
      ``min_speech_dbfs=-80``: the **level gate**. Once it has heard speech, the WebRTC VAD
      calls stationary noise "speech" (white and pink noise from about -75 dBFS, and after a
      few minutes of a session even digital silence: ``python -m benchmarks.vad_noise
      --gate-margin-db 0 --min-speech-dbfs -200`` shows it), so an utterance would run to
      the maximum length. A frame therefore counts as voiced only when the VAD says so
      *and* its RMS level is at least ``gate_margin_db`` above the tracked noise floor and
      above ``min_speech_dbfs``. The floor is the ``noise_percentile``-th percentile of the
      frame levels of the last ``noise_window_s`` (minimum statistics, Martin [2]_, with a
      low percentile instead of the minimum so a single dropout does not pull it down):
      pauses fill more than a tenth of any 10 s of conversation, so the floor follows the
      room, not the voice. The values were chosen on ``python -m benchmarks.vad_noise``
      (40 corpus utterances in white, pink and brown noise and in digital silence): a 6 dB
      margin gated the soft ends of words at 10 dB SNR and split utterances (35 of 40
      matched), 3 dB matched 39; -80 dBFS keeps a -35 dBFS-peak speaker's soft frames and
      stops the VAD calling digital silence (-100 dBFS) speech.
    * ``vad_target_dbfs=-26``, ``max_vad_gain_db=12``: the **VAD input gain** (module
      docstring). At -40 dBFS the WebRTC VAD drops the soft first and last frames of words
      that it keeps at -20 dBFS, so pauses inside a sentence outgrow the hangover: live, 10
      EmoDB speakers (188 sentences, 1 s pauses, over digital silence) gave 214 results at
      -40 dBFS against 194 at -20 dBFS; with the gain 199 (``python -m
      benchmarks.live_offline``, docs/experiments.md). Speech louder than -26 dBFS (the
      level ``benchmarks.vad_noise`` speaks at) is not touched. Over a noise floor the
      splits are the floor masking the soft parts of words (a real pause for any VAD), and
      the gain changes little.
      12 dB, not 20: a -35 dBFS-peak speaker over pink noise at -60 dBFS got, at 15-20 dB,
      one utterance that started in a pause (the amplified noise) and ran into the next
      sentence; at 12 dB none. ``max_vad_gain_db=0`` is the segmenter before the gain.

    Every millisecond value is rounded to whole frames. Each field is also a command-line
    option (:func:`add_vad_arguments`): ``--hangover-ms`` etc.
    """

    aggressiveness: int = field(
        default=2,
        metadata={"help": "WebRTC VAD aggressiveness, 0 (lenient) .. 3 (strict)"},
    )
    frame_ms: int = field(
        default=30, metadata={"help": "VAD frame length in milliseconds: 10, 20 or 30"}
    )
    start_window_ms: int = field(
        default=150,
        metadata={"help": "window (ms) over which voiced frames are counted to start speech"},
    )
    start_ratio: float = field(
        default=0.6,
        metadata={"help": "fraction (0-1] of voiced frames in the start window that starts speech"},
    )
    end_ratio: float = field(
        default=0.9,
        metadata={"help": "fraction (0-1] of unvoiced frames in the last hangover window that ends speech"},
    )
    preroll_ms: int = field(
        default=300,
        metadata={"help": "audio (ms) kept before the first voiced frame"},
    )
    hangover_ms: int = field(
        default=400,
        metadata={"help": "silence (ms) that ends an utterance, kept after its last voiced frame"},
    )
    min_utterance_s: float = field(
        default=0.5,
        metadata={"help": "shortest speech (s, first to last voiced frame) kept; shorter bursts are dropped"},
    )
    max_utterance_s: float = field(
        default=8.0,
        metadata={"help": "longest utterance (s); longer speech is cut into consecutive segments"},
    )
    noise_window_s: float = field(
        default=10.0,
        metadata={"help": "history (s) of frame levels over which the noise floor is tracked"},
    )
    noise_percentile: float = field(
        default=10.0,
        metadata={"help": "percentile (0-100) of the frame levels in the noise window taken as the noise floor"},
    )
    gate_margin_db: float = field(
        default=3.0,
        metadata={"help": "a frame is voiced only if its level is this many dB above the noise floor"},
    )
    min_speech_dbfs: float = field(
        default=-80.0,
        metadata={"help": "a frame quieter than this (dBFS RMS) is never voiced; also the gate in digital silence"},
    )
    vad_target_dbfs: float = field(
        default=-26.0,
        metadata={"help": "speech quieter than this (dBFS, loud-frame) is amplified for the WebRTC VAD only"},
    )
    max_vad_gain_db: float = field(
        default=12.0,
        metadata={"help": "most gain (dB) the WebRTC VAD's input gets for quiet speech; 0 turns it off"},
    )

    def validate(self) -> "VadConfig":
        """Check every field; return ``self``.

        Raises
        ------
        ValueError
            A field is out of range; the message names the option and the valid range.
        """
        errors = []
        if self.aggressiveness not in (0, 1, 2, 3):
            errors.append(f"aggressiveness must be 0, 1, 2 or 3 (got {self.aggressiveness})")
        if self.frame_ms not in (10, 20, 30):
            errors.append(f"frame_ms must be 10, 20 or 30, the frame lengths the WebRTC VAD takes (got {self.frame_ms})")
        if self.start_window_ms < max(self.frame_ms, 1):
            errors.append(f"start_window_ms must be at least one frame ({self.frame_ms} ms) (got {self.start_window_ms})")
        if not 0.0 < self.start_ratio <= 1.0:
            errors.append(f"start_ratio must be in (0, 1] (got {self.start_ratio})")
        if not 0.0 < self.end_ratio <= 1.0:
            errors.append(f"end_ratio must be in (0, 1] (got {self.end_ratio})")
        if self.preroll_ms < 0:
            errors.append(f"preroll_ms must be >= 0 (got {self.preroll_ms})")
        if self.hangover_ms < max(self.frame_ms, 1):
            errors.append(f"hangover_ms must be at least one frame ({self.frame_ms} ms) (got {self.hangover_ms})")
        if not self.min_utterance_s >= 0.0:
            errors.append(f"min_utterance_s must be >= 0 (got {self.min_utterance_s})")
        floor_s = (self.preroll_ms + self.start_window_ms + self.frame_ms) / 1000.0
        if not self.max_utterance_s > floor_s:
            errors.append(
                f"max_utterance_s must exceed pre-roll + start window + one frame = {floor_s:g} s "
                f"(got {self.max_utterance_s})"
            )
        elif self.frame_ms in (10, 20, 30) and math.isfinite(self.max_utterance_s) and self.min_utterance_s >= 0.0:
            # An utterance is cut at the last whole frame within max_utterance_s, and a cut
            # segment's speech span is at most its length: when that is below min_utterance_s
            # every segment is dropped as too short and nothing is ever classified.
            # (the Segmenter's own arithmetic at the library's rate)
            frame_length = SAMPLE_RATE_HZ * self.frame_ms // 1000
            max_frames = int(self.max_utterance_s * SAMPLE_RATE_HZ) // frame_length
            min_samples = round(self.min_utterance_s * SAMPLE_RATE_HZ)
            need_frames = -(-min_samples // frame_length)
            if max_frames < need_frames:
                errors.append(
                    f"max_utterance_s ({self.max_utterance_s:g}) must hold min_utterance_s "
                    f"({self.min_utterance_s:g}) of speech in whole {self.frame_ms} ms frames (it holds "
                    f"{max_frames * self.frame_ms / 1000.0:g} s; at least {need_frames * self.frame_ms / 1000.0:g}): "
                    "else every utterance is dropped as too short"
                )
        if not self.noise_window_s >= self.frame_ms / 1000.0:
            errors.append(f"noise_window_s must be at least one frame ({self.frame_ms} ms) (got {self.noise_window_s})")
        if not 0.0 <= self.noise_percentile <= 100.0:
            errors.append(f"noise_percentile must be in [0, 100] (got {self.noise_percentile})")
        if not math.isfinite(self.gate_margin_db):
            errors.append(f"gate_margin_db must be finite (got {self.gate_margin_db})")
        if not math.isfinite(self.min_speech_dbfs):
            errors.append(f"min_speech_dbfs must be finite (got {self.min_speech_dbfs})")
        if not math.isfinite(self.vad_target_dbfs):
            errors.append(f"vad_target_dbfs must be finite (got {self.vad_target_dbfs})")
        if not 0.0 <= self.max_vad_gain_db <= 60.0:
            errors.append(f"max_vad_gain_db must be in [0, 60] (got {self.max_vad_gain_db})")
        if errors:
            raise ValueError("invalid VAD settings: " + "; ".join(errors))
        return self


class Segmenter:
    """Streaming utterance cutter: one int16 frame at a time in, utterances out.

    Parameters
    ----------
    config : VadConfig, optional
        Detection and cutting parameters (validated here); defaults when None.
    sample_rate_hz : int, default 16000
        Sample rate of the frames: 8000, 16000, 32000 or 48000 Hz (the VAD's rates).

    Attributes
    ----------
    state : str
        ``"silence"`` or ``"speech"`` after the last frame.
    level_dbfs : float
        RMS level of the last frame in dB relative to full scale (``LEVEL_FLOOR_DBFS`` for
        digital silence), for a level meter.
    n_frames, n_voiced_frames : int
        Frames processed, and those the VAD called voiced.
    n_utterances : int
        Utterances emitted (also the ``index`` the next one gets).
    dropped_short : int
        Segments dropped because their speech span was shorter than ``min_utterance_s``.
    n_gaps, gap_samples : int
        Discontinuities met in ``start_sample`` and the samples they skipped.
    noise_floor_dbfs : float
        Tracked noise floor (dBFS): the ``noise_percentile``-th percentile of the frame
        levels of the last ``noise_window_s`` (``LEVEL_FLOOR_DBFS`` before the first frame).
    n_gated_frames : int
        Frames the VAD called voiced that the level gate turned unvoiced.
    clipped_fraction : float
        Fraction (0-1) of the samples of the last second (:data:`CLIP_WINDOW_S`) at int16
        full scale (+32767 or -32768): the input is clipping when it is above about 0.001.
    speech_level_dbfs : float
        Loud-frame level of the last utterance emitted: the 90th percentile of its voiced
        frames' RMS levels (dBFS); ``LEVEL_FLOOR_DBFS`` before the first utterance.
    vad_gain_db : float
        Gain (dB, 0 to ``max_vad_gain_db``) the WebRTC VAD hears the next frame with (the
        VAD input gain, module docstring).

    Raises
    ------
    ValueError
        Invalid configuration or sample rate.

    Notes
    -----
    Per frame the work is one VAD call (microseconds), an RMS and a few deque updates;
    samples are concatenated only when an utterance closes. The rules are in the module
    docstring.
    """

    def __init__(self, config: VadConfig | None = None, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        cfg = replace(config) if config is not None else VadConfig()
        cfg.validate()
        if sample_rate_hz not in _VAD_RATES_HZ:
            raise ValueError(
                f"sample_rate_hz must be one of {_VAD_RATES_HZ} for the WebRTC VAD (got {sample_rate_hz})"
            )
        self.config = cfg
        self.sample_rate_hz = int(sample_rate_hz)
        self.frame_length = self.sample_rate_hz * cfg.frame_ms // 1000
        self._window_frames = max(1, round(cfg.start_window_ms / cfg.frame_ms))
        self._start_need = max(1, math.ceil(cfg.start_ratio * self._window_frames - 1e-9))
        self._hang_frames = max(1, round(cfg.hangover_ms / cfg.frame_ms))
        self._end_need = max(1, math.ceil(cfg.end_ratio * self._hang_frames - 1e-9))
        self._preroll_frames = max(0, round(cfg.preroll_ms / cfg.frame_ms))
        self._min_samples = round(cfg.min_utterance_s * self.sample_rate_hz)
        self._max_frames = (
            math.inf
            if math.isinf(cfg.max_utterance_s)
            else int(cfg.max_utterance_s * self.sample_rate_hz) // self.frame_length
        )
        self._vad = webrtcvad.Vad(cfg.aggressiveness)
        # level gate: ring of the last noise_window_s frame levels (dBFS)
        self._levels = _SlidingOrderStatistic(round(cfg.noise_window_s * 1000.0 / cfg.frame_ms))
        self._clip_counts: deque[int] = deque(maxlen=max(1, round(CLIP_WINDOW_S * 1000.0 / cfg.frame_ms)))
        self._clip_total = 0
        self._utt_levels: list[float] = []
        # VAD input gain: levels (dBFS) of the last voiced frames
        self._voiced_levels = _SlidingOrderStatistic(round(VOICED_HISTORY_S * 1000.0 / cfg.frame_ms))
        self.vad_gain_db = 0.0

        self.state = "silence"
        self.level_dbfs = LEVEL_FLOOR_DBFS
        self.n_frames = 0
        self.n_voiced_frames = 0
        self.n_utterances = 0
        self.dropped_short = 0
        self.n_gaps = 0
        self.gap_samples = 0
        self.noise_floor_dbfs = LEVEL_FLOOR_DBFS
        self.n_gated_frames = 0
        self.clipped_fraction = 0.0
        self.speech_level_dbfs = LEVEL_FLOOR_DBFS
        self._next_sample: int | None = None

        # silence state: recent frames for pre-roll, and the start window's decisions
        self._hist: deque[tuple[int, np.ndarray, bool, float]] = deque(
            maxlen=self._preroll_frames + self._window_frames
        )
        self._start_win: deque[bool] = deque()
        self._start_count = 0
        # speech state
        self._frames: list[np.ndarray] = []
        self._utt_start = 0
        self._onset = 0
        self._last_voiced_end: int | None = None
        self._last_voiced_time = 0.0
        self._end_win: deque[bool] = deque()
        self._end_voiced = 0

    # ------------------------------------------------------------------ helpers
    @property
    def frame_s(self) -> float:
        """Frame length in seconds."""
        return self.frame_length / self.sample_rate_hz

    def _reset_silence(self) -> None:
        self._hist.clear()
        self._start_win.clear()
        self._start_count = 0

    def _track_level(self, frame: np.ndarray) -> bool:
        """Update level, noise floor and clipping from one frame; True if it passes the gate."""
        cfg = self.config
        fl = self.frame_length
        x = frame.astype(np.float32)
        ms = float(np.dot(x, x))
        level = 10.0 * math.log10(ms / (fl * _FULL_SCALE_SQ)) if ms > 0.0 else LEVEL_FLOOR_DBFS
        self.level_dbfs = level
        self._levels.push(level)
        self.noise_floor_dbfs = self._levels.at_percentile(cfg.noise_percentile)
        clipped = int(np.count_nonzero((frame >= 32767) | (frame <= -32768))) \
            if frame.max() >= 32767 or frame.min() <= -32768 else 0
        cc = self._clip_counts
        if len(cc) == cc.maxlen:
            self._clip_total -= cc[0]
        cc.append(clipped)
        self._clip_total += clipped
        self.clipped_fraction = self._clip_total / (len(cc) * fl)
        return level >= cfg.min_speech_dbfs and level >= self.noise_floor_dbfs + cfg.gate_margin_db

    def _track_vad_gain(self, level: float) -> None:
        """Add a voiced frame's level (dBFS); set :attr:`vad_gain_db` from the loud-frame
        level of the last :data:`VOICED_HISTORY_S` of voiced frames."""
        cfg = self.config
        self._voiced_levels.push(level)
        est = self._voiced_levels.at_percentile(LOUD_FRAME_PERCENTILE)
        self.vad_gain_db = min(cfg.max_vad_gain_db, max(0.0, cfg.vad_target_dbfs - est))

    def _close(self, end_sample: int, *, cut_at_max: bool) -> list[Utterance]:
        frames = self._frames
        self._frames = []
        levels = self._utt_levels
        self._utt_levels = []
        lv = self._last_voiced_end
        if lv is None or lv - self._onset < self._min_samples:
            self.dropped_short += 1
            return []
        if levels:
            self.speech_level_dbfs = loud_frame_level(levels)
        samples = frames[0].copy() if len(frames) == 1 else np.concatenate(frames)
        utt = Utterance(
            index=self.n_utterances,
            samples=samples,
            start_sample=self._utt_start,
            end_sample=end_sample,
            last_voiced_sample=lv,
            sample_rate_hz=self.sample_rate_hz,
            last_voiced_time=self._last_voiced_time,
            closed_time=time.perf_counter(),
            cut_at_max=cut_at_max,
        )
        self.n_utterances += 1
        return [utt]

    # ------------------------------------------------------------------ API
    def process_frame(
        self, frame: np.ndarray, start_sample: int, *, arrival_time: float | None = None
    ) -> list[Utterance]:
        """Feed one frame.

        Parameters
        ----------
        frame : np.ndarray, int16, shape (frame_length,)
            ``frame_ms`` of audio at ``sample_rate_hz``; kept by reference (not copied)
            until the utterance closes, so the caller must not reuse its memory.
        start_sample : int
            Stream index of the frame's first sample. A jump past the end of the previous
            frame is a gap (see the module docstring).
        arrival_time : float, optional
            ``perf_counter()`` instant the frame's last sample entered the ring buffer
            (``RingBuffer.arrival_time_of``); the time of this call when None.

        Returns
        -------
        list of Utterance
            Utterances closed by this frame (usually none, at most two after a gap).

        Raises
        ------
        ValueError
            Wrong frame length or dtype, or ``start_sample`` going backwards.
        """
        fl = self.frame_length
        if frame.dtype != np.int16 or frame.shape != (fl,):
            raise ValueError(
                f"frame must be int16 of shape ({fl},), got {frame.dtype} {frame.shape}"
            )
        out: list[Utterance] = []
        nxt = self._next_sample
        if nxt is not None and start_sample != nxt:
            if start_sample < nxt:
                raise ValueError(f"frame starts at sample {start_sample}, before the previous frame's end {nxt}")
            self.n_gaps += 1
            self.gap_samples += start_sample - nxt
            if self.state == "speech":
                out += self._close(nxt, cut_at_max=False)
                self.state = "silence"
            self._reset_silence()
        self._next_sample = end = start_sample + fl

        loud = self._track_level(frame)
        # The VAD hears every frame, gated or not, so its adaptation does not depend on the gate.
        heard = frame
        if self.vad_gain_db > 0.0:
            g = 10.0 ** (self.vad_gain_db / 20.0)
            heard = np.clip(frame.astype(np.float32) * np.float32(g), -32768.0, 32767.0).astype(np.int16)
        voiced = self._vad.is_speech(heard.tobytes(), self.sample_rate_hz, fl)
        if voiced and not loud:
            self.n_gated_frames += 1
            voiced = False
        if voiced and self.config.max_vad_gain_db > 0.0:
            self._track_vad_gain(self.level_dbfs)
        self.n_frames += 1
        if voiced:
            self.n_voiced_frames += 1
        if arrival_time is None:
            arrival_time = time.perf_counter()

        if self.state == "silence":
            self._hist.append((start_sample, frame, voiced, self.level_dbfs))
            win = self._start_win
            if len(win) == self._window_frames:
                self._start_count -= win.popleft()
            win.append(voiced)
            self._start_count += voiced
            if self._start_count >= self._start_need:
                self._begin(end, arrival_time)
        else:
            self._frames.append(frame)
            ew = self._end_win
            if len(ew) == self._hang_frames:
                self._end_voiced -= ew.popleft()
            ew.append(voiced)
            self._end_voiced += voiced
            if voiced:
                self._last_voiced_end = end
                self._last_voiced_time = arrival_time
                self._utt_levels.append(self.level_dbfs)
            if len(ew) == self._hang_frames and len(ew) - self._end_voiced >= self._end_need:
                out += self._close(end, cut_at_max=False)
                self.state = "silence"
                self._reset_silence()
            elif len(self._frames) >= self._max_frames:
                out += self._close(end, cut_at_max=True)
                # Continue seamlessly: the next segment starts at the next sample, in speech.
                self._utt_start = self._onset = end
                self._last_voiced_end = None
        return out

    def _begin(self, end: int, arrival_time: float) -> None:
        """Silence -> speech on the current (voiced) frame, whose end is ``end``."""
        hist = list(self._hist)
        first_win = len(hist) - len(self._start_win)
        onset_i = next(i for i in range(first_win, len(hist)) if hist[i][2])
        first_i = max(0, onset_i - self._preroll_frames)
        self._frames = [h[1] for h in hist[first_i:]]
        self._utt_start = hist[first_i][0]
        self._onset = hist[onset_i][0]
        self._last_voiced_end = end  # the trigger frame is voiced
        self._last_voiced_time = arrival_time
        self._end_win = deque(h[2] for h in hist[onset_i:])
        while len(self._end_win) > self._hang_frames:
            self._end_win.popleft()
        self._end_voiced = sum(self._end_win)
        self._utt_levels = [h[3] for h in hist[onset_i:] if h[2]]
        self._reset_silence()
        self.state = "speech"
        if len(self._frames) >= self._max_frames:  # pragma: no cover - validate() prevents it
            raise AssertionError("max_utterance_s shorter than pre-roll + start window")

    @property
    def position_sample(self) -> int:
        """Stream index one past the last frame fed (0 before the first)."""
        return self._next_sample if self._next_sample is not None else 0

    @property
    def onset_sample(self) -> int | None:
        """Stream index of the onset of the utterance in progress (its first voiced frame,
        or the cut when it follows a segment cut at the maximum length); None in silence."""
        return self._onset if self.state == "speech" else None

    @property
    def speech_in_progress_s(self) -> float:
        """Speech so far of the utterance in progress (s): from its onset (first voiced
        frame, or the cut when it follows a segment cut at the maximum length) to the end of
        the last frame fed; 0.0 in silence."""
        if self.state != "speech" or self._next_sample is None:
            return 0.0
        return (self._next_sample - self._onset) / self.sample_rate_hz

    @property
    def unvoiced_tail_s(self) -> float:
        """Time (s) since the end of the last voiced frame of the utterance in progress (the
        hangover counting down); 0.0 in silence or right after a voiced frame."""
        if self.state != "speech" or self._next_sample is None:
            return 0.0
        last = self._last_voiced_end if self._last_voiced_end is not None else self._onset
        return (self._next_sample - last) / self.sample_rate_hz

    def frames_before_close(self) -> int:
        """How many more frames can be fed with none of them closing an utterance, whatever
        the VAD decides on them (a lower bound, from the state alone; it assumes no gap in
        the stream, which closes at the next frame).

        In speech the end window must fill to ``hangover_ms`` with at least ``end_ratio`` of
        it unvoiced (the frames to come counted unvoiced, the earliest case), or the
        utterance reach ``max_utterance_s``. In silence an utterance must first begin (the
        start window needs ``start_ratio`` of voiced frames) and its end window, which holds
        at most the start window's frames when it begins, fill to ``hangover_ms``.

        Returns
        -------
        int
            Frames (>= 0): 0 when the next frame may close an utterance; at most the frames
            to a beginning plus ``hangover_ms / frame_ms``.
        """
        H = self._hang_frames
        allow = H - self._end_need  # voiced frames an ending window may still hold
        if self.state == "silence":
            begin = max(1, self._start_need - self._start_count)  # each frame adds <= 1 voiced
            after = max(1, H - min(self._window_frames, H))
            if not math.isinf(self._max_frames):
                after = min(after, max(1, self._max_frames - (self._preroll_frames + self._window_frames)))
            return begin + after - 1
        # after k more (unvoiced) frames the window keeps today's last H - k entries; their
        # voiced count only grows with how many are kept, so the earliest possible close keeps
        # the most entries whose voiced count is still within ``allow`` (none kept: k = H)
        kept, voiced = 0, 0
        for v in reversed(self._end_win):
            if kept == H - 1 or voiced + v > allow:
                break
            kept, voiced = kept + 1, voiced + v
        first = H - kept
        if not math.isinf(self._max_frames):
            first = min(first, max(1, int(self._max_frames) - len(self._frames)))
        return first - 1

    def in_progress(self) -> Utterance | None:
        """A snapshot of the utterance in progress, for a provisional estimate.

        Returns
        -------
        Utterance or None
            None in silence. Otherwise the audio heard so far of the utterance that will be
            emitted next: ``index`` is the index it will get, ``samples`` (int16, a copy of
            shape ``(end_sample - start_sample,)``) run from its first sample (pre-roll
            included) to the end of the last frame fed, so they are a prefix of the final
            utterance's samples; ``closed_time`` is the time of this call. The segmenter's
            state is not changed.

        Notes
        -----
        Costs one concatenation of the frames so far (at most ``max_utterance_s`` of audio,
        256 kB at the defaults); meant to be called about once a second, not per frame.
        """
        if self.state != "speech" or not self._frames or self._next_sample is None:
            return None
        samples = np.concatenate(self._frames)
        lv = self._last_voiced_end if self._last_voiced_end is not None else self._next_sample
        return Utterance(
            index=self.n_utterances,
            samples=samples,
            start_sample=self._utt_start,
            end_sample=self._utt_start + len(samples),
            last_voiced_sample=lv,
            sample_rate_hz=self.sample_rate_hz,
            last_voiced_time=self._last_voiced_time,
            closed_time=time.perf_counter(),
        )

    def flush(self) -> list[Utterance]:
        """End of stream: close the utterance in progress (if long enough).

        Returns
        -------
        list of Utterance
            The last utterance, or empty. The segmenter is back in silence and may be fed
            further frames.
        """
        out: list[Utterance] = []
        if self.state == "speech" and self._next_sample is not None:
            out = self._close(self._next_sample, cut_at_max=False)
        self.state = "silence"
        self._reset_silence()
        return out


@dataclass
class PartialConfig:
    """When provisional estimates of the utterance in progress are taken (``--partial``).

    Attributes
    ----------
    interval_s : float, default 1.0
        Stream seconds between two snapshots of the same utterance.
    min_speech_s : float, default 1.5
        Speech (s, from the onset) before the first snapshot: shorter speech is a word or
        two, and statistics pooled over it say little (see ``min_utterance_s``). The first
        snapshot waits at least ``min_utterance_s + hangover_ms`` of the VAD settings, so an
        utterance that got a provisional estimate is never dropped as too short.
    """

    interval_s: float = 1.0
    min_speech_s: float = 1.5

    def validate(self) -> "PartialConfig":
        """Check the values; return ``self``.

        Raises
        ------
        ValueError
            ``interval_s`` not positive or ``min_speech_s`` negative (the message names the
            option).
        """
        if not self.interval_s > 0.0:
            raise ValueError(f"--partial-interval-s must be > 0 (got {self.interval_s})")
        if not self.min_speech_s >= 0.0:
            raise ValueError(f"--partial-min-s must be >= 0 (got {self.min_speech_s})")
        return self


class InProgressTap:
    """Decides, frame by frame, when to snapshot the utterance in progress.

    Call it with the segmenter after every frame (the ``on_frame`` of
    :func:`iter_utterances`): it returns :meth:`Segmenter.in_progress` once the speech of
    the current utterance reaches the first due time, then every ``interval_s``, else None.
    A due time passed while no frame came (never, frame by frame) is skipped, not repeated.
    While the utterance's last voiced frame is more than :attr:`PAUSE_S` old the snapshot is
    deferred until speech resumes: the utterance may be ending, and its final result, due
    within the hangover, must not wait behind a provisional one.

    Parameters
    ----------
    config : PartialConfig, optional
        Defaults when None.
    vad_config : VadConfig, optional
        The segmenter's settings (defaults when None): the first snapshot waits at least
        ``min_utterance_s + hangover_ms``.
    """

    #: Unvoiced time (s) after which a due snapshot waits for speech to resume.
    PAUSE_S: float = 0.15

    def __init__(self, config: PartialConfig | None = None, *, vad_config: VadConfig | None = None) -> None:
        self.config = (config if config is not None else PartialConfig()).validate()
        vad = vad_config if vad_config is not None else VadConfig()
        self.first_s = max(self.config.min_speech_s, vad.min_utterance_s + vad.hangover_ms / 1000.0)
        self._key: tuple[int, int] | None = None
        self._due_s = self.first_s

    def __call__(self, segmenter: Segmenter) -> Utterance | None:
        onset = segmenter.onset_sample
        if onset is None:
            self._key = None
            return None
        key = (segmenter.n_utterances, onset)
        if key != self._key:  # a new utterance (or the segment after a cut at the maximum)
            self._key, self._due_s = key, self.first_s
        speech_s = segmenter.speech_in_progress_s
        if speech_s + 1e-9 < self._due_s or segmenter.unvoiced_tail_s > self.PAUSE_S:
            return None
        while self._due_s <= speech_s + 1e-9:
            self._due_s += self.config.interval_s
        return segmenter.in_progress()


def check_signal(y: ArrayLike) -> np.ndarray:
    """A caller's mono signal as an array, checked: the one input check of the signal verbs
    (:func:`segment_signal`, :func:`speech_span`, ``Predictor.process_signal``,
    ``EmotionModel.predict_signal``).

    Parameters
    ----------
    y : array-like, shape (n_samples,)
        int16, or float (any float dtype) in [-1, 1]; float peaks up to
        :data:`MAX_FLOAT_PEAK` are taken (and clipped at full scale where converted to int16,
        as a decoded file's samples are).

    Returns
    -------
    np.ndarray, int16 or float, shape (n_samples,)
        ``np.asarray(y)``, unchanged.

    Raises
    ------
    ValueError
        Not of shape (n_samples,) (a scalar, or stereo of shape (n_samples, channels)), a
        dtype other than int16 or float, NaN or infinite samples, or a float peak above
        :data:`MAX_FLOAT_PEAK` (2.0: int16-range values, to divide by 32768; peaks in (1, 2]
        are taken).
    """
    y = np.asarray(y)
    if y.ndim != 1:
        hint = ": mix its channels down to one, e.g. y.mean(axis=1) for (n_samples, channels)" if y.ndim == 2 else ""
        raise ValueError(f"audio must be mono of shape (n_samples,), got shape {y.shape}{hint}")
    if y.dtype == np.int16:
        return y
    if not np.issubdtype(y.dtype, np.floating):
        raise ValueError(f"audio must be float32 in [-1, 1] or int16, got {y.dtype}")
    bad = ~np.isfinite(y)
    if bad.any():
        raise ValueError(f"audio holds {int(bad.sum())} NaN or infinite samples, the first at sample "
                         f"{int(np.argmax(bad))}: it is damaged or not audio")
    peak = float(np.abs(y).max()) if y.size else 0.0
    if peak > MAX_FLOAT_PEAK:
        raise ValueError(f"float audio must be in [-1, 1], got a peak of {peak:g}: int16-range values? "
                         "divide them by 32768 (or pass them as int16)")
    return y


def resample_signal(y: ArrayLike, *, sample_rate_hz: float, target_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """A caller's signal (:func:`check_signal`) at ``target_hz`` as int16, converted as files
    are decoded.

    At another rate the samples (int16 as float32 divided by 32768, as soundfile reads a
    16-bit file) go through soxr's streaming resampler, quality "HQ", clipped at full scale
    and rounded to int16: :func:`~ser_live.audiofile.iter_audio_blocks` and
    :func:`~ser_live.audiofile.decode_audio`'s steps, so an array read from a file gives
    that file's samples. At ``target_hz`` float samples are clipped at full scale and
    rounded to int16 (:func:`~ser_live.audiofile.to_int16`) as a decoded file's are, so
    peaks in (1, :data:`MAX_FLOAT_PEAK`] reach the extractor as they would from the file.

    Parameters
    ----------
    y : array-like, shape (n_samples,)
        As :func:`check_signal`.
    sample_rate_hz : float
        Sample rate of ``y`` (Hz), positive.
    target_hz : int, default 16000

    Returns
    -------
    np.ndarray, shape (n_out,)
        int16: ``y`` itself when it is int16 at ``target_hz``; ``n_out`` is ``n_samples`` at
        ``target_hz``, about ``n_samples * target_hz / sample_rate_hz`` at another rate.

    Raises
    ------
    ValueError
        As :func:`check_signal`, or ``sample_rate_hz`` not a positive number.
    """
    y = check_signal(y)
    if not (isinstance(sample_rate_hz, (int, float, np.number)) and 0 < sample_rate_hz < math.inf):
        raise ValueError(f"sample_rate_hz must be a positive number of Hz, got {sample_rate_hz!r}")
    if sample_rate_hz == target_hz:  # checked above: converted only
        return y if y.dtype == np.int16 else to_int16(y)
    from .audiofile import new_resampler

    x = to_float32(y) if y.dtype == np.int16 else y.astype(np.float32)
    resampler = new_resampler(sample_rate_hz, target_hz)
    return to_int16(np.clip(resampler.resample_chunk(x, last=True), -1.0, 1.0))


def _as_int16(y: ArrayLike) -> np.ndarray:
    y = check_signal(y)
    return y if y.dtype == np.int16 else to_int16(y)


def segment_signal(
    y: np.ndarray,
    *,
    config: VadConfig | None = None,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> list[Utterance]:
    """Cut a whole signal into utterances exactly as the live stream would.

    The signal is fed frame by frame from sample 0 through a fresh :class:`Segmenter` and
    flushed at the end; a tail shorter than a frame is ignored, as the live reader ignores
    it. The boundaries equal those of the same samples streamed through a
    :class:`~ser_live.ringbuffer.RingBuffer` without overrun.

    The WebRTC VAD adapts its noise model to what it has heard, so its decisions depend on
    the audio before a frame: the same recording heard after other audio (inside a longer
    session) may be cut a frame or a breath differently than when cut alone.

    Parameters
    ----------
    y : array-like, float32 in [-1, 1] or int16, shape (n_samples,)
        Mono audio at ``sample_rate_hz``, checked by :func:`check_signal`; float input is
        converted with :func:`~ser_live.audiofile.to_int16`.
    config : VadConfig, optional
        Parameters; defaults when None.
    sample_rate_hz : int, default 16000
        Sample rate of ``y`` (8000, 16000, 32000 or 48000 Hz).

    Returns
    -------
    list of Utterance
        In order; ``samples`` are int16 copies, sample indices count from the start of ``y``.

    Raises
    ------
    ValueError
        Audio :func:`check_signal` refuses (not mono, unsupported dtype, NaN, a float peak
        above :data:`MAX_FLOAT_PEAK`, 2.0), an unsupported sample rate, an invalid config.
    """
    x = _as_int16(y)
    seg = Segmenter(config, sample_rate_hz=sample_rate_hz)
    fl = seg.frame_length
    out: list[Utterance] = []
    for i in range(0, len(x) - fl + 1, fl):
        out += seg.process_frame(x[i : i + fl], i)
    out += seg.flush()
    return out


def speech_span(
    y: np.ndarray,
    *,
    config: VadConfig | None = None,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> tuple[int, int] | None:
    """Where speech is in a recording, as the live segmenter would cut it.

    Runs :func:`segment_signal` with the maximum length and the VAD input gain disabled
    and returns the start of the first utterance and the end of the last (pre-roll and
    hangover included). Used to trim training files as live audio is trimmed. Without the
    gain the trim of a training file does not depend on ``vad_target_dbfs`` and
    ``max_vad_gain_db`` (:data:`TRIM_IGNORED_FIELDS`), so cached trimmed features stay
    valid; a file quieter than ``vad_target_dbfs`` may lose a soft first or last frame or
    two that live would keep.

    Parameters
    ----------
    y : np.ndarray, float32 in [-1, 1] or int16, shape (n_samples,)
        Mono audio at ``sample_rate_hz``.
    config : VadConfig, optional
        Parameters (``max_utterance_s``, ``vad_target_dbfs`` and ``max_vad_gain_db`` are
        ignored); defaults when None.
    sample_rate_hz : int, default 16000

    Returns
    -------
    (int, int) or None
        ``(start_sample, end_sample)``, end exclusive; None when no utterance is found.

    Raises
    ------
    ValueError
        As :func:`segment_signal`.
    """
    cfg = replace(config if config is not None else VadConfig(), max_utterance_s=math.inf, max_vad_gain_db=0.0)
    utts = segment_signal(y, config=cfg, sample_rate_hz=sample_rate_hz)
    if not utts:
        return None
    return utts[0].start_sample, utts[-1].end_sample


def trim_settings(config: VadConfig) -> dict:
    """The settings that decide :func:`speech_span`: ``asdict(config)`` without
    :data:`TRIM_IGNORED_FIELDS`, for the keys of caches of trimmed training audio.

    Returns
    -------
    dict of str to int or float
    """
    return {k: v for k, v in asdict(config).items() if k not in TRIM_IGNORED_FIELDS}


def iter_utterances(
    ring: "RingBuffer",
    segmenter: Segmenter,
    *,
    stop_event: "threading.Event | None" = None,
    timeout_s: float = 0.1,
    max_samples: int | None = None,
    on_frame: "Callable[[Segmenter], None] | None" = None,
    frames_per_wake: int = FRAMES_PER_WAKE,
) -> Iterator[Utterance]:
    """Consumer loop: read frames from a ring buffer, yield utterances as they close.

    Each frame is stamped with the arrival time of its last sample
    (``ring.arrival_time_of``). At the end of the stream (the ring closed and drained) or
    when ``stop_event`` is set, or at ``max_samples``, the utterance in progress is flushed.

    When the ring holds less than a frame, the loop waits for up to ``frames_per_wake``
    frames at once, but never past a frame that could close an utterance
    (:meth:`Segmenter.frames_before_close`): the same frames are processed in the same
    order with the same stamps, so the utterances are those of a frame-by-frame loop, and
    each one closes as soon as its closing frame is stored; only the segmenter's state
    between closes (level, VAD state, the frames a ``on_frame`` callback sees) lags by at
    most ``frames_per_wake - 1`` frames. After a gap in the stream (an overrun) the
    utterance in progress may close up to that many frames late.

    Parameters
    ----------
    ring : RingBuffer
        Filled by one source; this generator is its only consumer.
    segmenter : Segmenter
        Its ``sample_rate_hz`` must equal the ring's.
    stop_event : threading.Event, optional
        Checked between frames (at least every ``timeout_s``).
    timeout_s : float, default 0.1
        Longest wait for one frame (seconds) before checking ``stop_event`` again.
    max_samples : int, optional
        Stream position (samples) to stop at: once the next frame would start at or after
        it, no more frames are read (the last one processed may end after it). The
        segmenter's position afterwards, ``n_frames * frame_length + gap_samples``, is then
        at least ``max_samples``, unless the stream ended first.
    on_frame : callable, optional
        Called with the segmenter after each frame has been processed (and before the
        utterances it closed are yielded), on the consumer's thread; must be quick. The
        recogniser uses it to take snapshots of the utterance in progress
        (:meth:`Segmenter.in_progress`).
    frames_per_wake : int, default FRAMES_PER_WAKE
        Most frames waited for at once (1: wake for every frame).

    Yields
    ------
    Utterance

    Raises
    ------
    ValueError
        The ring's and the segmenter's sample rates differ, or ``frames_per_wake`` < 1.
    """
    if ring.sample_rate_hz != segmenter.sample_rate_hz:
        raise ValueError(
            f"ring at {ring.sample_rate_hz} Hz but segmenter at {segmenter.sample_rate_hz} Hz"
        )
    if frames_per_wake < 1:
        raise ValueError(f"frames_per_wake must be >= 1, got {frames_per_wake}")
    fl = segmenter.frame_length
    read = ring.read
    stamp = ring.arrival_time_of
    process = segmenter.process_frame
    next_start = 0
    while stop_event is None or not stop_event.is_set():
        if max_samples is not None and next_start >= max_samples:
            break
        if frames_per_wake > 1 and ring.available < fl:
            k = min(frames_per_wake, segmenter.frames_before_close())
            if k > 1 and not ring.wait_available(min(k * fl, ring.capacity_samples), timeout_s=timeout_s):
                continue  # timed out: check stop_event, then read what there is
        got = read(fl, timeout_s=timeout_s)
        if got is None:
            if ring.eof:
                break
            continue
        start, frame = got
        next_start = start + fl
        closed = process(frame, start, arrival_time=stamp(start + fl - 1))
        if on_frame is not None:
            on_frame(segmenter)
        yield from closed
    yield from segmenter.flush()


# ---------------------------------------------------------------------- command line
_TYPES = {"int": int, "float": float, int: int, float: float}
_CHOICES = {"aggressiveness": [0, 1, 2, 3], "frame_ms": [10, 20, 30]}


#: The ``--help`` placeholder of a :class:`VadConfig` option, by the unit its name ends in.
_METAVARS: tuple[tuple[str, str], ...] = (
    ("_ms", "MS"), ("_s", "SECONDS"), ("_ratio", "RATIO"), ("_percentile", "PCT"), ("_dbfs", "DBFS"), ("_db", "DB"),
)


def _metavar(name: str) -> str | None:
    """The placeholder of field ``name`` in ``--help`` (``--hangover-ms MS``); None (argparse's
    default) for a field with choices and no unit."""
    return next((metavar for suffix, metavar in _METAVARS if name.endswith(suffix)), None)


def add_vad_arguments(
    parser: argparse.ArgumentParser, *, defaults: VadConfig | None = None
) -> argparse._ArgumentGroup:
    """Add one command-line option per :class:`VadConfig` field (``--hangover-ms`` ...).

    Parameters
    ----------
    parser : argparse.ArgumentParser
    defaults : VadConfig, optional
        Default values shown and used; ``VadConfig()`` when None.

    Returns
    -------
    argparse._ArgumentGroup
        The "voice activity detection" group holding the options. Their ``dest`` is
        ``vad_<field>``; read them back with :func:`vad_config_from_args`.
    """
    d = defaults if defaults is not None else VadConfig()
    group = parser.add_argument_group(
        "voice activity detection (VAD)",
        "how speech is found and cut into utterances (milliseconds round to whole frames)",
    )
    for f in fields(VadConfig):
        default = getattr(d, f.name)
        group.add_argument(
            "--" + f.name.replace("_", "-"),
            dest="vad_" + f.name,
            type=_TYPES[f.type],
            default=default,
            choices=_CHOICES.get(f.name),
            metavar=_metavar(f.name),
            help=f"{f.metadata['help']} (default: {default})",
        )
    return group


def vad_config_from_args(args: argparse.Namespace) -> VadConfig:
    """Build and validate a :class:`VadConfig` from options added by :func:`add_vad_arguments`.

    Fields whose option is absent from ``args`` keep their defaults.

    Raises
    ------
    ValueError
        The combination of values is invalid (message names the option).
    """
    kwargs = {
        f.name: getattr(args, "vad_" + f.name)
        for f in fields(VadConfig)
        if getattr(args, "vad_" + f.name, None) is not None
    }
    return VadConfig(**kwargs).validate()
