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
import ast
import difflib
import os
import re
import sys
from typing import Any, NoReturn

from .. import __version__
from ..errors import ExitCode, SerLiveError, exit_codes_help, os_error_text
from .calibrate import _cmd_calibrate, add_calibrate_parser
from .devices import _cmd_devices, add_devices_parser
from .listen import _cmd_listen, add_listen_arguments
from .options import (
    DEMO_WAV, EXIT_INTERRUPTED, _add_common, _add_partial_arguments, _err, _Formatter, _reconfigure_stdout, _setup_logging,
    _silence_stream,
)
from .predict import _cmd_predict, add_predict_parser, split_dask_input

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
summary (utterances, labels, latency p50/p95/max, audio dropped; labels and rolling estimate
as session revision ended them, when it changed them) go to stderr. With no input
device at all, ser-live says so and replays the bundled demo recording instead.

With a model that has a session normaliser the run is one session: each utterance's features
are standardised with the running statistics of the utterances heard so far, shrunk towards
the training prior; the dashboard header shows how many utterances they rest on, and --jsonl
lines add "session_utterances". --no-session-norm turns this off to compare.
"""


#: The commands, listen first (the default: ``ser-live ARGS`` is ``ser-live listen ARGS``).
COMMANDS: tuple[str, ...] = ("listen", "devices", "predict", "calibrate")
_COMMANDS_METAVAR = "{" + ",".join(COMMANDS) + "}"
#: A negative number is an option's value, not an option (argparse's own test).
_NEGATIVE_NUMBER = re.compile(r"-\d+$|-\d*\.\d+$")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose usage errors say what to do: a file named where a command
    goes (``ser-live talk.wav``) gets the two commands that take it, an unknown option the
    closest known one (``--inptu``: did you mean ``--input``?), an unknown command the
    closest command."""

    #: The parser of each command (set by :func:`build_parser` on the top-level parser).
    command_parsers: dict[str, argparse.ArgumentParser]

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        self._argv = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        super().error(_usage_hint(self, message))


def _usage_hint(parser: _Parser, message: str) -> str:
    """``message`` of an argparse usage error, made to say what to do (see :class:`_Parser`)."""
    argv = getattr(parser, "_argv", [])
    commands = getattr(parser, "command_parsers", {})  # none on a command's own parser
    command = next((a for a in argv if a in commands), None)
    known = [o for q in (parser, commands.get(command)) if q is not None for a in q._actions for o in a.option_strings]
    unknown = _unknown_options(argv, known)
    m = re.search(r"invalid choice: ('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")", message)
    command_error = m is not None and message.startswith(f"argument {_COMMANDS_METAVAR}:")
    if unknown and (command_error or message.startswith("unrecognized arguments:")):
        # an unknown option before a file leaves the file where the command goes: the option is the error
        if command_error:
            message = f"unrecognized arguments: {' '.join(unknown)}"
        close = {name: c[0] for name in unknown
                 if (c := difflib.get_close_matches(name, [k for k in known if k.startswith("--")], n=1))}
        hints = [f"did you mean {c}?" if len(unknown) == 1 else f"{name}: did you mean {c}?"
                 for name, c in close.items()]
        return message + (f" ({'; '.join(hints)})" if hints else "")
    if not command_error:
        return message
    value = ast.literal_eval(m.group(1))
    if os.path.isdir(value):
        return f"{value!r} is not a command; to classify the audio files in it: ser-live predict {value}"
    if _looks_like_audio_path(value):
        return (f"{value!r} is not a command; to classify a file: ser-live predict {value}; "
                f"to replay it as a microphone: ser-live --input {value}")
    close = difflib.get_close_matches(value, COMMANDS, n=1)
    return message + (f"; did you mean {close[0]}?" if close else "")


def _unknown_options(argv: list[str], known: list[str]) -> list[str]:
    """The option names of ``argv`` that are none of ``known`` (nor an abbreviation of one
    of them, nor short options run together: ``-vv``)."""
    out = []
    for arg in argv:
        if arg == "--":
            break
        if not arg.startswith("-") or arg == "-" or _NEGATIVE_NUMBER.match(arg):
            continue
        name = arg.split("=", 1)[0]
        if name.startswith("--"):
            ok = any(k.startswith(name) for k in known)
        else:
            ok = name[:2] in known
        if not ok:
            out.append(name)
    return out


def _looks_like_audio_path(value: str) -> bool:
    """Whether ``value`` names an existing file or folder, or looks like an audio file's
    (or a list's) name, or like a path."""
    from ..audiofile import AUDIO_SUFFIXES

    suffix = os.path.splitext(value)[1].lower()
    return os.path.exists(value) or suffix in (*AUDIO_SUFFIXES, ".csv") or os.sep in value


