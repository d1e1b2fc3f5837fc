"""Reading and writing audio files, and the sample-format conversions at the library's edges.

Inside ser-live audio is ``float32`` in [-1, 1] of shape ``(n_samples,)`` at 16 kHz mono;
``int16`` appears only at the capture and VAD boundary and in written WAV files.

There is ONE way to decode a file, :func:`iter_audio_blocks` (block by block, streaming
resampler, channels averaged), and everything that reads a file goes through it: the replay
(:class:`~ser_live.audio.FileSource`), :func:`decode_audio` (the whole file as the replay
streams it, int16) and :func:`load_audio` (the same samples as float32), hence offline
whole-file and segment prediction and training feature extraction. A whole-file
prediction and ``--segments`` therefore see the same samples at any original rate. For a
16-bit file already at 16 kHz mono the samples are exactly the file's.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf

from .errors import AudioFileError

__all__ = [
    "SAMPLE_RATE_HZ",
    "AudioInfo",
    "audio_info",
    "DECODE_BLOCK_S",
    "load_audio",
    "decode_audio",
    "iter_audio_blocks",
    "to_int16",
    "to_float32",
    "write_wav",
]

log = logging.getLogger(__name__)

#: The one sample rate of the library (Hz): capture, VAD, features and models all use it.
SAMPLE_RATE_HZ: int = 16000
#: Length (s of the file) of the blocks files are decoded in. The streaming resampler's
#: output does not depend on it (checked on the 44.1/48/24 kHz samples), so it only trades
#: memory for calls.
DECODE_BLOCK_S: float = 0.25


class AudioInfo:
    """What a file header says: ``sample_rate_hz`` (Hz), ``channels``, ``n_frames`` (samples
    per channel), ``duration_s`` (seconds), ``format`` (e.g. ``"FLAC"``)."""

    __slots__ = ("path", "sample_rate_hz", "channels", "n_frames", "duration_s", "format")

    def __init__(self, path: Path, info: "sf._SoundFileInfo") -> None:
        self.path = path
        self.sample_rate_hz = int(info.samplerate)
        self.channels = int(info.channels)
        self.n_frames = int(info.frames)
        self.duration_s = self.n_frames / self.sample_rate_hz if self.sample_rate_hz else 0.0
        self.format = str(info.format)

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        return (
            f"AudioInfo({self.path.name!r}, {self.sample_rate_hz} Hz, {self.channels} ch, "
            f"{self.duration_s:.2f} s, {self.format})"
        )



#: File suffixes picked up when a folder is walked for audio (``predict``, ``--dask`` batches).
AUDIO_SUFFIXES: tuple[str, ...] = (".wav", ".flac", ".ogg")


def expand_audio_paths(paths: list[str]) -> Iterator[tuple[str, AudioFileError | None]]:
    """Expand folders into the audio files under them (recursively, sorted).

    Parameters
    ----------
    paths : list of str
        Files and folders as the user named them.

    Yields
    ------
    (str, AudioFileError or None)
        Each file named, and each file with a suffix in :data:`AUDIO_SUFFIXES` found under a
        folder named, in order. A folder holding no such file yields the folder with an
        :class:`~ser_live.errors.AudioFileError` (the caller decides whether that ends the run);
        files are not opened here.
    """
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in AUDIO_SUFFIXES)
            if not found:
                yield raw, AudioFileError(f"{raw}: folder holds no {'/'.join(AUDIO_SUFFIXES)} files")
            for f in found:
                yield str(f), None
        else:
            yield raw, None

def audio_info(path: str | Path) -> AudioInfo:
    """Read a file's header without decoding its samples.

    Parameters
    ----------
    path : str or Path
        Any file libsndfile reads (WAV, FLAC, OGG/Vorbis, AIFF, ...).

    Returns
    -------
    AudioInfo

    Raises
    ------
    AudioFileError
        The file does not exist, cannot be decoded, or holds no samples.
    """
    p = Path(path)
    if not p.exists():
        raise AudioFileError(f"{p}: no such file")
    if p.is_dir():
        raise AudioFileError(f"{p}: is a folder, not an audio file")
    try:
        info = AudioInfo(p, sf.info(str(p)))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        raise AudioFileError(
            f"{p}: cannot read as audio ({exc}); give a WAV, FLAC or OGG file "
            "(convert others with e.g. `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`)"
        ) from exc
    if info.n_frames <= 0 or info.sample_rate_hz <= 0:
        raise AudioFileError(f"{p}: the file holds no audio samples (empty)")
    return info


def _to_mono(block: np.ndarray) -> np.ndarray:
    """Average channels: ``(n, channels)`` float32 -> ``(n,)`` float32."""
    if block.ndim == 1:
        return block
    return block.mean(axis=1, dtype=np.float32)


def _require_finite(y: np.ndarray, path: Path, *, offset_frames: int, sample_rate_hz: int) -> None:
    """Refuse NaN or infinite samples (a float WAV can hold them): they are not audio, and
    would poison the features or be silently clipped. ``offset_frames`` is where ``y``
    starts in the file (frames), for the message."""
    bad = ~np.isfinite(y)
    if bad.any():
        first = offset_frames + int(np.argmax(bad.reshape(len(y), -1).any(axis=1)))
        raise AudioFileError(
            f"{path}: holds non-finite samples (NaN or infinity), the first at "
            f"{first / sample_rate_hz:.3f} s (frame {first}); the file is damaged or not "
            "audio: re-export it (e.g. as 16-bit PCM WAV)"
        )


def _check_duration(info: AudioInfo, max_duration_s: float | None) -> None:
    if max_duration_s is not None and info.duration_s > max_duration_s:
        raise AudioFileError(
            f"{info.path}: {info.duration_s:.1f} s long, more than the {max_duration_s:.0f} s "
            "this call takes as one utterance; cut it into utterances with --segments"
        )


def decode_audio(
    path: str | Path,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Decode a whole file to mono int16, exactly as a replay streams it.

    The concatenation of :func:`iter_audio_blocks` converted with :func:`to_int16`: the
    samples a :class:`~ser_live.audio.FileSource` writes into the ring buffer, for any rate
    and channel count.

    Parameters
    ----------
    path : str or Path
        Audio file (any format libsndfile reads, any rate, any channel count).
    sample_rate_hz : int, default 16000
        Target sample rate (Hz).
    max_duration_s : float, optional
        Refuse files longer than this many seconds (checked on the header, before decoding).

    Returns
    -------
    np.ndarray, int16, shape (n_samples,)

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, longer than ``max_duration_s``, or holding NaN
        or infinite samples.
    """
    info = audio_info(path)
    _check_duration(info, max_duration_s)
    blocks = [to_int16(y) for y in iter_audio_blocks(info.path, sample_rate_hz=sample_rate_hz)]
    if not blocks:
        raise AudioFileError(f"{info.path}: the file holds no audio samples (empty)")
    return np.concatenate(blocks)


