"""Exit codes of the ``ser-live`` command and the exceptions that carry them.

:data:`EXIT_CODES` is the one table of exit statuses: ``ser-live --help`` prints it and
``tests/test_cli.py`` checks that the README's exit-code table says the same. Every error
message says what went wrong *and* what to do about it.
"""

from __future__ import annotations

from enum import IntEnum

__all__ = [
    "ExitCode",
    "EXIT_CODES",
    "exit_codes_help",
    "exit_codes_markdown",
    "SerLiveError",
    "AudioFileError",
    "NoSpeechError",
    "ModelError",
    "DeviceError",
    "CaptureError",
    "PortAudioMissingError",
    "os_error_text",
]


class ExitCode(IntEnum):
    """The process exit statuses of ``ser-live`` (meanings in :data:`EXIT_CODES`)."""

    OK = 0
    ERROR = 1
    USAGE = 2
    AUDIO_FILE = 3
    NO_SPEECH = 4
    MODEL = 5
    DEVICE = 6
    PORTAUDIO_MISSING = 7
    CLUSTER = 8
    INTERRUPTED = 130  # 128 + SIGINT, the shell convention


#: Each exit status with its short meaning (``--help``) and its full meaning (README).
EXIT_CODES: dict[ExitCode, tuple[str, str]] = {
    ExitCode.OK: ("ok", "success"),
    ExitCode.ERROR: (
        "error (or results or recordings could not be written)",
        "unexpected error, or results could not be written to `--output`/`--jsonl`/stdout, or "
        "`--save-utterances` could not save (each reported once; the run goes on and keeps what "
        "it can, and a listening run whose every result output failed, with nothing saved, ends)",
    ),
    ExitCode.USAGE: ("usage", "usage error"),
    ExitCode.AUDIO_FILE: (
        "bad audio file",
        "unusable audio file: missing, unreadable, empty, too long for `predict`, not a regular file "
        "(FIFO, device), holding NaN/infinite samples, or cut short, found while `--input` replays it (`predict` warns and classifies what is there)",
    ),
    ExitCode.NO_SPEECH: ("no speech", "no speech detected"),
    ExitCode.MODEL: (
        "model",
        "model file missing, incompatible, incomplete, or naming a type outside the trusted list "
        "(see Security)",
    ),
    ExitCode.DEVICE: (
        "no input device or the microphone stopped delivering audio",
        "no (usable) input device, or the microphone stopped delivering audio: stream ended (audio "
        "server gone, device unplugged), no audio for `--no-audio-timeout-s`, or none by the end of "
        "`--duration-s`; or the audio server did not answer within `--no-audio-timeout-s` (10 s for "
        "`devices`)",
    ),
    ExitCode.PORTAUDIO_MISSING: ("PortAudio missing", "PortAudio missing"),
    ExitCode.CLUSTER: (
        "Dask cluster unreachable or lost (predict --dask)",
        "Dask cluster unreachable or lost (`predict --dask`); what was written stays written, "
        "`--resume` finishes it",
    ),
    ExitCode.INTERRUPTED: (
        "interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT)",
        "interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT), after the summary and with every recording "
        "written",
    ),
}


def exit_codes_help() -> str:
    """The ``exit codes:`` paragraph of ``ser-live --help``, from :data:`EXIT_CODES`.

    Returns
    -------
    str
        One line per exit status, ``"  N  meaning"``, under the heading ``exit codes:``.
    """
    return "exit codes:\n" + "".join(f"  {int(c):<4d} {short}\n" for c, (short, _) in EXIT_CODES.items())


#: What to do about a file system error, by errno name.
_OS_ERROR_ADVICE = {
    "ENOSPC": "the disk is full: free some space or write to another disk",
    "EDQUOT": "the disk quota is used up: free some space or write elsewhere",
    "EROFS": "the file system is read-only: write to another folder",
    "EACCES": "no permission: give a path this user may use",
    "EPERM": "no permission: give a path this user may use",
    "EISDIR": "that path is a folder: give a file name",
    "ENOTDIR": "a part of that path is a file, not a folder: check the path",
}


