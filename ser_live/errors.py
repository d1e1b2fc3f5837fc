"""Exceptions raised by ser-live, each with the process exit code the CLI uses for it.

Every error message says what went wrong *and* what to do about it.
"""

from __future__ import annotations

__all__ = [
    "SerLiveError",
    "AudioFileError",
    "NoSpeechError",
    "ModelError",
    "DeviceError",
    "CaptureError",
    "PortAudioMissingError",
]


class SerLiveError(Exception):
    """Base class of every error ser-live raises on purpose.

    Attributes
    ----------
    exit_code : int
        Process exit status the CLI returns for this error.
    """

    exit_code: int = 1


class AudioFileError(SerLiveError):
    """An audio file cannot be used: missing, unreadable, empty, or too long for the call."""

    exit_code = 3


class NoSpeechError(SerLiveError):
    """The voice activity detector found no speech in the audio (silent or noise-only input)."""

    exit_code = 4


class ModelError(SerLiveError):
    """A model file is missing, corrupt, or was made by an incompatible version/extractor."""

    exit_code = 5


class DeviceError(SerLiveError):
    """No usable input device: none present, the named one not found, or it is busy."""

    exit_code = 6


class CaptureError(DeviceError):
    """The input device stopped delivering audio mid-run: its stream ended or failed (e.g.
    the audio server died, the device was unplugged), or no samples came for longer than
    the no-audio timeout (e.g. a suspended or muted source)."""

    exit_code = 6


class PortAudioMissingError(DeviceError):
    """The PortAudio shared library (needed by sounddevice for the microphone) is not installed."""

    exit_code = 7
