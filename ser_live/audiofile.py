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
import os
import stat
import struct
import sys
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import soundfile as sf

from .errors import AudioFileError
from .forksafe import fork_guard

__all__ = [
    "SAMPLE_RATE_HZ",
    "AudioInfo",
    "audio_info",
    "DECODE_BLOCK_S",
    "load_audio",
    "decode_audio",
    "iter_audio_blocks",
    "new_resampler",
    "to_mono",
    "MIN_FULL_BAND_HZ",
    "warn_if_narrowband",
    "to_int16",
    "to_float32",
    "write_wav",
    "AUDIO_SUFFIXES",
    "expand_audio_paths",
    "wav_declared_frames",
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


def _libsndfile_name(path: Path) -> str | bytes:
    """``path`` as soundfile passes it to libsndfile: the ``str``, or on POSIX the file
    system's bytes when the name is not valid in its encoding (``n\\xe9.wav`` from a Latin-1
    system, which Python holds as the surrogate ``\\udce9``: soundfile encodes a ``str``
    strictly, so such a file could not be opened at all)."""
    name = str(path)
    if os.name == "nt":
        return name
    try:
        name.encode(sys.getfilesystemencoding())
    except UnicodeEncodeError:
        return os.fsencode(name)
    return name


def unreadable_folder_reason(exc: OSError, *, missed: str) -> str:
    """Why a folder's audio files are missing from a run, for the error ``os.walk`` reported
    listing it (``onerror``; no permission): the system's reason and what to do.

    Parameters
    ----------
    exc : OSError
    missed : str
        What did not happen to its files ("classified", "read").

    Returns
    -------
    str
        E.g. "cannot read the folder (Permission denied), so its audio files were not
        classified: give this user permission to read it".
    """
    return (f"cannot read the folder ({exc.strerror or exc}), so its audio files were not {missed}: "
            "give this user permission to read it")


#: File suffixes of each libsndfile format a folder walk picks up (suffixes as the formats'
#: own documents name them; libsndfile itself goes by the header, not the suffix).
_FORMAT_SUFFIXES: dict[str, tuple[str, ...]] = {
    "WAV": (".wav",), "WAVEX": (".wav",), "FLAC": (".flac",), "OGG": (".ogg", ".oga", ".opus"),
    "MP3": (".mp3",), "AIFF": (".aiff", ".aif", ".aifc"), "AU": (".au", ".snd"), "CAF": (".caf",),
    "W64": (".w64",), "RF64": (".rf64",),
}


def _readable_suffixes() -> tuple[str, ...]:
    formats = sf.available_formats()  # what this libsndfile build reads (MP3 since 1.1.0)
    return tuple(dict.fromkeys(s for fmt, sfx in _FORMAT_SUFFIXES.items() if fmt in formats for s in sfx))


#: File suffixes picked up when a folder is walked for audio (``predict``, ``--dask`` batches):
#: every suffix of :data:`_FORMAT_SUFFIXES` whose format the installed libsndfile reads
#: (with libsndfile 1.2: WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, AU, CAF, W64, RF64).
AUDIO_SUFFIXES: tuple[str, ...] = _readable_suffixes()


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
        folder named (suffixes compared case-insensitively), in order. A folder holding no
        such file yields the folder with an :class:`~ser_live.errors.AudioFileError` (the
        caller decides whether that ends the run); files are not opened here. A symbolic
        link under a folder whose target is missing is skipped with a logged warning; the
        AppleDouble files of a macOS zip (``._x.wav``, the ``__MACOSX`` folder: Finder
        metadata named like the recording, never audio) are skipped, as training skips them. A
        FIFO, socket or device with such a suffix under a folder is yielded, in order, with the
        :class:`~ser_live.errors.AudioFileError` :func:`audio_info` raises when one is named
        (it is not opened: a FIFO would block the run). A folder under it that cannot be read
        (no permission) yields that folder with an :class:`~ser_live.errors.AudioFileError`
        after the files found, as its files cannot be listed; a path that cannot be looked at
        (under a folder without permission) is yielded as a file, for the reader to report.
    """
    for raw in paths:
        p = Path(raw)
        try:
            is_dir = p.is_dir()
        except OSError:  # no permission on a folder above it: the file's reader says so
            is_dir = False
        if is_dir:
            found, special, unreadable = [], set(), []
            for top, dirs, files in os.walk(p, onerror=unreadable.append):  # symlinked folders not entered
                dirs[:] = [d for d in dirs if d != "__MACOSX"]
                for name in [*files, *dirs]:
                    f = Path(top) / name
                    if f.suffix.lower() not in AUDIO_SUFFIXES or name.startswith("._"):
                        continue
                    try:
                        if f.is_file():
                            found.append(f)
                        elif f.is_symlink() and not f.exists():
                            log.warning("%s: skipped, a symbolic link to a missing file (%s)", f, os.readlink(f))
                        elif f.exists() and not f.is_dir():  # a FIFO, socket or device: stat'ed, never opened
                            found.append(f)
                            special.add(f)
                    except OSError:
                        found.append(f)
            found.sort()
            if not found and not unreadable:
                yield raw, AudioFileError(f"{raw}: folder holds no audio files ({', '.join(AUDIO_SUFFIXES)})")
            for f in found:
                yield str(f), _not_regular_file_error(f) if f in special else None
            for exc in unreadable:
                yield exc.filename or raw, AudioFileError(
                    f"{exc.filename or raw}: {unreadable_folder_reason(exc, missed='classified')}")
        else:
            yield raw, None


def _not_regular_file_error(path: Path) -> AudioFileError:
    """The error of a FIFO, device or socket given as an audio file (named, or found in a
    folder walk): never opened, as reading a FIFO blocks until a writer comes."""
    return AudioFileError(f"{path}: not a regular file (a FIFO, device or socket); save the audio to a file first")


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
        The file does not exist (or is a symbolic link to a missing file), is a folder or not a regular file (a FIFO, device or
        socket: never opened, so a FIFO cannot hang the call), is empty (0 bytes), cannot
        be opened (no permission), cannot be decoded, holds no samples, or says a sample rate
        below :data:`MIN_SAMPLE_RATE_HZ`.
    """
    p = Path(path)
    if "\x00" in str(p):
        raise AudioFileError(f"{p!r}: a file name cannot hold a NUL byte")
    try:
        st = p.stat()
    except FileNotFoundError:
        if p.is_symlink():  # it is there, what it points at is not (a folder walk says the same)
            raise AudioFileError(f"{p}: a symbolic link to a missing file ({os.readlink(p)}): "
                                 "point it at the recording, or give the recording's own path") from None
        raise AudioFileError(f"{p}: no such file") from None
    except OSError as exc:
        raise AudioFileError(f"{p}: cannot read it ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise AudioFileError(f"{p}: is a folder, not an audio file")
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular_file_error(p)
    if st.st_size == 0:
        raise AudioFileError(f"{p}: empty file (0 bytes)")
    try:  # libsndfile says "System error" for a file it may not open, as if it were damaged
        with open(p, "rb"):
            pass
    except OSError as exc:
        raise AudioFileError(f"{p}: cannot read it ({exc.strerror or exc})") from exc
    try:
        with fork_guard():  # soundfile's open lock: no fork meanwhile (ser_live.forksafe)
            info = AudioInfo(p, sf.info(_libsndfile_name(p)))
    except Exception as exc:  # soundfile raises LibsndfileError/RuntimeError/TypeError
        known = p.suffix.lower() in (".wav", ".flac", ".ogg", ".oga", ".opus")
        advice = ("the file may be damaged or cut short: check it plays, or convert it again"
                  if known else "give a WAV, FLAC or OGG file")
        raise AudioFileError(
            f"{p}: cannot read as audio ({exc}); {advice} "
            "(e.g. `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`)"
        ) from exc
    if info.n_frames <= 0 or info.sample_rate_hz <= 0:
        raise AudioFileError(f"{p}: the file holds no audio samples (empty)")
    if info.sample_rate_hz < MIN_SAMPLE_RATE_HZ:  # resampled to 16 kHz, each second would become hours
        raise AudioFileError(
            f"{p}: its header says {info.sample_rate_hz} Hz, below the {MIN_SAMPLE_RATE_HZ} Hz any speech "
            "recording has (a damaged or hand-written header?); convert it with the right rate "
            "(e.g. `ffmpeg -i IN -ar 16000 -ac 1 OUT.wav`)")
    return info


#: Lowest sample rate (Hz) a file may have: 4 kHz keeps speech up to 2 kHz, below telephone
#: audio's 8 kHz; a lower rate is a damaged header, and 16 kHz of it would take hours per second.
MIN_SAMPLE_RATE_HZ: int = 4000


#: A WAV ``data`` size from which it means "length unknown": what recorders write when their
#: output is a pipe and they cannot go back to fix it (arecord ``0x7FFFFFFF``, SoX ``0x7FFFF000``,
#: RF64 and others ``0xFFFFFFFF``). The price: a plain WAV of over 2 GB that was cut short is
#: replayed without the "truncated" error (such files are rare; RF64 is the format for them).
_STREAMED_DATA_SIZE: int = 0x7FFF0000


def wav_declared_frames(path: str | Path, info: AudioInfo) -> int | None:
    """Frames a WAV file's ``data`` chunk header announces (libsndfile reports what the
    file holds, so a cut file reads as a shorter one without a word).

    Parameters
    ----------
    path : str or Path
    info : AudioInfo
        The file's :func:`audio_info`.

    Returns
    -------
    int or None
        Frames announced; None for other formats, an RF64/streamed size (``0``, or
        :data:`_STREAMED_DATA_SIZE` and more, as arecord and SoX write to a pipe), a
        compressed subtype, or a header this reader does not follow.

    Notes
    -----
    RIFF chunks: 4-byte id, 4-byte little-endian size, data padded to an even length
    (Microsoft "Multimedia Programming Interface and Data Specifications 1.0", 1991).
    """
    if info.format != "WAV":
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
                return None
            block_align = None
            for _ in range(64):  # chunks before "data": fmt, LIST, fact, ...
                hdr = f.read(8)
                if len(hdr) < 8:
                    return None
                cid, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                if cid == b"fmt ":
                    fmt = f.read(size + (size & 1))
                    if len(fmt) >= 14:
                        block_align = struct.unpack("<H", fmt[12:14])[0]
                    continue
                if cid == b"data":
                    if not block_align or size == 0 or size >= _STREAMED_DATA_SIZE:
                        return None
                    return size // block_align
                f.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return None
    return None


def _truncated_text(info: AudioInfo, *, read_frames: int, expected_frames: int, inside: bool = False) -> str:
    """The message of a file that ended before its header said: the file and how much of it
    could be read. ``inside``: the decoder gave fewer samples than it counted itself when the
    file was opened (an Ogg Vorbis page it could not read is skipped, not a cut end), so
    samples are missing inside the file and the times after the damage are early."""
    rate = info.sample_rate_hz
    if inside:
        missing_s = (expected_frames - read_frames) / rate
        return (
            f"{info.path}: {missing_s:.2f} s of its {expected_frames / rate:.2f} s could not be decoded (damaged "
            f"data the decoder skipped): the times after the damage are early by up to {missing_s:.2f} s; "
            "re-export the file from its source if times matter"
        )
    return (
        f"{info.path}: truncated: the header announces {expected_frames / rate:.2f} s, only "
        f"{read_frames / rate:.2f} s could be read ({100 * read_frames / expected_frames:.0f} %)"
    )


def to_mono(block: np.ndarray) -> np.ndarray:
    """Average channels, as every reader of a file does.

    Parameters
    ----------
    block : np.ndarray, float32, shape (n_frames, channels) or (n_frames,)

    Returns
    -------
    np.ndarray, float32, shape (n_frames,)
        The mean over channels (float32 accumulation); a 1-D block as it is.
    """
    if block.ndim == 1:
        return block
    return block.mean(axis=1, dtype=np.float32)


#: Audio recorded below this sample rate (Hz) lacks the upper bands the model was trained on.
MIN_FULL_BAND_HZ: int = 16000


def warn_if_narrowband(what: str | Path, rate_hz: float) -> None:
    """Log a warning when audio (a file, a signal, pushed blocks) at ``rate_hz`` is below
    :data:`MIN_FULL_BAND_HZ` (e.g. 8 kHz telephone audio): it is resampled, but its bands
    above half its rate are empty, and the model was trained on full-band speech.

    Parameters
    ----------
    what : str or Path
        What the audio is, the start of the message (a path, ``"PushSource"``).
    rate_hz : float
        Its sample rate (Hz).
    """
    if rate_hz < MIN_FULL_BAND_HZ:
        log.warning("%s: recorded at %g Hz (nothing above %.1f kHz); the model was trained on speech "
                    "of %d Hz and more, so expect it to be less accurate here", what, rate_hz, rate_hz / 2000,
                    MIN_FULL_BAND_HZ)


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


def new_resampler(rate_in_hz: float, rate_out_hz: float, *, dtype: str = "float32") -> Any:
    """The project's one resampler, for files, arrays and microphones alike: soxr's streaming
    resampler, mono, quality "HQ" (the filter of :func:`librosa.resample` with
    ``res_type="soxr_hq"``), so every path that resamples gives the same samples.

    Parameters
    ----------
    rate_in_hz, rate_out_hz : float
        Sample rates in and out (Hz).
    dtype : {"float32", "int16"}, default "float32"
        Sample type of the chunks given and returned.

    Returns
    -------
    soxr.ResampleStream
        ``resample_chunk(x, last=False)`` takes 1-D chunks in order; ``last=True`` on the last
        flushes the filter.
    """
    import soxr

    return soxr.ResampleStream(rate_in_hz, rate_out_hz, 1, dtype=dtype, quality="HQ")


def decode_audio(
    path: str | Path | AudioInfo,
    *,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    max_duration_s: float | None = None,
    channel: int | None = None,
) -> np.ndarray:
    """Decode a whole file to mono int16, exactly as a replay streams it.

    The concatenation of :func:`iter_audio_blocks` converted with :func:`to_int16`: the
    samples a :class:`~ser_live.audio.FileSource` writes into the ring buffer, for any rate
    and channel count.

    Parameters
    ----------
    path : str, Path or AudioInfo
        Audio file (any format libsndfile reads, any rate, any channel count), or its header
        as :func:`audio_info` read it (not read again).
    sample_rate_hz : int, default 16000
        Target sample rate (Hz).
    max_duration_s : float, optional
        Refuse files longer than this many seconds (checked on the header, before decoding).
    channel : int, optional
        As :func:`iter_audio_blocks`: that channel (0-based) alone instead of the average.

    Returns
    -------
    np.ndarray, int16, shape (n_samples,)
        A file cut short (see :func:`iter_audio_blocks`) gives the samples it holds, with a
        logged warning.

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, longer than ``max_duration_s``, holding NaN
        or infinite samples, a block that cannot be decoded, or no such ``channel``.
    """
    info = path if isinstance(path, AudioInfo) else audio_info(path)
    _check_duration(info, max_duration_s)
    blocks = [to_int16(y) for y in iter_audio_blocks(info, sample_rate_hz=sample_rate_hz, on_truncated="warn",
                                                     channel=channel)]
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
    path: str | Path | AudioInfo,
    *,
    block_s: float = DECODE_BLOCK_S,
    sample_rate_hz: int = SAMPLE_RATE_HZ,
    on_truncated: str = "raise",
    channel: int | None = None,
) -> Iterator[np.ndarray]:
    """Decode a file block by block, mono float32 at ``sample_rate_hz``, in constant memory.

    Resampling is streaming (a soxr ``ResampleStream``), so an hour-long 48 kHz stereo
    file is never held in memory whole.

    Parameters
    ----------
    path : str, Path or AudioInfo
        Audio file, or its header as :func:`audio_info` read it (not read again).
    block_s : float, default 0.25
        Length of each decoded block, in seconds of the file (does not change the samples).
    sample_rate_hz : int, default 16000
        Output sample rate (Hz).
    on_truncated : {"raise", "warn"}, default "raise"
        What to do when the file ends before its header says (a WAV cut short, whose
        ``data`` chunk announces more frames than it holds, any file that shrinks while it
        is read, or an Ogg Vorbis file with damaged pages, which the decoder skips: then the
        message says that samples are missing inside the file and later times are early):
        once every sample it holds has been yielded, ``"raise"`` raises
        :class:`~ser_live.errors.AudioFileError` (a replay ends with it), ``"warn"`` logs a
        warning and ends (offline prediction and training classify what is there).

    channel : int, optional
        That channel alone (0-based; a call recorder's agent or caller), instead of the
        average of all channels (None, the default).

    Yields
    ------
    np.ndarray, float32, shape (n,)
        Consecutive blocks; their concatenation is the whole resampled file.

    Raises
    ------
    AudioFileError
        Missing, unreadable or empty file, a block holding NaN or infinite samples, or one
        that cannot be decoded (raised when that block is reached, naming how far the file
        was read), (``on_truncated="raise"``) a file cut short, after its last block, or a
        ``channel`` the file does not have (raised before decoding).
    ValueError
        ``on_truncated`` is neither ``"raise"`` nor ``"warn"``.
    """
    if on_truncated not in ("raise", "warn"):
        raise ValueError(f'on_truncated must be "raise" or "warn", got {on_truncated!r}')
    info = path if isinstance(path, AudioInfo) else audio_info(path)
    if channel is not None and not 0 <= channel < info.channels:
        raise AudioFileError(f"{info.path}: has {info.channels} channel{'s' if info.channels > 1 else ''}, "
                             f"no channel {channel + 1}")
    rate = info.sample_rate_hz
    expected = max(info.n_frames, wav_declared_frames(info.path, info) or 0)
    block_frames = max(1, int(round(block_s * rate)))
    resampler = None
    if rate != sample_rate_hz:
        resampler = new_resampler(rate, sample_rate_hz)
    offset = 0
    size_at_open = _file_size(info.path)
    try:
        with fork_guard():  # soundfile's open lock: no fork meanwhile (ser_live.forksafe)
            f = sf.SoundFile(_libsndfile_name(info.path))
        with f:
            expected = max(expected, f.frames)  # what the file held when opened
            while True:
                block = f.read(block_frames, dtype="float32", always_2d=False)
                last = len(block) < block_frames
                _require_finite(block, info.path, offset_frames=offset, sample_rate_hz=rate)
                offset += len(block)
                block = np.asarray(block, dtype=np.float32)
                y = to_mono(block) if channel is None or block.ndim == 1 else block[:, channel].copy()
                if resampler is not None:
                    y = resampler.resample_chunk(y, last=last)
                if y.size:
                    yield np.clip(y, -1.0, 1.0).astype(np.float32, copy=False)
                if last:
                    break
    except AudioFileError:
        raise
    except Exception as exc:
        raise AudioFileError(
            f"{info.path}: decoding failed at {offset / rate:.2f} s of {expected / rate:.2f} s "
            f"({str(exc) or type(exc).__name__}); the file is damaged or cut short"
        ) from exc
    if offset < expected:
        # fewer samples than the decoder counted in a file that did not shrink meanwhile:
        # samples missing inside it (a file cut while it is read lost its end instead)
        size_now = _file_size(info.path)
        inside = offset < info.n_frames and None not in (size_at_open, size_now) and size_now >= size_at_open
        text = _truncated_text(info, read_frames=offset, expected_frames=expected, inside=inside)
        if on_truncated == "raise":
            raise AudioFileError(text)
        log.warning("%s" if inside else "%s; classifying what is there", text)


def _file_size(path: Path) -> int | None:
    """Size of the file (bytes), None when it cannot be asked."""
    try:
        return os.stat(path).st_size
    except OSError:
        return None


def to_int16(y: np.ndarray) -> np.ndarray:
    """float32 in [-1, 1] -> int16 (rounded, clipped to [-32768, 32767]); shape kept."""
    return np.clip(np.rint(np.asarray(y, dtype=np.float32) * 32768.0), -32768, 32767).astype(
        np.int16
    )


def to_float32(x: np.ndarray) -> np.ndarray:
    """int16 -> float32 in [-1, 1) (divided by 32768, exactly invertible by :func:`to_int16`)."""
    return np.asarray(x, dtype=np.int16).astype(np.float32) / np.float32(32768.0)


def write_wav(path: str | Path, samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    """Write mono 16-bit PCM WAV (its folder made if missing).

    Parameters
    ----------
    path : str or Path
    samples : np.ndarray, shape (n_samples,)
        int16 (written as is) or float32 in [-1, 1] (rounded to int16 by :func:`to_int16`,
        clipped at full scale).
    sample_rate_hz : int, default 16000
        Sample rate written in the header (Hz).

    Returns
    -------
    Path
        The path written.

    Raises
    ------
    OSError
        The folder cannot be made or the file cannot be written (e.g. a full disk).
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    x = samples if samples.dtype == np.int16 else to_int16(samples)
    with fork_guard():  # soundfile's open lock: no fork meanwhile (ser_live.forksafe)
        sf.write(_libsndfile_name(p), x, sample_rate_hz, subtype="PCM_16", format="WAV")
    return p
