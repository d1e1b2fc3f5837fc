"""``ser-live devices``: list the audio input devices."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ExitCode
from .options import _err, _Formatter


def add_devices_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``devices`` subcommand's parser."""
    from ..audio import NO_AUDIO_TIMEOUT_S

    d = sub.add_parser("devices", help="list input devices (* marks the default)", formatter_class=_Formatter,
                       description="List the audio input devices PortAudio sees; * marks the default.\n"
                                   "Exit status 6 when there is no input device or the audio server does not "
                                   f"answer within {NO_AUDIO_TIMEOUT_S:g} s, 7 when PortAudio is missing.")
    d.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr")
    return d


def _cmd_devices(args: argparse.Namespace) -> int:
    """``ser-live devices``: one line per input device on stdout; exit 6 (the README's
    table, :data:`ser_live.errors.EXIT_CODES`) when there is none."""
    from ..audio import list_input_devices

    devices = list_input_devices()  # PortAudioMissingError / DeviceError -> exit codes
    if not devices:
        _err("error: no input devices found; connect a microphone, or replay a recording with `ser-live --input FILE`")
        return ExitCode.DEVICE
    for dev in devices:
        mark = "*" if dev["is_default"] else " "
        print(
            f"{mark} {dev['index']:3d}  {dev['name']}  ({dev['hostapi']}, "
            f"{dev['max_input_channels']} ch, {dev['default_samplerate']:.0f} Hz)"
        )
    print("(* = default input device; choose one with --device INDEX or --device NAME)")
    return 0