def build_parser() -> argparse.ArgumentParser:
    """The ``ser-live`` argument parser: listen options at the top level, plus the
    ``listen`` (the default), ``devices``, ``predict`` and ``calibrate`` subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    p = _Parser(
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
        dest="command", metavar=_COMMANDS_METAVAR, title="commands",
        description="(without one, ser-live listens; `ser-live COMMAND --help` for details)",
    )
    li = sub.add_parser(
        "listen", help="listen to the microphone or replay a recording (the default: the options above)",
        formatter_class=_Formatter, epilog=_EPILOG + "\n" + exit_codes_help(),
        description="Recognise emotions live: the microphone, or a recording replayed with --input.\n"
                    "`ser-live listen ARGS` is `ser-live ARGS`.",
    )
    add_listen_arguments(li)
    _add_partial_arguments(li)
    _add_common(li)
    parsers = {"listen": li, "devices": add_devices_parser(sub), "predict": add_predict_parser(sub),
               "calibrate": add_calibrate_parser(sub)}
    p.command_parsers = parsers
    # Options shared with the top level (--model, -v, VAD) may come before or after
    # the command: unset after it, the subcommand leaves the value given before it.
    top_dests = {a.dest for a in p._actions}
    for action in [a for q in parsers.values() for a in q._actions]:
        if action.dest in top_dests and action.dest != "help":
            action.default = argparse.SUPPRESS
    return p


def _stray_listen_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> str | None:
    """What is wrong when listening's own options were given with another command, or None.

    The top level takes listening's options so that ``ser-live --jsonl F`` listens; given
    before ``predict``, ``calibrate`` or ``devices`` they were parsed and then ignored
    (``ser-live --jsonl x.jsonl calibrate`` wrote no file, without a word). And
    ``ser-live --save-utterances calibrate`` read ``calibrate`` as the folder and listened.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by ``parser`` (:func:`build_parser`).
    parser : argparse.ArgumentParser

    Returns
    -------
    str or None
        The error to print (usage error, exit 2).
    """
    commands = getattr(parser, "command_parsers", {})
    if args.command is None:
        folder = getattr(args, "save_utterances", None)
        if folder in commands and not os.path.isdir(folder):
            return (f"--save-utterances took '{folder}' as its folder: to run `ser-live {folder}`, give the "
                    f"command first; to save while listening, name the folder (--save-utterances DIR)")
        return None
    if args.command == "listen" or args.command not in commands:
        return None
    common = argparse.ArgumentParser(add_help=False)
    _add_common(common)  # --model, -v, VAD...: shared with the commands, harmless before `devices`
    own = {a.dest for a in commands[args.command]._actions} | {a.dest for a in common._actions}
    given = []
    for action in parser._actions:
        if (not action.option_strings or action.dest in own or action.dest in ("help", "version")
                or getattr(args, action.dest, action.default) == action.default):
            continue
        given.append(max(action.option_strings, key=len))
    if not given:
        return None
    return (f"{', '.join(given)}: {'an option' if len(given) == 1 else 'options'} of listening (`ser-live` without a "
            f"command), which `ser-live {args.command}` does not take (see `ser-live {args.command} --help`); "
            "a command's options come after it")


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
    if owns_process and sys.stderr is None:
        # started with stderr closed (`2>&-`): print(..., file=None) writes to stdout, which
        # put the messages and the exit summary among the results (in `--jsonl -`'s JSON)
        _silence_stream("stderr")
    if owns_process and getattr(sys.stdout, "errors", None) == "strict":
        # as Python writes to stderr: a character an ASCII stdout lacks (a label of your own
        # model in a --plain line, a device's name) comes out as \xfc, the run goes on
        _reconfigure_stdout(errors="backslashreplace")
    raw = list(sys.argv[1:] if argv is None else argv)
    args_list = split_dask_input(raw)  # `predict --dask calls/`: calls/ is an input
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    args.owns_process = owns_process
    stray = _stray_listen_options(args, parser)
    if stray:
        parser.print_usage(sys.stderr)
        _err(f"error: {stray}")
        return ExitCode.USAGE
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
        _silence_stream("stdout")
        _err("error: cannot write the results to stdout (it was closed, e.g. by `| head`); "
             "the records after that point were not written")
        return ExitCode.ERROR
    except OSError as exc:  # e.g. an output file that cannot be written
        _err(f"error: {os_error_text(exc)}")
        return ExitCode.ERROR
