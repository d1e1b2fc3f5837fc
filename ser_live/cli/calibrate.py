"""``ser-live calibrate``: make a personal profile (guided takes, or ``--from takes.csv``)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import Any

from ..errors import DeviceError, ExitCode, SerLiveError
from ..fsutil import expand_home
from .listen import _open_microphone
from .options import EXIT_INTERRUPTED, _add_common, _err, _Formatter, _model_path, _positive_or_zero
from .signals import _stop_signals_as_interrupt, _stop_signals_ignored


_CALIBRATE_EPILOG = """\
Guided (default): the screen shows a neutral sentence and the emotion to say it in, N times
(--per-class) for each of the model's labels. Each take is one utterance cut by the same
VAD as `ser-live` (speak, then pause: no key to press, so it also works with no keyboard).
A take that is too short (under 0.8 s of speech), too quiet, clipped or not speech is
rejected with the reason and asked again. When every take is in, the profile is built and
saved; Ctrl-C stops at once and writes nothing. --input FILE replays a recording as the
microphone (one utterance per prompt, in prompt order: label by label, in the model's
label order).

From recordings you already have: --from FILE.csv with the header `path,label` (UTF-8, a
BOM allowed; relative paths are relative to the CSV's folder); every label must be one of
the model's and every label needs at least one recording. A missing file, an unknown
label, a label with no recording, a bad header, or an unreadable file: the first few are
named, nothing is written and the exit status is 2. Each take is checked as a guided one
(clipped, too short, too quiet, not speech): one that fails is left out with the reason, and
a label left with no take is refused as above.

Each accepted take says what the model heard in it without a profile ("heard as sad 0.61"),
and the end how many takes the profile reads as their labels, and the model without it
(on the takes themselves: how the profile fits them, not a held-out score).

The profile holds your voice's feature statistics and a small recalibration of the model's
probabilities (ser_live/profile.py); it works only with the model it was made for (another
model refuses it, exit 2: make one per model, e.g. --profile anna-7class). A bare NAME is
saved in the user data folder; use it with `ser-live --profile NAME [--model M]` and
`ser-live predict --profile NAME ...` (the closing line says how). An existing profile at
the same place is said before the first take, and replaced when the new one is saved; a
file there that is not a profile (a CSV, a recording) is never replaced (exit 2).

exit codes: 0 profile written, 1 the profile could not be saved (disk full), 2 usage or
calibration-list error, or a --profile that cannot be written (checked before the first take;
nothing written), 3 an --input file that cannot be read or is cut short, 5 model, 6 no input device or the microphone stopped
(its stream ended, or no audio for --no-audio-timeout-s), 130 interrupted
(nothing written).

examples:
  ser-live calibrate --profile anna                    3 takes per emotion from the microphone
  ser-live calibrate --profile anna-7class --per-class 5 --model 7class
  ser-live calibrate --profile ./anna.npz --from takes.csv
"""


def add_calibrate_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``calibrate`` subcommand's parser."""
    cal = sub.add_parser(
        "calibrate", help="record a personal profile (prompted takes in each emotion) for `--profile`",
        formatter_class=_Formatter, epilog=_CALIBRATE_EPILOG,
        description="Make a personal profile: your voice's statistics and an adaptation of the model\n"
                    "to your labelled takes, saved for `ser-live --profile NAME`.",
    )
    cal.add_argument("--per-class", type=int, default=3, metavar="N",
                     help="takes per emotion label (default: 3; at least 1)")
    cal.add_argument("--from", dest="from_csv", type=expand_home, metavar="FILE.csv",
                     help="build the profile from recordings listed in a `path,label` CSV instead of recording")
    cal.add_argument("--input", type=expand_home, metavar="FILE", help="replay an audio file as the microphone")
    cal.add_argument("--device", metavar="DEV", help="input device index or (part of its) name")
    from ..audio import NO_AUDIO_TIMEOUT_S, NO_AUDIO_WARN_S
    from .options import _positive

    cal.add_argument("--no-audio-timeout-s", type=_positive, default=NO_AUDIO_TIMEOUT_S, metavar="SECONDS",
                     help="end the calibration (exit 6, no profile written) when the microphone delivers no audio "
                          "for this long, or the audio server does not answer for this long while the device opens "
                          f"(default: {NO_AUDIO_TIMEOUT_S:g}; a warning comes after {NO_AUDIO_WARN_S:g} s)")
    cal.add_argument("--speed", type=_positive_or_zero, default=1.0, metavar="X",
                     help="replay speed of --input (1 real time, 0 as fast as possible)")
    cal.add_argument("--plain", action="store_true",
                     help="one text line per take instead of the screen (automatic when stdout is not a terminal, or TERM=dumb)")
    _add_common(cal)
    return cal


def _cmd_calibrate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from ..model import EmotionModel
    from ..profile import profile_path

    usage = None
    if not getattr(args, "profile", None):
        usage = "calibrate needs --profile NAME|PATH (where to save the profile)"
    elif args.per_class < 1:
        usage = f"--per-class must be at least 1, got {args.per_class}"
    elif args.from_csv and (args.input or args.device):
        usage = "give --from FILE.csv, or record (microphone, --device or --input), not both"
    elif args.input and args.device:
        usage = "give either --input FILE or --device DEV, not both"
    if usage:
        parser.print_usage(sys.stderr)
        _err(f"error: {usage}")
        return ExitCode.USAGE
    path = profile_path(args.profile)
    from ..calibrate import check_profile_destination

    check_profile_destination(path)  # before any take: a target that cannot be written loses nothing (exit 2)
    model = EmotionModel.load(_model_path(args.model))
    _warn_replacing(path)  # before any take, not after a minute of them
    if args.from_csv:
        return _calibrate_from_csv(args, model, path)
    return _calibrate_live(args, model, path)


def _warn_replacing(path: Path) -> None:
    """Say, before any take, that a profile at ``path`` (and the model it is for) will be
    replaced when the calibration completes; refuse (:class:`~ser_live.profile.ProfileError`,
    exit 2) a file there that is not a profile and not a ``.npz`` (the takes' CSV or a
    recording named by a slip: the profile would replace it)."""
    from ..profile import PROFILE_SUFFIX, ProfileError, load_profile

    if not path.exists():
        return
    try:
        made_for = f" (made for model {load_profile(path).model_name})"
    except ProfileError as exc:
        if path.suffix.lower() != PROFILE_SUFFIX:
            raise ProfileError(f"cannot save the profile to {path}: it exists and is not a ser-live profile; "
                               "nothing recorded (choose another --profile: a name, or a .npz path)") from exc
        made_for = ""
    _err(f"a profile exists at {path}{made_for}: this calibration will replace it when it completes "
         "(Ctrl-C keeps it; another --profile keeps both)")


def _save_profile(prof: Any, model: Any, path: Path, *, read_as_labels: tuple[int, int]) -> int:
    """Save and report a profile; 0, or 1 when it cannot be written (disk full: the message
    says so; an earlier profile at ``path`` is left as it was). ``read_as_labels``: how many
    of its takes it reads as their labels, and the model without it
    (:func:`~ser_live.calibrate.takes_read_as_labels`)."""
    import errno

    from ..calibration_view import format_takes_read
    from ..profile import _model_argument, profile_command

    try:
        prof.save(path)
    except OSError as exc:
        full = " (the disk is full)" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else ""
        _err(f"error: cannot save the profile to {path}: {exc.strerror or exc}{full}; no profile written")
        return ExitCode.ERROR
    counts = ", ".join(f"{k} {v}" for k, v in prof.counts.items())
    print(f"profile {prof.name!r} written to {path} ({prof.n_utterances} utterances: {counts}; model {model.name})",
          flush=True)
    print(format_takes_read(*read_as_labels, n_takes=prof.n_utterances), flush=True)
    arg = _model_argument(model)
    print(f"use it with: {profile_command(path, model=None if arg == 'default' else arg)}", flush=True)
    return 0


def _calibrate_from_csv(args: argparse.Namespace, model: Any, path: Path) -> int:
    """``--from FILE.csv``: each listed take judged as a guided one (a line each), then the profile."""
    import numpy as np

    from ..calibrate import profile_from_takes, read_calibration_takes, takes_read_as_labels
    from ..calibration_view import format_take

    takes = read_calibration_takes(model, args.from_csv, vad_config=args.vad_config)
    for i, t in enumerate(takes, start=1):
        print(format_take(i, len(takes), label=t.label, duration_s=t.duration_s, heard=t.heard, reason=t.reason), flush=True)
    prof = profile_from_takes(model, takes, name=path.stem, source=args.from_csv)
    kept = [t for t in takes if t.reason is None]
    read = takes_read_as_labels(model, prof, X=np.stack([t.features for t in kept]),
                                y=np.array([model.labels.index(t.label) for t in kept]))
    return _save_profile(prof, model, path, read_as_labels=read)


def _input_watch(state: Any, *, screen: bool, source: Any, microphone: bool) -> Any:
    """The ``watch`` of :meth:`LiveCalibration.run <ser_live.calibrate.LiveCalibration.run>`:
    the input gone silent (exact zeros: a muted microphone; or no audio at all) and back, as
    ``ser-live --plain`` says them (:class:`~ser_live.cli.stream_events.StreamEvents`): a
    ``!`` line, or on the screen a line below the level until the input is back. Without it a
    muted microphone left the prompt waiting with nothing said."""
    from ..plaintext import event_text, format_event
    from .stream_events import StreamEvents

    events = StreamEvents()

    def watch(status: Any) -> None:
        for record in events.poll(status, source=source):
            if record.get("kind") != "input":
                continue
            if screen:
                hint = "; unmute it, or choose another with --device" if microphone else ""
                state.set_alert(event_text(record) + hint if record["state"] == "silent" else "")
            else:
                print(format_event(record), flush=True)

    return watch


def _calibrate_live(args: argparse.Namespace, model: Any, path: Path) -> int:
    """Guided takes (:class:`~ser_live.calibrate.LiveCalibration`), shown as a rich screen on a
    terminal or one line per take."""
    from ..audio import FileSource, PortAudioNoiseFilter
    from ..audiofile import warn_if_narrowband
    from ..calibrate import LiveCalibration
    from ..calibration_view import format_calibration_event, render_calibration

    if args.input is not None:
        source: Any = FileSource(args.input, speed=args.speed)
        source_name = Path(args.input).name
        warn_if_narrowband(args.input, source.info.sample_rate_hz)  # a profile of telephone audio: as listen --input
    else:
        args.demo_fallback = False  # the demo recording is not the user's voice
        try:
            source, source_name = _open_microphone(args)  # type: ignore[misc]
        except DeviceError as exc:  # same class, same exit status; say how to do without a microphone
            from ..profile import profile_command

            cmd = profile_command(path, model=args.model, calibrate=True, extra=("--from", "takes.csv"))
            raise type(exc)(f"{exc}; or make the profile from recordings you already have: "
                            f"{cmd} (a CSV `path,label`)") from exc
    cal = LiveCalibration(model, source, per_class=args.per_class, vad_config=args.vad_config,
                          source_name=source_name, profile_path=path)
    state, rec = cal.state, cal.recognizer
    live = None
    from ..widgets import stdout_redraws, terminal_console

    if not args.plain and stdout_redraws():  # else a line per take: a pipe, a file, TERM=dumb
        from rich.live import Live

        live = Live(render_calibration(state), console=terminal_console(), auto_refresh=False, transient=False)

    def show(event: bool) -> None:
        if live is not None:
            live.update(render_calibration(state), refresh=True)
        elif event:
            print(format_calibration_event(state), flush=True)

    watch = _input_watch(state, screen=live is not None, source=source, microphone=args.input is None)
    interrupted = False
    noise_filter = PortAudioNoiseFilter() if args.input is None else contextlib.nullcontext()
    with _stop_signals_as_interrupt(), noise_filter:
        try:
            rec.start()
            _err(f"calibrating for model {model.name} ({', '.join(model.labels)}): {state.total} takes "
                 f"from {source_name}; Ctrl-C to stop without writing a profile")
            if live is not None:
                live.start(refresh=True)
            cal.run(show, watch=watch)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if live is not None:
                if interrupted:  # the terminal may take no output (Ctrl-S): do not wait for it
                    from .outputs import stop_live_view

                    stop_live_view(live)
                else:
                    live.stop()
            with _stop_signals_ignored():
                rec.quit(timeout_s=0.5)
                rec.stop(timeout_s=1.0)
    if interrupted:
        from .outputs import say_after_stop

        # a terminal paused by Ctrl-S would hold this line, and the exit, for ever
        say_after_stop(f"interrupted after {state.done} of {state.total} takes: no profile written")
        return EXIT_INTERRUPTED
    if not cal.complete and rec.error is not None:
        _err(f"error: {rec.error}")
        return rec.error.exit_code if isinstance(rec.error, SerLiveError) else 1
    prof = cal.profile(name=path.stem)
    return _save_profile(prof, model, path, read_as_labels=cal.read_as_labels(prof))
