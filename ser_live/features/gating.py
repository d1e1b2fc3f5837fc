"""Pause gate: the frames of an utterance that carry only the room's floor become digital silence.

Why. The training corpora are studio recordings whose pauses and padding are digital zeros
(or nearly so); a live utterance, cut by the segmenter with pre-roll and hangover, or a file
recorded in a room, carries the room's floor in the same places. The pooled functionals
(MFCC and energy percentiles, slopes, voiced/unvoiced segment statistics) read that floor as
part of the voice: on a ``loco`` fold model a quiet voice at 17 dB SNR over a -55 dBFS floor
scored 35 UA live against 65 offline, its neutral and happy utterances heard as "sad"
(``python -m benchmarks.live_offline``, docs/experiments.md). Zeroing the floor frames before
the extractor analyses the utterance makes what it pools the same as in training.

How. The utterance (after the extractor's level normalisation) is cut into non-overlapping
blocks of :data:`GATE_BLOCK_S`; each block's RMS level is taken in dBFS. The floor is the
:data:`FLOOR_PERCENTILE`-th percentile of the block levels (the quiet blocks: pauses, pre-roll,
hangover), the speech level the loud-frame level of :mod:`ser_live.levels` (90th percentile).
When the speech stands at least :data:`MIN_SNR_DB` above the floor, every block below
``floor + MARGIN_DB`` is set to zero. Below that SNR the utterance is noisy rather than quiet:
it is left as it is, so the noise branch (:mod:`ser_live.route`), trained on ungated noisy
copies, hears what it was trained on, and the route's column still reads the noise.

The same function runs in training, offline prediction and live recognition: it is called by
:class:`ser_live.features.FeatureExtractor` when ``FeatureConfig.pause_gate`` is on. On a
studio file whose pauses are digital silence it changes nothing but the near-silent blocks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..levels import loud_frame_level
from .framewise import _frames

__all__ = ["EDGE_ABOVE_DB", "EDGE_MARGIN_S", "GATE_BLOCK_S", "FLOOR_PERCENTILE", "MARGIN_DB", "MIN_SNR_DB", "GateResult",
           "active_span", "gate_pauses"]

# The percentile, margin and SNR below were set by hand for issue 20 (a floor estimate from
# the quiet tenth of an utterance, a margin a little above a floor's own spread, and the SNR
# under which the noise branch, not the gate, should hear the utterance), not tuned on data
# nor taken from elsewhere; docs/experiments.md, "Pause gate", measures the result.

#: Block length of the gate (s): the segmenter's VAD frame (30 ms).
GATE_BLOCK_S: float = 0.030
#: Percentile (0..100) of the block levels taken as the utterance's floor.
FLOOR_PERCENTILE: float = 10.0
#: Blocks below floor + this (dB) are zeroed.
MARGIN_DB: float = 6.0
#: The gate acts only when the speech level stands this far (dB) above the floor.
MIN_SNR_DB: float = 15.0
#: :func:`active_span`: a frame is active this far (dB) above the utterance's floor.
EDGE_ABOVE_DB: float = 10.0
#: :func:`active_span`: seconds kept before the first and after the last active frame.
EDGE_MARGIN_S: float = 0.1
#: Level (dBFS) given to a digitally silent block.
_SILENT_DBFS: float = -100.0


@dataclass(frozen=True)
class GateResult:
    """What :func:`gate_pauses` did to one utterance.

    Attributes
    ----------
    samples : np.ndarray, float32, shape (n_samples,)
        The gated audio (the input itself when nothing was gated).
    speech_dbfs : float
        Loud-block level (90th percentile of the block RMS levels), dBFS.
    floor_dbfs : float
        The floor: :data:`FLOOR_PERCENTILE`-th percentile of the block levels, dBFS.
    snr_db : float
        ``speech_dbfs - floor_dbfs`` (dB): the SNR a listener would estimate from the
        utterance alone.
    gated_fraction : float
        Share (0..1) of the samples set to zero.
    """

    samples: np.ndarray
    speech_dbfs: float
    floor_dbfs: float
    snr_db: float
    gated_fraction: float


def gate_pauses(y: np.ndarray, *, sample_rate_hz: int, block_s: float = GATE_BLOCK_S,
                floor_percentile: float = FLOOR_PERCENTILE, margin_db: float = MARGIN_DB,
                min_snr_db: float = MIN_SNR_DB) -> GateResult:
    """Set the blocks of an utterance that hold only its floor to digital silence.

    Parameters
    ----------
    y : np.ndarray, float32, shape (n_samples,)
        Mono audio in [-1, 1].
    sample_rate_hz : int
        Sample rate of ``y`` (Hz).
    block_s : float
        Block length (s); the last, shorter block is gated on its own level.
    floor_percentile : float
        Percentile (0..100) of the block levels taken as the floor.
    margin_db : float
        Blocks below ``floor + margin_db`` (dB) are zeroed.
    min_snr_db : float
        No block is gated unless the loud-block level is at least this far (dB) above the
        floor (an utterance in real noise is left for the noise branch).

    Returns
    -------
    GateResult
        The gated audio and the levels the decision was made on.

    Raises
    ------
    ValueError
        ``y`` is not 1-D or is empty, or ``block_s`` is shorter than one sample.

    Examples
    --------
    >>> g = gate_pauses(y, sample_rate_hz=16000)
    >>> g.samples.shape == y.shape, g.snr_db, g.gated_fraction
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size == 0:
        raise ValueError(f"expected non-empty mono audio of shape (n_samples,), got shape {y.shape}")
    block = int(round(block_s * sample_rate_hz))
    if block < 1:
        raise ValueError(f"block_s={block_s} s is shorter than one sample at {sample_rate_hz} Hz")
    n_full = y.size // block
    edges = np.arange(0, y.size, block)
    # Sum of squares per block, the last (partial) block included, over its own length.
    sq = np.add.reduceat(y.astype(np.float64) ** 2, edges)
    lengths = np.diff(np.append(edges, y.size))
    rms = np.sqrt(sq / lengths)
    level_db = np.maximum(20.0 * np.log10(np.maximum(rms, 1e-12)), _SILENT_DBFS)
    # The speech level and floor are read on whole blocks when there are any.
    ref = level_db[:n_full] if n_full else level_db
    speech = float(loud_frame_level(ref))
    floor = float(np.percentile(ref, floor_percentile))
    snr = speech - floor
    if snr < min_snr_db:
        return GateResult(y, speech, floor, snr, 0.0)
    quiet = level_db < floor + margin_db
    if not quiet.any():
        return GateResult(y, speech, floor, snr, 0.0)
    mask = np.repeat(~quiet, lengths)
    out = np.where(mask, y, np.float32(0.0)).astype(np.float32)
    return GateResult(out, speech, floor, snr, float(1.0 - mask.mean()))