def os_error_text(exc: OSError) -> str:
    """A file system error in words a user can act on: the file the user named (a
    temporary file ``.<name>.<16 hex>.tmp`` written beside it, as
    :func:`ser_live.fsutil.atomic_writer` makes, is shown as that name), what went wrong and
    what to do.

    Parameters
    ----------
    exc : OSError

    Returns
    -------
    str
        E.g. ``"out.csv: No space left on device (the disk is full: free some space or write
        to another disk)"``; without a file name, the reason and the advice (or
        ``str(exc)``).
    """
    import errno
    import os
    import re

    advice = _OS_ERROR_ADVICE.get(errno.errorcode.get(exc.errno or 0, ""), "")
    reason = exc.strerror or str(exc)
    name = exc.filename
    if name is None:
        return f"{reason} ({advice})" if advice and exc.strerror else str(exc)
    path = os.fsdecode(name)
    folder, base = os.path.split(path)
    m = re.fullmatch(r"\.(.+)\.[0-9a-f]{16}\.tmp", base)
    if m:
        path = os.path.join(folder, m.group(1))
    return f"{path}: {reason}" + (f" ({advice})" if advice else "")


def exit_codes_markdown() -> str:
    """The README's exit-code table (Markdown), from :data:`EXIT_CODES`.

    Returns
    -------
    str
        ``| exit | meaning |`` and one row per exit status, newline-terminated.
    """
    rows = "".join(f"| {int(c)} | {full} |\n" for c, (_, full) in EXIT_CODES.items())
    return "| exit | meaning |\n|---|---|\n" + rows


class SerLiveError(Exception):
    """Base class of every error ser-live raises on purpose.

    Attributes
    ----------
    exit_code : int
        Process exit status the CLI returns for this error.
    """

    exit_code: int = ExitCode.ERROR


class AudioFileError(SerLiveError):
    """An audio file cannot be used (exit status 3): missing, unreadable, empty, a folder or
    not a regular file (a FIFO, a device), too long for the call, holding NaN or infinite
    samples, lacking the channel asked for, or (found where the decoder reaches it) damaged
    or cut short (:mod:`ser_live.audiofile`)."""

    exit_code = ExitCode.AUDIO_FILE


class NoSpeechError(SerLiveError):
    """The voice activity detector found no speech in the audio (silent or noise-only input),
    or the audio is shorter than an utterance's minimum (``VadConfig.min_utterance_s``);
    exit status 4."""

    exit_code = ExitCode.NO_SPEECH


class ModelError(SerLiveError):
    """A model cannot be loaded (exit status 5): the file is missing (or no shipped model
    has that name), is not a model (a model card or recipe), is corrupt, holds types ser-live
    does not trust, or was made by an incompatible version/extractor
    (:meth:`EmotionModel.load <ser_live.model.EmotionModel.load>`)."""

    exit_code = ExitCode.MODEL


class DeviceError(SerLiveError):
    """No usable input device (exit status 6): none present, the named one not found or
    ambiguous, busy or gone, none of its settings open, or the sounddevice package missing;
    :class:`~ser_live.audio.AudioSystemHungError` (the audio server did not answer) is one."""

    exit_code = ExitCode.DEVICE


class CaptureError(DeviceError):
    """The input device stopped delivering audio mid-run: its stream ended or failed (e.g.
    the audio server died, the device was unplugged), no samples came for longer than
    the no-audio timeout (e.g. a suspended or muted source), or resampling its audio failed;
    exit status 6."""

    exit_code = ExitCode.DEVICE


class PortAudioMissingError(DeviceError):
    """The PortAudio shared library (needed by sounddevice for the microphone) is not
    installed; exit status 7."""

    exit_code = ExitCode.PORTAUDIO_MISSING
