"""The ``ser-live`` command: listen (default), ``devices``, ``predict``, ``calibrate``.

Output streams
--------------
* **stdout** carries results only: the dashboard (on a terminal), or one ``--plain`` line per
  utterance (chosen automatically when stdout is not a terminal), or, with ``--jsonl -``,
  JSON lines and nothing else (``--plain`` lines then go to stderr; no dashboard).
* **stderr** carries messages, errors and the exit summary, so ``ser-live ... > out.txt``
  keeps the results clean and the summary is still seen.

Module per command: :mod:`.listen` (the default), :mod:`.predict`, :mod:`.devices`,
:mod:`.calibrate`; shared options and messages in :mod:`.options`, listen's outputs in
:mod:`.outputs`, stop signals in :mod:`.signals`. Exit codes: :data:`ser_live.errors.EXIT_CODES`
(printed by ``--help``).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys

from .. import __version__
from ..errors import ExitCode, SerLiveError, exit_codes_help, os_error_text
from .calibrate import _cmd_calibrate, add_calibrate_parser
from .devices import _cmd_devices, add_devices_parser
from .listen import _cmd_listen, add_listen_arguments
from .options import DEMO_WAV, EXIT_INTERRUPTED, _add_common, _add_partial_arguments, _err, _Formatter, _setup_logging
from .predict import _cmd_predict, add_predict_parser

__all__ = ["main", "build_parser", "DEMO_WAV", "EXIT_INTERRUPTED"]

_EPILOG = """\
examples:
  ser-live                                   listen to the default microphone (dashboard)
  ser-live --device 2 --save-utterances      device 2; keep each utterance in recordings/
  ser-live --input talk.wav                  replay a recording at real-time pace
  ser-live --input talk.flac --speed 0 --jsonl -   as fast as possible, JSON lines on stdout
  ser-live --plain --duration-s 60           one line per utterance, stop after 60 s
  ser-live --partial --jsonl -               also provisional estimates while you speak ("final": false)
  ser-live devices
  ser-live predict clip.wav clips/ --output preds.csv
  ser-live predict talk.wav --segments       one record per utterance found by the VAD
  ser-live predict calls/ --sessions calls.csv   files of one session normalised together
  ser-live --model 7class                    the shipped seven-emotion model
  ser-live --model noisy                     every utterance by the noise-trained model
  ser-live calibrate --profile anna          record a personal profile (a minute of prompted takes)
  ser-live --profile anna                    listen with it (also: ser-live predict --profile anna ...)

Results go to stdout (dashboard, --plain lines, or --jsonl -); messages, errors and the exit
summary (utterances, labels, latency p50/p95/max, audio dropped) go to stderr. With no input
device at all, ser-live says so and replays the bundled demo recording instead.

With a model that has a session normaliser the run is one session: each utterance's features
are standardised with the running statistics of the utterances heard so far, shrunk towards
the training prior; the dashboard header shows how many utterances they rest on, and --jsonl
lines add "session_utterances". --no-session-norm turns this off to compare.
"""


def build_parser() -> argparse.ArgumentParser:
    """The ``ser-live`` argument parser: listen options at the top level, plus the
    ``devices``, ``predict`` and ``calibrate`` subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = argparse.ArgumentParser(
        prog="ser-live",
        description=(
            "Real-time speech emotion recognition. Listens to a microphone (or replays a\n"
            "recording), cuts speech into utterances at pauses, and shows the emotion of each\n"
            "with a rolling estimate over the conversation. Without a command it listens\n"
            "(`ser-live listen ...` is the same)."
        ),
        epilog=_EPILOG + "\n" + exit_codes_help(),
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"ser-live {__version__}")
    add_listen_arguments(p)
    _add_partial_arguments(p)
    _add_common(p)

    sub = p.add_subparsers(
        dest="command", metavar="{devices,predict,calibrate}", title="other commands",
        description="(without one, ser-live listens; `ser-live COMMAND --help` for details)",
    )
    d = add_devices_parser(sub)
    pr = add_predict_parser(sub)
    cal = add_calibrate_parser(sub)
    # Options shared with the top level (--model, -v, VAD) may come before or after
    # `predict`: unset after it, the subcommand leaves the value given before it.
    top_dests = {a.dest for a in p._actions}
    for action in [*pr._actions, *d._actions, *cal._actions]:
        if action.dest in top_dests and action.dest != "help":
            action.default = argparse.SUPPRESS
    return p


def _normalise_argv(argv: list[str]) -> list[str]:
    """``listen`` is the default command: ``ser-live listen ARGS`` == ``ser-live ARGS``."""
    if argv and argv[0] == "listen":
        return argv[1:]
    return argv


# ---------------------------------------------------------------------- entry point
def main(argv: list[str] | None = None) -> int:
    """Run ``ser-live``.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        The exit status (see the module docstring).
    """
    owns_process = argv is None  # run as the `ser-live` program, not called from Python
    raw = list(sys.argv[1:] if argv is None else argv)
    args_list = _normalise_argv(raw)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    args.owns_process = owns_process
    _setup_logging(args.verbose)
    from ..runtime import tune_process  # heap and BLAS settings for extraction

    tune_process()
    try:
        from ..vad import vad_config_from_args

        if args.command != "devices":
            try:
                args.vad_config = vad_config_from_args(args)
            except ValueError as exc:
                parser.print_usage(sys.stderr)
                _err(f"error: {exc}")
                return ExitCode.USAGE
        if args.command == "devices":
            return _cmd_devices(args)
        if args.command == "predict":
            return _cmd_predict(args)
        if args.command == "calibrate":
            return _cmd_calibrate(args, parser)
        return _cmd_listen(args, parser)
    except SerLiveError as exc:
        _err(f"error: {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        _err("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `ser-live predict ... | head`: as listen does, said once, exit 1
        with contextlib.suppress(Exception):
            sys.stdout = open(io.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        _err("error: cannot write the results to stdout (it was closed, e.g. by `| head`); "
             "the records after that point were not written")
        return ExitCode.ERROR
    except OSError as exc:  # e.g. an output file that cannot be written
        _err(f"error: {os_error_text(exc)}")
        return ExitCode.ERROR