def load_audio(
    path: str | Path,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    max_duration_s: float | None = None,
) -> np.ndarray:
    """Decode a whole file to mono float32 at ``sample_rate_hz``, as a replay streams it.

    :func:`decode_audio` as float32 (:func:`to_float32`): the very samples the live path
    and ``--segments`` see (on the 16-bit grid). Channels are averaged; other sample rates
    are resampled with soxr's streaming resampler, quality "HQ" (the same filter as
    :func:`librosa.resample` with ``res_type="soxr_hq"``). A 16-bit file at
    ``sample_rate_hz`` decodes to exactly its samples divided by 32768.

    Parameters
    ----------
    path, sample_rate_hz, max_duration_s
        As :func:`decode_audio` (``max_duration_s`` keeps a one-hour recording from being
        loaded by mistake where one utterance is expected).

    Returns
    -------
    np.ndarray, float32, shape (n_samples,)
        Samples in [-1, 1).

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, or longer than ``max_duration_s``.
    """
    return to_float32(decode_audio(path, sample_rate_hz=sample_rate_hz, max_duration_s=max_duration_s))


def iter_audio_blocks(
    path: str | Path,
    *,
    block_s: float = DECODE_BLOCK_S,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
) -> Iterator[np.ndarray]:
    """Decode a file block by block, mono float32 at ``sample_rate_hz``, in constant memory.

    Resampling is streaming (a soxr ``ResampleStream``), so an hour-long 48 kHz stereo
    file is never held in memory whole.

    Parameters
    ----------
    path : str or Path
        Audio file.
    block_s : float, default 0.25
        Length of each decoded block, in seconds of the file (does not change the samples).
    sample_rate_hz : int, default 16000
        Output sample rate (Hz).

    Yields
    ------
    np.ndarray, float32, shape (n,)
        Consecutive blocks; their concatenation is the whole resampled file.

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, or a block holding NaN or infinite samples
        (raised when that block is reached).
    """
    info = audio_info(path)
    block_frames = max(1, int(round(block_s * info.sample_rate_hz)))
    resampler = None
    if info.sample_rate_hz != sample_rate_hz:
        import soxr

        resampler = soxr.ResampleStream(
            info.sample_rate_hz, sample_rate_hz, 1, dtype="float32", quality="HQ"
        )
    try:
        with sf.SoundFile(str(info.path)) as f:
            offset = 0
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=False)
                last = len(block) < block_frames
                _require_finite(block, info.path, offset_frames=offset, sample_rate_hz=info.sample_rate_hz)
                offset += len(block)
                y = _to_mono(np.asarray(block, dtype=np.float32))
                if resampler is not None:
                    y = resampler.resample_chunk(y, last=last)
                if y.size:
                    yield np.clip(y, -1.0, 1.0).astype(np.float32, copy=False)
                if last:
                    break
    except AudioFileError:
        raise
    except Exception as exc:
        raise AudioFileError(f"{info.path}: decoding failed ({exc})") from exc


def to_int16(y: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] -> int16 (rounded, clipped to [-32768, 32767]); shape kept."""
    return np.clip(np.rint(np.asarray(y, dtype=np.float32) * 32768.0), -32768, 32767).astype(
        np.int16
    )


def to_float32(x: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1) (divided by 32768, exactly invertible by :func:`to_int16`)."""
    return np.asarray(x, dtype=np.int16).astype(np.float32) / np.float32(32768.0)


def write_wav(path: str | Path, samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Write mono 16-bit PCM WAV. ``samples`` may be int16 (written as is) or float32 in [-1, 1].

    Returns
    -------
    Path
        The path written.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    x = samples if samples.dtype == np.int16 else to_int16(samples)
    sf.write(str(p), x, sample_rate_hz, subtype="PCM_16", format="WAV")
    return p