def active_span(samples: np.ndarray, *, above_db: float = EDGE_ABOVE_DB, margin_s: float = EDGE_MARGIN_S,
                sample_rate_hz: int = 16000) -> tuple[int, int]:
    """The part of an utterance from its first to its last active frame, plus a margin: what
    ``FeatureConfig.edge_trim`` keeps (the shipped default model's since 6 December). A live cut holds the
    segmenter's pre-roll and hangover, a few hundred ms of the room's floor alone on each side;
    ``python -m benchmarks.cut_padding`` measures what that costs (docs/speakers.md).

    A frame (25 ms, 10 ms hop, the extractor's) is active when its RMS level is more than
    ``above_db`` above the utterance's floor, the :data:`FLOOR_PERCENTILE`-th percentile of
    its frames' levels. The defaults were set by hand (the first setting tried in
    ``benchmarks.cut_padding``, beside a 0.2 s margin), not tuned.

    Parameters
    ----------
    samples : np.ndarray, int16 or float, shape (n_samples,)
    above_db : float, default :data:`EDGE_ABOVE_DB`
    margin_s : float, default :data:`EDGE_MARGIN_S`
    sample_rate_hz : int, default 16000

    Returns
    -------
    (int, int)
        ``(start, end)`` samples, end exclusive; the whole utterance when no frame is active,
        it is shorter than one frame, or the span would be shorter than 0.1 s.
    """
    win, hop = int(round(0.025 * sample_rate_hz)), int(round(0.010 * sample_rate_hz))
    x = np.asarray(samples, dtype=np.float64)
    if np.asarray(samples).dtype == np.int16:
        x = x / 32768.0
    n = len(x)
    if n < win:
        return 0, n
    # the whole frames of the squared signal as a view (the extractor's _frames): the levels a
    # gathered (n_frames, win) copy of x**2 gave, to the bit (checked on files of all six
    # corpora, at three gains and as int16), without the copy's cost (docs/performance.md)
    n_used = (n - win) // hop * hop + win
    db = 10.0 * np.log10(np.mean(_frames(x[:n_used] * x[:n_used], win, hop), axis=1) + 1e-20)
    active = np.flatnonzero(db > np.percentile(db, FLOOR_PERCENTILE) + above_db)
    if not len(active):
        return 0, n
    m = int(round(margin_s * sample_rate_hz))
    start, end = max(0, int(active[0]) * hop - m), min(n, int(active[-1]) * hop + win + m)
    return (start, end) if end - start >= sample_rate_hz // 10 else (0, n)
