"""Sessions built from corpus utterances: speech joined by pauses, as a user's talk would be.

A *session* here is one 16 kHz stream of several corpus utterances with pauses between them,
replayed through ``ser-live --input`` (the benchmarks) or cut by the segmenter (the tests).
The pauses are digital silence or the recordings' own room tone (see :func:`room_tone`).

Only this module builds sessions: benchmarks and tests both call :func:`build_session` (or
:func:`write_session` for one too long to hold in memory).
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from ser_live.audiofile import SAMPLE_RATE_HZ, load_audio, to_int16
from ser_live.levels import frame_rms, loud_frame_level, rms_dbfs

from .extract import prepare_utterance

__all__ = ["Session", "corpus_utterances", "room_tone", "build_session", "write_session"]

log = logging.getLogger(__name__)

SR = SAMPLE_RATE_HZ


@dataclass
class Session:
    """A session held in memory.

    Attributes
    ----------
    samples : np.ndarray, int16, shape (n_samples,)
        16 kHz mono stream.
    spans : list of (int, int)
        ``[start, end)`` sample indices of each utterance in ``samples``, in order.
    pause_dbfs : float or None
        Level of the pause fill (dBFS); None for digital silence.
    noise_dbfs : float or None
        RMS level (dBFS) of the noise added under the whole session; None without noise.
    """

    samples: np.ndarray
    spans: list[tuple[int, int]] = field(default_factory=list)
    pause_dbfs: float | None = None
    noise_dbfs: float | None = None

    @property
    def n_utterances(self) -> int:
        """Utterances in the session."""
        return len(self.spans)

    @property
    def duration_s(self) -> float:
        """Length of the session (s)."""
        return len(self.samples) / SR


def corpus_utterances(paths: Sequence[str | Path], *, trim: bool = True, cycle: bool = False) -> Iterator[np.ndarray]:
    """Decode corpus files one at a time, each trimmed to its speech span.

    Parameters
    ----------
    paths : sequence of str or Path
        Audio files, in the order wanted.
    trim : bool, default True
        Trim each file as training files are trimmed
        (:func:`train.extract.prepare_utterance`: the live segmenter's speech span).
    cycle : bool, default False
        Start again from the first file after the last (an endless iterator).

    Yields
    ------
    np.ndarray, float32, shape (n_samples,)
        16 kHz mono audio in [-1, 1].
    """
    it: Iterable[str | Path] = itertools.cycle(paths) if cycle else paths
    for p in it:
        y = load_audio(p)
        yield prepare_utterance(y) if trim else y


def room_tone(paths: Sequence[str | Path], *, lead_s: float = 0.2) -> np.ndarray:
    """The recordings' own room tone: the first ``lead_s`` of each file, joined.

    Between utterances WebRTC VAD mode 2 (the live default) calls white noise from about
    -75 dBFS upwards speech once it has heard speech, so synthetic noise would make
    utterances run to the maximum length; the corpora's silent leads (about -75 dBFS on
    RAVDESS) sit below that and are what a quiet studio sounds like.

    Parameters
    ----------
    paths : sequence of str or Path
        Files whose first ``lead_s`` is silence (RAVDESS: every file; 32 give enough variety).
    lead_s : float, default 0.2
        Seconds taken from the start of each file.

    Returns
    -------
    np.ndarray, float32, shape (len(paths) * lead_s * 16000,)
    """
    n = int(lead_s * SR)
    return np.concatenate([load_audio(p)[:n] for p in paths]).astype(np.float32)


def _session_parts(
    utterances: Iterable[np.ndarray],
    *,
    pauses_s: Sequence[float],
    pause_fill: np.ndarray | None,
    pause_first: bool,
    tail_s: float,
    min_duration_s: float | None,
    min_utterances: int,
    utterance_dbfs: float | None = None,
) -> Iterator[tuple[bool, np.ndarray]]:
    """``(is_speech, int16 block)`` pairs of the session, in order (see :func:`build_session`)."""
    total = 0

    def pause(seconds: float) -> np.ndarray:
        n = int(round(seconds * SR))
        if pause_fill is None or n == 0:
            return np.zeros(n, np.int16)
        return to_int16(np.resize(pause_fill, n))

    k = 0
    for k, y in enumerate(utterances):
        if min_duration_s is not None and k >= min_utterances and total >= min_duration_s * SR:
            break
        if pause_first or k > 0:
            gap = pause(pauses_s[k % len(pauses_s)])
            total += len(gap)
            yield False, gap
        u = to_int16(np.asarray(y, dtype=np.float32))
        if utterance_dbfs is not None:
            gain = 10.0 ** ((utterance_dbfs - _loud_frame_dbfs(u, [(0, len(u))])) / 20.0)
            u = to_int16(u.astype(np.float32) * np.float32(gain / 32768.0))
        total += len(u)
        yield True, u
    if tail_s > 0:
        yield False, pause(tail_s)


def build_session(
    utterances: Iterable[np.ndarray],
    *,
    pauses_s: Sequence[float] = (1.0,),
    pause_fill: np.ndarray | None = None,
    pause_first: bool = True,
    tail_s: float = 0.0,
    min_duration_s: float | None = None,
    min_utterances: int = 2,
    noise: np.ndarray | None = None,
    noise_dbfs: float | None = None,
    noise_snr_db: float | None = None,
    utterance_dbfs: float | None = None,
) -> Session:
    """Join utterances with pauses into one session.

    Parameters
    ----------
    utterances : iterable of np.ndarray, float32, shape (n_samples,)
        16 kHz mono utterances (e.g. :func:`corpus_utterances`); consumed lazily.
    pauses_s : sequence of float, default (1.0,)
        Pause lengths (s), used in turn: pause ``k`` goes before utterance ``k``.
    pause_fill : np.ndarray, float32, optional
        Sound the pauses are cut from (looped), e.g. :func:`room_tone`; None for digital
        silence.
    pause_first : bool, default True
        Put a pause before the first utterance too (otherwise pauses only separate them).
    tail_s : float, default 0
        Pause after the last utterance (s).
    min_duration_s : float, optional
        Stop taking utterances once the session is at least this long (s) and holds
        ``min_utterances``; None takes every utterance (``utterances`` must then be finite).
    min_utterances : int, default 2
    noise : np.ndarray, float32, optional
        Noise added under the whole session, speech and pauses alike (looped), after the
        pauses are filled: a fan or a street heard through the microphone.
    noise_dbfs : float, optional
        RMS level (dBFS) the noise is scaled to.
    noise_snr_db : float, optional
        Instead of ``noise_dbfs``: the noise level in dB below the speech's loud-frame level,
        the 90th percentile of 30 ms frame RMS over the utterances (the SNR definition of
        :func:`train.augment.apply_augmentation`).
    utterance_dbfs : float, optional
        Scale each utterance so its loud-frame level (as for ``noise_snr_db``) is this many
        dBFS: one speaker at one microphone, where the corpora differ by 40 dB (RAVDESS
        -50 dBFS, EmoDB -10 dBFS); None keeps the recorded levels.

    Returns
    -------
    Session
        The mixture is clipped to int16 full scale.

    Raises
    ------
    ValueError
        ``pauses_s`` is empty, ``utterances`` gave none, or ``noise`` is given without
        exactly one of ``noise_dbfs`` and ``noise_snr_db``.
    """
    if noise is not None and (noise_dbfs is None) == (noise_snr_db is None):
        raise ValueError("noise needs exactly one of noise_dbfs and noise_snr_db")
    if not pauses_s:
        raise ValueError("pauses_s must hold at least one pause length")
    parts, spans, pos = [], [], 0
    for is_speech, block in _session_parts(
        utterances, pauses_s=pauses_s, pause_fill=pause_fill, pause_first=pause_first, tail_s=tail_s,
        min_duration_s=min_duration_s, min_utterances=min_utterances, utterance_dbfs=utterance_dbfs,
    ):
        if is_speech:
            spans.append((pos, pos + len(block)))
        parts.append(block)
        pos += len(block)
    if not spans:
        raise ValueError("no utterances to build a session from")
    samples = np.concatenate(parts)
    if noise is not None:
        if noise_snr_db is not None:
            noise_dbfs = _loud_frame_dbfs(samples, spans) - noise_snr_db
        n = np.resize(np.asarray(noise, np.float64), len(samples))
        n *= 10.0 ** (noise_dbfs / 20.0) / max(float(np.sqrt(np.mean(n**2))), 1e-12)
        samples = to_int16((samples / 32768.0 + n).astype(np.float32))
    return Session(samples, spans, _level_dbfs(pause_fill), noise_dbfs)


def _loud_frame_dbfs(samples: np.ndarray, spans: Sequence[tuple[int, int]], frame: int = 480) -> float:
    """The loud-frame speech level (:mod:`ser_live.levels`, 30 ms frames) in dBFS over the
    speech spans of an int16 stream (spans shorter than a frame left out)."""
    rms = [frame_rms(samples[a:b].astype(np.float64) / 32768.0, frame_length=frame) for a, b in spans if b - a >= frame]
    return rms_dbfs(loud_frame_level(np.concatenate(rms)))


def write_session(
    path: str | Path,
    utterances: Iterable[np.ndarray],
    *,
    duration_s: float,
    pauses_s: Sequence[float] = (1.0,),
    pause_fill: np.ndarray | None = None,
    tail_s: float = 1.5,
) -> tuple[int, float]:
    """Write a long session straight to a 16 kHz 16-bit FLAC or WAV, block by block.

    For sessions too long to hold in memory (a 2 h soak is 230 MB of int16 samples).

    Parameters
    ----------
    path : str or Path
        Output file; the format follows its suffix (``.flac`` or ``.wav``).
    utterances : iterable of np.ndarray, float32
        As for :func:`build_session` (may be endless: :func:`corpus_utterances` with ``cycle``).
    duration_s : float
        Minimum length (s): utterances are added until it is reached.
    pauses_s, pause_fill, tail_s
        As for :func:`build_session`.

    Returns
    -------
    (int, float)
        Utterances written and the session's length (s).
    """
    import soundfile as sf

    n_utt, n = 0, 0
    with sf.SoundFile(str(path), "w", samplerate=SR, channels=1, subtype="PCM_16") as f:
        for is_speech, block in _session_parts(
            utterances, pauses_s=pauses_s, pause_fill=pause_fill, pause_first=True, tail_s=tail_s,
            min_duration_s=duration_s, min_utterances=2,
        ):
            f.write(block)
            n += len(block)
            n_utt += int(is_speech)
    log.info("wrote a %.0f s session of %d utterances to %s", n / SR, n_utt, path)
    return n_utt, n / SR


def _level_dbfs(x: np.ndarray | None) -> float | None:
    if x is None or len(x) == 0:
        return None
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-20))
