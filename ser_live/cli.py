"""The ``ser-live`` command: listen (default), ``devices``, ``predict``, ``calibrate``.

Output streams
--------------
* **stdout** carries results only: the dashboard (on a terminal), or one ``--plain`` line per
  utterance (chosen automatically when stdout is not a terminal), or, with ``--jsonl -``,
  JSON lines and nothing else (``--plain`` lines then go to stderr; no dashboard).
* **stderr** carries messages, errors and the exit summary, so ``ser-live ... > out.txt``
  keeps the results clean and the summary is still seen.

Exit codes: 0 success; 1 unexpected error, or results that could not be written (``--jsonl``
file or stdout: reported once, the run goes on and recordings are still saved); 2 usage
error; 3 unusable audio file (missing, unreadable, empty, too long, not a regular file,
non-finite samples); 4 no speech detected; 5 model missing or incompatible; 6 no (usable)
input device, or the microphone stopped delivering audio (stream ended, audio server gone,
no audio for ``--no-audio-timeout-s``); 7 PortAudio missing; 8 Dask cluster unreachable or
lost (``predict --dask``); 130 interrupted (Ctrl-C,
SIGTERM, SIGHUP or SIGQUIT, after the summary and with every recording written).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import logging
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

from . import __version__
from .errors import CaptureError, DeviceError, NoSpeechError, PortAudioMissingError, SerLiveError
from .jsonl import json_line

__all__ = ["main", "build_parser", "DEMO_WAV", "EXIT_INTERRUPTED"]

log = logging.getLogger("ser_live")

#: The bundled demo session, replayed when there is no microphone.
DEMO_WAV: Path = Path(__file__).resolve().parent / "data" / "demo.wav"
#: Exit status after Ctrl-C / SIGTERM (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED: int = 130

_COMMANDS = ("listen", "devices", "predict", "calibrate")

_EPILOG = """\
examples:
  ser-live                                   listen to the default microphone (dashboard)
  ser-live --device 2 --save-utterances      device 2; keep each utterance in recordings/
  ser-live --input talk.wav                  replay a recording at real-time pace
  ser-live --input talk.flac --speed 0 --jsonl -   as fast as possible, JSON lines on stdout
  ser-live --plain --duration-s 60           one line per utterance, stop after 60 s
  ser-live --partial --jsonl -               also provisional estimates while you speak ("final": false)
  ser-live devices
  ser-live predict clip.wav clips/ --format csv --output preds.csv
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

exit codes: 0 ok, 1 error (or results could not be written), 2 usage, 3 bad audio file,
4 no speech, 5 model, 6 no input device or the microphone stopped delivering audio,
7 PortAudio missing, 130 interrupted (Ctrl-C, SIGTERM, SIGHUP, SIGQUIT).
"""

_PREDICT_EPILOG = """\
Whole-file mode (default) treats each file as one utterance: it is trimmed to the speech the
VAD finds (as training files are) and classified; files longer than 60 s are refused (use
--segments). With --segments each file is cut by the live segmenter, exactly as `ser-live
--input FILE` cuts it, and every utterance gets a record with its start_s and end_s.

Sessions: a model with a session normaliser standardises each utterance's features with
statistics of its session (one speaker through one microphone) shrunk towards the training
prior. Without --sessions each whole file is its own session, and with --segments each file
is one session normalised online in utterance order, exactly as `ser-live --input FILE`.
--sessions FILE.csv (header `path,session`, one row per input file; relative paths are
relative to the CSV's folder; paths are compared after resolving) normalises the files of one
session together with all of that session's utterances (with --segments: every utterance
of every file of the session; two passes: every file is read first). Every input must be in the CSV and every CSV path among the inputs, else nothing is
classified and the exit status is 2 (the first few offending paths are named). With a model
that has no session normaliser --sessions is accepted and has no effect (a warning says so).

Records: jsonl {"path", ["start_s", "end_s",] "label", "confidence", "probabilities"
[, "session_utterances"][, "noise_branch"][, "profile"]} ("noise_branch": whether the model's
noise branch classified it, for a model that has one; "profile": the --profile's name); csv columns path, [start_s, end_s,] label, confidence, p_<label>
for every label. session_utterances (jsonl, --segments, a model with a session normaliser:
the utterances the session statistics rest on) is left out with --no-session-norm.
A file that fails (unreadable, empty, silent, too long) is reported on stderr and skipped;
the exit status is then that of the first failure (3 bad file, 4 no speech).

examples:
  ser-live predict clip.wav
  ser-live predict recordings/ --format csv --output preds.csv
  ser-live predict session.flac --segments --jsonl
  ser-live predict calls/ --sessions calls.csv --format csv
"""


# ---------------------------------------------------------------------- parser
class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34)


def _positive_or_zero(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not (math.isfinite(x) and x >= 0):
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return x


def _positive(value: str) -> float:
    x = _positive_or_zero(value)
    if x == 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return x


def _probability(value: str) -> float:
    x = _positive_or_zero(value)
    if x > 1:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return x


def _probability_or_auto(value: str) -> float | str | None:
    """``--uncertain-below``: a probability, ``auto`` (1.5 x chance) or ``off``."""
    if value.strip().lower() in ("auto", "off"):
        return value.strip().lower()
    return _probability(value)


def _add_common(parser: argparse.ArgumentParser) -> None:
    from .vad import add_vad_arguments

    parser.add_argument(
        "--model", metavar="NAME|PATH", default=None,
        help="a shipped model by short name (`default`, `7class`, `noisy`: models/ser-NAME.skops) or a "
             "model file (default: $SER_LIVE_MODEL or the shipped models/ser-default.skops, which passes "
             "noisy utterances to its noise branch by itself)",
    )
    parser.add_argument(
        "--no-session-norm", dest="session_norm", action="store_false", default=True,
        help="do not normalise utterances by their session's statistics: each utterance is its own "
             "session, its features standardised with the training prior and its own values "
             "weighted as one utterance (default: the run, or with `predict --segments` each file, "
             "is one session with running statistics; no effect on models without a session normaliser)",
    )
    parser.add_argument(
        "--profile", metavar="NAME|PATH", default=None,
        help="a personal profile made by `ser-live calibrate` for this model: a bare NAME lives in the user "
             "data folder (e.g. ~/.local/share/ser-live/profiles/NAME.npz), else the file PATH",
    )
    parser.add_argument(
        "--denoise", action="store_true",
        help="reduce stationary noise (fan, hum) in each utterance before feature extraction: spectral "
             "gating, noise estimated from the utterance (needs pip install 'ser-live[denoise]')",
    )
    parser.add_argument(
        "-v", "--verbose", action="count", default=0,
        help="log more to stderr (-v info, -vv debug)",
    )
    add_vad_arguments(parser)


def build_parser() -> argparse.ArgumentParser:
    """The ``ser-live`` argument parser: listen options at the top level, plus the
    ``devices`` and ``predict`` subcommands.

    Returns
    -------
    argparse.ArgumentParser
    """
    from .audio import NO_AUDIO_TIMEOUT_S, NO_AUDIO_WARN_S
    from .rolling import DEFAULT_HALF_LIFE_S

    p = argparse.ArgumentParser(
        prog="ser-live",
        description=(
            "Real-time speech emotion recognition. Listens to a microphone (or replays a\n"
            "recording), cuts speech into utterances at pauses, and shows the emotion of each\n"
            "with a rolling estimate over the conversation. Without a command it listens\n"
            "(`ser-live listen ...` is the same)."
        ),
        epilog=_EPILOG,
        formatter_class=_Formatter,
    )
    p.add_argument("--version", action="version", version=f"ser-live {__version__}")
    src = p.add_argument_group("audio source (listen)")
    src.add_argument("--input", metavar="FILE", help="replay an audio file (WAV, FLAC, OGG; any rate, any channels) instead of the microphone")
    src.add_argument("--device", metavar="DEV", help="input device index or (part of its) name; see `ser-live devices` (default: the system default)")
    src.add_argument("--speed", type=_positive_or_zero, default=1.0, metavar="X",
                     help="replay speed of --input: 1 real time (default), N times faster, 0 as fast as possible")
    src.add_argument("--duration-s", type=_positive, default=None, metavar="SECONDS",
                     help="stop after this many seconds of audio (stream time; from the microphone also "
                          "by the wall clock, so a microphone that delivers nothing still stops)")
    src.add_argument("--no-audio-timeout-s", type=_positive, default=NO_AUDIO_TIMEOUT_S, metavar="SECONDS",
                     help="end the run (exit 6) when the microphone delivers no audio for this long "
                          f"(default: {NO_AUDIO_TIMEOUT_S:g}; a warning comes after {NO_AUDIO_WARN_S:g} s)")
    src.add_argument("--demo-fallback", action=argparse.BooleanOptionalAction, default=None,
                     help="replay the bundled demo recording when the microphone cannot be used "
                          "(default: only when there is no input device at all or PortAudio is missing)")
    out = p.add_argument_group("output (listen)")
    out.add_argument("--plain", action="store_true",
                     help="one text line per utterance instead of the dashboard (automatic when stdout is not a terminal)")
    out.add_argument("--jsonl", metavar="PATH|-",
                     help="write one JSON object per utterance to PATH, or to stdout with '-' (stdout then carries only JSON)")
    out.add_argument("--save-utterances", nargs="?", const="recordings", default=None, metavar="DIR",
                     help="save each utterance as a 16 kHz WAV plus a line in DIR/index.jsonl (default DIR: recordings)")
    out.add_argument("--half-life-s", type=_positive, default=DEFAULT_HALF_LIFE_S, metavar="SECONDS",
                     help=f"half-life of the rolling estimate in stream seconds (default: {DEFAULT_HALF_LIFE_S:g})")
    _add_partial_arguments(p)
    _add_common(p)

    sub = p.add_subparsers(
        dest="command", metavar="{devices,predict,calibrate,bench}", title="other commands",
        description="(without one, ser-live listens; `ser-live COMMAND --help` for details)",
    )
    d = sub.add_parser("devices", help="list input devices (* marks the default)", formatter_class=_Formatter,
                       description="List the audio input devices PortAudio sees; * marks the default.")
    d.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr")
    sub.add_parser("bench", help="run the benchmarks (`python -m benchmarks` from a source checkout with the bench extra)",
                   add_help=False)
    pr = sub.add_parser(
        "predict", help="classify audio files (or folders of them) offline", formatter_class=_Formatter,
        description="Classify audio files offline with the same model and segmenter as the live\nrecogniser.",
        epilog=_PREDICT_EPILOG,
    )
    pr.add_argument("paths", nargs="+", metavar="FILE|DIR", help="audio files, or folders walked for .wav/.flac/.ogg")
    pr.add_argument("--segments", action="store_true", help="cut each file into utterances and give one record per utterance")
    pr.add_argument("--format", choices=("jsonl", "csv"), default="jsonl", help="record format (default: jsonl)")
    pr.add_argument("--jsonl", dest="format", action="store_const", const="jsonl", help="same as --format jsonl")
    pr.add_argument("--output", metavar="PATH", help="write the records to PATH instead of stdout "
                    "(with --dask also .parquet; the suffix .parquet/.jsonl/.csv then picks the format)")
    pr.add_argument("--sessions", metavar="FILE.csv",
                    help="CSV `path,session`: normalise the files of one session together (see below)")
    clu = pr.add_argument_group("scale-out (needs the dask extra: pip install 'ser-live[dask]')")
    clu.add_argument("--dask", nargs="?", const="", default=None, metavar="ADDRESS",
                     help="score on a Dask cluster: tcp://host:port of a running scheduler, or without "
                          "ADDRESS a local cluster (one worker process per core); records are written "
                          "as tasks complete, failed files as records with an `error`")
    clu.add_argument("--resume", action="store_true",
                     help="with --dask: skip the paths already in --output and add to it")
    clu.add_argument("--chunk-files", type=int, default=200, metavar="N",
                     help="with --dask: files per task (default: 200)")
    _add_common(pr)
    cal = _add_calibrate_parser(sub)
    # Options shared with the top level (--model, -v, VAD) may come before or after
    # `predict`: unset after it, the subcommand leaves the value given before it.
    top_dests = {a.dest for a in p._actions}
    for action in [*pr._actions, *d._actions, *cal._actions]:
        if action.dest in top_dests and action.dest != "help":
            action.default = argparse.SUPPRESS
    return p


def _add_partial_arguments(p: argparse.ArgumentParser) -> None:
    """``--partial``, ``--partial-interval-s``, ``--partial-min-s``, ``--uncertain-margin``,
    ``--uncertain-below``."""
    from .types import DEFAULT_UNCERTAIN_MARGIN, UncertaintyRule
    from .vad import PartialConfig

    d = PartialConfig()
    g = p.add_argument_group("provisional estimates and uncertainty (listen)")
    g.add_argument("--partial", action="store_true",
                   help="while an utterance goes on, show a provisional estimate of the speech so far (dashboard: "
                        "a dim 'speaking… (provisional)' line; --jsonl: lines with \"final\": false, and "
                        "\"final\"/\"uncertain\" keys on every line)")
    g.add_argument("--partial-interval-s", type=_positive, default=d.interval_s, metavar="SECONDS",
                   help=f"stream seconds between provisional estimates of one utterance (default: {d.interval_s:g})")
    g.add_argument("--partial-min-s", type=_positive_or_zero, default=d.min_speech_s, metavar="SECONDS",
                   help=f"speech before the first provisional estimate (default: {d.min_speech_s:g}; at least "
                        "--min-utterance-s + --hangover-ms)")
    g.add_argument("--uncertain-margin", type=_probability, default=DEFAULT_UNCERTAIN_MARGIN, metavar="P",
                   help="show 'uncertain' instead of the label when the top probability is at most P above the "
                        f"second (default: {DEFAULT_UNCERTAIN_MARGIN:g}; 0 disables)")
    g.add_argument("--uncertain-below", type=_probability_or_auto, default="auto", metavar="P|auto|off",
                   help="show 'uncertain' when the top probability is below P (default: auto = "
                        f"{UncertaintyRule.AUTO_BELOW_X_CHANCE:g} x chance, e.g. 0.375 with 4 labels; off disables)")


def _uncertainty_rule(args: argparse.Namespace, n_labels: int) -> Any:
    """The :class:`~ser_live.types.UncertaintyRule` of the options, for a model's labels."""
    from .types import UncertaintyRule

    below = getattr(args, "uncertain_below", "auto")
    margin = getattr(args, "uncertain_margin", UncertaintyRule.margin)
    if below == "auto":
        return UncertaintyRule.for_labels(n_labels, margin=margin)
    return UncertaintyRule(margin=margin, below=None if below == "off" else below).validate()


def _normalise_argv(argv: list[str]) -> list[str]:
    """``listen`` is the default command: ``ser-live listen ARGS`` == ``ser-live ARGS``."""
    if argv and argv[0] == "listen":
        return argv[1:]
    return argv


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_ser_live", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("ser-live: %(levelname)s: %(message)s"))
    handler._ser_live = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _err(msg: str) -> None:
    _err_raw(f"ser-live: {msg}")


def _err_raw(text: str) -> None:
    """Print to stderr; a closed terminal (after SIGHUP) or stderr is not an error."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def _cmd_bench(argv: list[str]) -> int:
    """``ser-live bench ...``: ``python -m benchmarks ...`` when the benchmarks can be imported
    (a source checkout with the ``bench`` extra), else a message saying how to get them."""
    try:
        from benchmarks.__main__ import main as bench_main  # not part of the installed package
    except ImportError as exc:
        _err("error: the benchmarks are not installed with ser-live: from a source checkout, "
             "`pip install -e '.[bench]'` and run `python -m benchmarks` there"
             f" [{exc}]")
        return 2
    return bench_main(argv)


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
    if raw[:1] == ["bench"]:  # the benchmarks live outside the package, with their own options
        return _cmd_bench(raw[1:])
    args_list = _normalise_argv(raw)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # --help, --version, usage errors
        return int(exc.code or 0) if not isinstance(exc.code, str) else 2
    args.owns_process = owns_process
    _setup_logging(args.verbose)
    from .runtime import tune_process  # heap and BLAS settings for extraction

    tune_process()
    try:
        from .vad import vad_config_from_args

        if args.command != "devices":
            try:
                args.vad_config = vad_config_from_args(args)
            except ValueError as exc:
                parser.print_usage(sys.stderr)
                _err(f"error: {exc}")
                return 2
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
    except BrokenPipeError:  # e.g. `ser-live ... | head`
        with contextlib.suppress(Exception):
            sys.stdout = open(io.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 0
    except OSError as exc:  # e.g. an output file that cannot be written
        _err(f"error: {exc}")
        return 1


# ---------------------------------------------------------------------- model
def _model_path(value: str | None) -> Path | None:
    """``--model``: None (the default model), a file path, or a shipped model's short name.

    A value that names an existing file, or holds a path separator or a suffix, is a path
    (loading reports it if missing). Otherwise ``NAME`` means ``<models dir>/ser-NAME.skops``
    (:data:`~ser_live.model.MODELS_DIR`; ``default`` is ``ser-default.skops``).

    Raises
    ------
    ModelError
        A short name with no such shipped model; the message lists the shipped names.
    """
    from .errors import ModelError
    from .model import MODELS_DIR

    if value is None:
        return None
    p = Path(value)
    if p.exists() or p.suffix or len(p.parts) > 1:
        return p
    named = MODELS_DIR / f"ser-{value}.skops"
    if named.exists():
        return named
    shipped = sorted(f.stem.removeprefix("ser-") for f in MODELS_DIR.glob("ser-*.skops"))
    raise ModelError(
        f"no model named {value!r} (no {named.name} in {MODELS_DIR}); shipped: "
        f"{', '.join(shipped) or 'none'}; or pass a model file path"
    )


# ---------------------------------------------------------------------- devices
def _cmd_devices(args: argparse.Namespace) -> int:
    from .audio import list_input_devices

    devices = list_input_devices()  # PortAudioMissingError / DeviceError -> exit codes
    if not devices:
        _err("no input devices found; connect a microphone, or replay a recording with `ser-live --input FILE`")
        return 0
    for dev in devices:
        mark = "*" if dev["is_default"] else " "
        print(
            f"{mark} {dev['index']:3d}  {dev['name']}  ({dev['hostapi']}, "
            f"{dev['max_input_channels']} ch, {dev['default_samplerate']:.0f} Hz)"
        )
    print("(* = default input device; choose one with --device INDEX or --device NAME)")
    return 0


# ---------------------------------------------------------------------- predict
def _cmd_predict(args: argparse.Namespace) -> int:
    from .audiofile import expand_audio_paths
    from .denoise import with_denoise
    from .model import EmotionModel
    from .offline import Predictor, read_sessions_csv

    sessions = read_sessions_csv(args.sessions) if args.sessions else None  # SessionsError: exit 2
    if args.dask is None and (args.resume or (args.output or "").lower().endswith(".parquet")):
        _err("error: --resume and .parquet output need --dask (`--dask` alone: a local cluster)")
        return 2
    model = EmotionModel.load(_model_path(args.model))
    model, profile = _apply_profile(args, model)
    if args.dask is not None:
        from .batch import predict_cli  # imports Dask: only here

        return predict_cli(args, with_denoise(model) if args.denoise else model, err=_err)
    predictor = Predictor(model, vad_config=args.vad_config, session_norm=args.session_norm, denoise=args.denoise)
    labels = model.labels
    seg = bool(args.segments)
    head = ["path", *(["start_s", "end_s"] if seg else []), "label", "confidence"]
    expanded = list(expand_audio_paths(args.paths))
    # every input is checked against the sessions before anything is written or classified
    results = predictor.process_files(
        [p for p, e in expanded if e is None], segments=seg, errors="return", sessions=sessions
    )

    with contextlib.ExitStack() as stack:
        if args.output:
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            out: TextIO = stack.enter_context(open(args.output, "w", encoding="utf-8", newline=""))
        else:
            out = sys.stdout
        writer = None
        if args.format == "csv":
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(head + [f"p_{lab}" for lab in labels])

        def emit(record: dict[str, Any], n_session: int | None, noise_branch: bool | None) -> None:
            if writer is not None:
                probs = record["probabilities"]
                writer.writerow([record[k] for k in head] + [probs[lab] for lab in labels])
            else:
                if n_session is not None:
                    record["session_utterances"] = n_session
                if noise_branch is not None:
                    record["noise_branch"] = noise_branch
                if profile is not None:
                    record["profile"] = profile.name
                out.write(json_line(record))
            out.flush()

        first_error: SerLiveError | None = None
        n_ok = 0
        for path, error in expanded:
            if error is None:
                _, outcome = next(results)
            try:
                if error is not None:
                    raise error
                if isinstance(outcome, SerLiveError):
                    raise outcome
                if seg:
                    if not outcome:
                        raise NoSpeechError(f"{path}: no speech detected (silent or noise-only)")
                    for r in outcome:
                        j = r.to_json()
                        emit({"path": path, "start_s": j["start_s"], "end_s": j["end_s"], "label": j["label"],
                              "confidence": j["confidence"], "probabilities": j["probabilities"]},
                             r.session_utterances, r.prediction.noise_branch)
                else:
                    emit({"path": path, "label": outcome.label, "confidence": round(float(outcome.confidence), 4),
                          "probabilities": {k: round(float(v), 4) for k, v in outcome.probabilities.items()}},
                         None, outcome.noise_branch)
                n_ok += 1
            except SerLiveError as exc:
                _err(f"error: {exc}")
                first_error = first_error or exc
    if first_error is not None:
        log.info("%d file(s) classified, at least one failed", n_ok)
        return first_error.exit_code
    return 0


# ---------------------------------------------------------------------- listen
def _open_microphone(args: argparse.Namespace) -> tuple[Any, str] | None:
    """The microphone source, or None when the demo should be replayed instead (message
    printed). Raises DeviceError when neither applies."""
    from .audio import MicrophoneSource, list_input_devices

    explicit = args.device is not None
    fallback = args.demo_fallback  # None: only when there is no device at all
    try:
        if not explicit:
            if not list_input_devices():
                raise DeviceError(
                    "no input device found; connect a microphone, or replay a recording with --input FILE"
                )
        src = MicrophoneSource(device=args.device, no_audio_timeout_s=args.no_audio_timeout_s)
        return src, src.device_name
    except DeviceError as exc:
        no_device_at_all = isinstance(exc, PortAudioMissingError) or not _any_input_device()
        if explicit or fallback is False or not (fallback or no_device_at_all):
            raise
        if not DEMO_WAV.exists():
            raise DeviceError(f"{exc} (and the bundled demo {DEMO_WAV} is missing)") from exc
        reason = str(exc)
        if isinstance(exc, PortAudioMissingError):
            what = "the PortAudio library is missing (install it with `sudo apt-get install libportaudio2`)"
        elif no_device_at_all:
            what = "no input device found"
        else:
            what = f"the microphone cannot be used ({reason})"
        _err(
            f"{what}; replaying the bundled demo recording ser_live/data/{DEMO_WAV.name} instead "
            "- pass --input FILE to choose a file"
        )
        log.info("microphone error: %s", reason)
        return None


def _any_input_device() -> bool:
    from .audio import list_input_devices

    try:
        return bool(list_input_devices())
    except DeviceError:
        return False


class _Outputs:
    """Where results go: dashboard, plain lines, JSON lines (file or stdout).

    A result stream that cannot be written (``--jsonl /dev/full``, stdout closed by
    ``| head``) is reported once on stderr and dropped; the others, the recordings and the
    run go on. :attr:`write_error` keeps the first such error.
    """

    def __init__(
        self, args: argparse.Namespace, *, labels: list[str], model_name: str, source_name: str,
        session_norm: bool | None = None, profile: Any = None, noise_branch: bool = False,
    ) -> None:
        self.profile = profile
        self.uncertainty = _uncertainty_rule(args, len(labels))
        # --partial: every JSONL line gets "final" and "uncertain"; without it, today's keys
        self.json_flags = self.uncertainty if getattr(args, "partial", False) else None
        self.jsonl_stdout = args.jsonl == "-"
        self.jsonl_file: TextIO | None = None
        if args.jsonl and not self.jsonl_stdout:
            Path(args.jsonl).parent.mkdir(parents=True, exist_ok=True)
            self.jsonl_file = open(args.jsonl, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self.jsonl_path = args.jsonl
        self.plain_stream: TextIO | None = None
        self.dashboard = None
        self.state = None
        self._live = False
        self.write_error: OSError | None = None
        self.alert: str | None = None
        if self.jsonl_stdout:
            self.plain_stream = sys.stderr if args.plain else None
        elif args.plain or not sys.stdout.isatty():
            self.plain_stream = sys.stdout
        else:
            from .dashboard import DashboardState, LiveDashboard

            self.state = DashboardState(labels=labels, model_name=model_name, source_name=source_name,
                                        session_norm=session_norm, uncertainty=self.uncertainty,
                                        profile=_profile_text(profile) if profile is not None else None,
                                        noise_branch=noise_branch)
            self.dashboard = LiveDashboard(self.state)

    def __enter__(self) -> "_Outputs":
        if self.dashboard is not None:
            self.dashboard.__enter__()
            self._live = True
        return self

    def _write(self, stream: TextIO, text: str, what: str) -> bool:
        """Write and flush; on failure report once, note the error, return False."""
        try:
            stream.write(text)
            stream.flush()
            return True
        except OSError as exc:
            if self.write_error is None:
                self.write_error = exc
            _err(
                f"error: cannot write the results to {what} ({exc.strerror or exc}); "
                "no more results go there, the run goes on (recordings are still saved)"
            )
            if stream is sys.stdout:  # silence the flush at exit
                with contextlib.suppress(Exception):
                    sys.stdout = open(os.devnull, "w")  # noqa: SIM115
            return False

    def emit(self, result: Any) -> None:
        if self.jsonl_stdout or self.jsonl_file is not None:
            record = result.to_json(flags=self.json_flags)
            if self.profile is not None:
                record["profile"] = self.profile.name
            line = json_line(record)
            if self.jsonl_stdout:
                self.jsonl_stdout = self._write(sys.stdout, line, "stdout")
            elif not self._write(self.jsonl_file, line, str(self.jsonl_path)):
                with contextlib.suppress(OSError):
                    self.jsonl_file.close()
                self.jsonl_file = None
        if self.plain_stream is not None:
            from .dashboard import format_plain

            what = "stdout" if self.plain_stream is sys.stdout else "stderr"
            text = format_plain(result, uncertainty=self.uncertainty)
            if not self._write(self.plain_stream, text + "\n", what):
                self.plain_stream = None
        if self.state is not None:
            if result.final:
                self.state.add_result(result)
            else:
                self.state.add_partial(result)

    def status(self, status: Any, *, alert: str | None = None) -> None:
        if self.state is not None and self._live:
            self.state.set_status(status, alert=alert or "")
            self.dashboard.refresh()

    def close(self) -> None:
        if self.dashboard is not None and self._live:
            self.dashboard.refresh(force=True)
            self.dashboard.__exit__(None, None, None)
        self.dashboard = None
        self._live = False
        if self.jsonl_file is not None:
            f, self.jsonl_file = self.jsonl_file, None
            try:
                f.close()
            except OSError as exc:  # the last buffered bytes could not be written
                self.write_error = self.write_error or exc
                _err(f"error: cannot write the results to {self.jsonl_path} ({exc.strerror or exc})")


#: Signals that end a listening run like Ctrl-C: summary printed, utterance in progress kept.
#: SIGHUP comes when the terminal is closed; SIGQUIT from Ctrl-\\ (no core dump then).
_STOP_SIGNALS: tuple[str, ...] = ("SIGTERM", "SIGHUP", "SIGQUIT")


@contextlib.contextmanager
def _stop_signals_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM, SIGHUP and SIGQUIT like Ctrl-C (a clean stop) while listening; main
    thread only (elsewhere, and for signals the platform lacks, nothing changes)."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous: dict[int, Any] = {}
    try:
        for name in _STOP_SIGNALS:
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, handler)
    except ValueError:  # not the main thread
        pass
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def _stop_signals_ignored(*, restore: bool = True) -> Iterator[None]:
    """Ignore SIGINT and the stop signals (main thread only; restored on exit when
    ``restore``, else left ignored for the rest of the process)."""
    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError):  # not the main thread
        for name in ("SIGINT", *_STOP_SIGNALS):
            if hasattr(signal, name):
                previous[getattr(signal, name)] = signal.signal(getattr(signal, name), signal.SIG_IGN)
    try:
        yield
    finally:
        if restore:
            for signum, old in previous.items():
                signal.signal(signum, old)


@contextlib.contextmanager
def _stop_signals_held() -> Iterator[None]:
    """Hold SIGINT and the stop signals (delivered when the block ends) while results that
    are already saved are written out, so the --jsonl output and the recordings index
    agree whatever the number of Ctrl-C."""
    names = ("SIGINT", *_STOP_SIGNALS)
    sigs = {getattr(signal, n) for n in names if hasattr(signal, n)}
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - Windows
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _cmd_listen(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .audio import FileSource, PortAudioNoiseFilter
    from .model import EmotionModel
    from .pipeline import Recognizer

    is_file = args.input is not None
    if args.device is not None and is_file:
        parser.print_usage(sys.stderr)
        _err("error: give either --input FILE or --device DEV, not both")
        return 2

    model = EmotionModel.load(_model_path(args.model))  # before opening the device: fail early
    model, profile = _apply_profile(args, model)
    if args.denoise:
        from .denoise import require_noisereduce

        require_noisereduce()  # DenoiseUnavailableError (exit 2) before opening the device
    demo = False
    if is_file:
        source: Any = FileSource(args.input, speed=args.speed)
        source_name = Path(args.input).name
    else:
        mic = _open_microphone(args)
        if mic is None:
            demo = True
            source = FileSource(DEMO_WAV, speed=args.speed)
            source_name = f"demo: {DEMO_WAV.name}"
        else:
            source, source_name = mic
            if args.speed != 1.0:
                log.warning("--speed applies to --input only; ignored for the microphone")

    rec = Recognizer(
        source, model, vad_config=args.vad_config, rolling_half_life_s=args.half_life_s,
        save_dir=args.save_utterances, source_name=source_name, max_duration_s=args.duration_s,
        session_norm=args.session_norm,
        partial=_partial_config(args),
        denoise=args.denoise,
    )
    session_norm = None if model.normalizer is None else bool(args.session_norm)
    outputs = _Outputs(args, labels=model.labels, model_name=model.name, source_name=source_name,
                       session_norm=session_norm, profile=profile, noise_branch=model.noise_route is not None)
    is_mic = not (is_file or demo)
    noise_filter = PortAudioNoiseFilter() if is_mic else contextlib.nullcontext()
    interrupted = False
    stalled_at_wall_limit_s: float | None = None  # no audio for this long when the wall clock stopped the run
    with _stop_signals_as_interrupt(), noise_filter:
        try:
            rec.start()  # warm-up, threads, then the source
            t_start = time.monotonic()
            what = "replaying" if not is_mic else "listening to"
            with_profile = f" and profile {_profile_text(profile)}" if profile is not None else ""
            _err(f"{what} {source_name} with model {model.name} ({', '.join(model.labels)}){with_profile}; "
                 "Ctrl-C to stop")
            outputs.__enter__()
            try:
                while True:
                    # A Ctrl-C waits (at most the 50 ms poll) until a result taken off the
                    # queue is written: one landing in between would lose it from --jsonl
                    # while the recordings index has it.
                    with _stop_signals_held():
                        r = rec.get_result(timeout_s=0.05)
                        if r is not None:
                            outputs.emit(r)
                    if r is not None:
                        continue
                    outputs.status(rec.status(), alert=_no_audio_alert(source))
                    if rec.finished:  # end of the file, --duration-s reached, or the source died
                        break
                    if is_mic and args.duration_s is not None and (
                        time.monotonic() - t_start >= args.duration_s + _WALL_CLOCK_GRACE_S
                    ):  # stream time lags the wall clock: the microphone delivers too little
                        silent_s = source.no_audio_s
                        if silent_s >= source.no_audio_warn_s:
                            stalled_at_wall_limit_s = silent_s
                        break
            except KeyboardInterrupt:
                interrupted = True
            try:
                rec.stop()  # drains: the utterance in progress is classified and saved
            except KeyboardInterrupt:
                _err("interrupted again: not classifying what is still queued")
                rec.quit()  # every utterance already saved is on rec.results: emitted below
            finally:
                with _stop_signals_held():  # a further Ctrl-C waits until all is emitted
                    while (r := rec.get_result(timeout_s=0)) is not None:
                        outputs.emit(r)
            outputs.status(rec.status())
        except KeyboardInterrupt:  # during warm-up or start
            interrupted = True
        finally:
            outputs.close()
            rec.stop()
    # The run is over: a late Ctrl-C changes nothing. In the ser-live process itself the
    # signals stay ignored until it exits (restoring them would let a Ctrl-C that lands
    # between here and the interpreter's exit kill it by SIGINT after a clean summary).
    with _stop_signals_ignored(restore=not args.owns_process):
        code = _finish_listen(args, rec, outputs, interrupted=interrupted, is_file=is_file,
                              stalled_at_wall_limit_s=stalled_at_wall_limit_s)
    if getattr(source, "abandoned", False):
        # PortAudio kept a stream it would not close: its exit handler (Pa_Terminate) could
        # block too, so leave without it once everything is written.
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)
    return code


def _partial_config(args: argparse.Namespace) -> Any:
    """The :class:`~ser_live.vad.PartialConfig` of ``--partial`` (None without it)."""
    if not getattr(args, "partial", False):
        return None
    from .vad import PartialConfig

    return PartialConfig(interval_s=args.partial_interval_s, min_speech_s=args.partial_min_s).validate()


#: Seconds past ``--duration-s`` (wall clock) after which a microphone run stops even when
#: the stream time has not reached it (the microphone delivered less audio than real time).
_WALL_CLOCK_GRACE_S: float = 1.0


def _no_audio_alert(source: Any) -> str | None:
    """Dashboard alert while a microphone delivers nothing (after the warning delay)."""
    silent_s = float(getattr(source, "no_audio_s", 0.0))
    if silent_s < getattr(source, "no_audio_warn_s", math.inf):
        return None
    timeout = getattr(source, "no_audio_timeout_s", None)
    end = f"; stopping at {timeout:g} s" if timeout is not None else ""
    return f"no audio from the microphone for {silent_s:.0f} s{end}"


def _finish_listen(
    args: argparse.Namespace, rec: Any, outputs: _Outputs, *, interrupted: bool, is_file: bool,
    stalled_at_wall_limit_s: float | None,
) -> int:
    """Print the summary and the cause of an early end; return the exit status."""
    from .dashboard import format_summary

    summary = rec.summary()
    _err_raw(format_summary(summary))
    if outputs.profile is not None:
        _err_raw(f"  {'profile':<21s}{_profile_text(outputs.profile)}")
    if rec.save_dir is not None and summary.n_saved:
        _err(f"{summary.n_saved} utterance(s) saved in {rec.save_dir}/ (index: {rec.save_dir / 'index.jsonl'})")
    err = rec.error
    if err is None and stalled_at_wall_limit_s is not None:
        err = CaptureError(
            f"input device {rec.source_name!r}: --duration-s {args.duration_s:g} s passed on the "
            f"wall clock with no audio for the last {stalled_at_wall_limit_s:.1f} s"
        )
    if err is not None:
        _err(f"error: {err}")
        return err.exit_code if isinstance(err, SerLiveError) else 1
    if outputs.write_error is not None:
        return 1
    if interrupted:
        return EXIT_INTERRUPTED
    if is_file and not rec.reached_max_duration and summary.n_utterances == 0:
        _err(f"error: no speech detected in {args.input}")
        return NoSpeechError.exit_code
    return 0


# ---------------------------------------------------------------------- profiles, calibrate
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
label, a label with no recording, a bad header, or a file with no speech: the first few are
named, nothing is written and the exit status is 2.

The profile holds your voice's feature statistics and a small recalibration of the model's
probabilities (ser_live/profile.py); it works only with the model it was made for (another
model refuses it, exit 2). A bare NAME is saved in the user data folder; use it with
`ser-live --profile NAME` and `ser-live predict --profile NAME ...`.

exit codes: 0 profile written, 2 usage or calibration-list error (nothing written), 5 model,
6 no input device or the microphone stopped, 130 interrupted (nothing written).

examples:
  ser-live calibrate --profile anna                    3 takes per emotion from the microphone
  ser-live calibrate --profile anna --per-class 5 --model 7class
  ser-live calibrate --profile ./anna.npz --from takes.csv
"""


def _add_calibrate_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``calibrate`` subcommand's parser."""
    cal = sub.add_parser(
        "calibrate", help="record a personal profile (prompted takes in each emotion) for `--profile`",
        formatter_class=_Formatter, epilog=_CALIBRATE_EPILOG,
        description="Make a personal profile: your voice's statistics and an adaptation of the model\n"
                    "to your labelled takes, saved for `ser-live --profile NAME`.",
    )
    cal.add_argument("--per-class", type=int, default=3, metavar="N",
                     help="takes per emotion label (default: 3; at least 1)")
    cal.add_argument("--from", dest="from_csv", metavar="FILE.csv",
                     help="build the profile from recordings listed in a `path,label` CSV instead of recording")
    cal.add_argument("--input", metavar="FILE", help="replay an audio file as the microphone")
    cal.add_argument("--device", metavar="DEV", help="input device index or (part of its) name")
    cal.add_argument("--speed", type=_positive_or_zero, default=1.0, metavar="X",
                     help="replay speed of --input (1 real time, 0 as fast as possible)")
    cal.add_argument("--plain", action="store_true",
                     help="one text line per take instead of the screen (automatic when stdout is not a terminal)")
    _add_common(cal)
    return cal


def _profile_text(profile: Any) -> str:
    """``anna (12 utt.)``: a profile's name and the calibration utterances it rests on."""
    return f"{profile.name} ({profile.n_utterances} utt.)"


def _apply_profile(args: argparse.Namespace, model: Any) -> tuple[Any, Any]:
    """The model with ``--profile`` applied (and the profile), or the model and None.

    Raises
    ------
    ProfileError
        Missing or malformed profile, or one made for another model (exit 2).
    """
    if not getattr(args, "profile", None):
        return model, None
    from .profile import load_profile, profile_path

    prof = load_profile(profile_path(args.profile), model=model)
    log.info("profile %s (%d utterances) for model %s", prof.name, prof.n_utterances, model.name)
    return prof.apply(model), prof


def _cmd_calibrate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from .model import EmotionModel
    from .profile import profile_path

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
        return 2
    path = profile_path(args.profile)
    model = EmotionModel.load(_model_path(args.model))
    if args.from_csv:
        return _calibrate_from_csv(args, model, path)
    return _calibrate_live(args, model, path)


def _save_profile(model: Any, features: list, labels: list[int], path: Path) -> int:
    """Build, save and report a profile; 0."""
    import numpy as np

    from .profile import build_profile

    prof = build_profile(model, np.stack(features), np.array(labels), name=path.stem)
    if path.exists():
        _err(f"replacing the profile at {path}")
    prof.save(path)
    counts = ", ".join(f"{k} {v}" for k, v in prof.counts.items())
    print(f"profile {prof.name!r} written to {path} ({prof.n_utterances} utterances: {counts}; model {model.name})",
          flush=True)
    print(f"use it with: ser-live --profile {_profile_hint(path)}", flush=True)
    return 0


def _profile_hint(path: Path) -> str:
    """How to name a saved profile on the command line: its bare name when it sits in the
    user data folder, else its path."""
    from .profile import PROFILE_SUFFIX, profiles_dir

    if path.parent == profiles_dir() and path.suffix == PROFILE_SUFFIX:
        return path.stem
    return str(path)


def _calibrate_from_csv(args: argparse.Namespace, model: Any, path: Path) -> int:
    from .audiofile import SAMPLE_RATE_HZ, decode_audio
    from .offline import WHOLE_FILE_MAX_S
    from .profile import ProfileError, _name_some, read_calibration_csv
    from .vad import speech_span

    rows = read_calibration_csv(args.from_csv, model.labels, min_per_label=1)
    feats, ys, bad = [], [], []
    for f, lab in rows:
        try:
            y = decode_audio(f, max_duration_s=WHOLE_FILE_MAX_S)
            span = speech_span(y, config=args.vad_config, sample_rate_hz=SAMPLE_RATE_HZ)
            if span is None:
                raise NoSpeechError("no speech detected")
            feats.append(model.extractor.extract(y[span[0]:span[1]]))
            ys.append(model.labels.index(lab))
        except (SerLiveError, ValueError) as exc:
            bad.append(f"{f.name} ({str(exc).removeprefix(str(f) + ': ')})")
    if bad:
        raise ProfileError(f"calibration list {args.from_csv}: {len(bad)} unusable recording(s): "
                           f"{_name_some(bad)}; nothing written")
    return _save_profile(model, feats, ys, path)


def _calibrate_live(args: argparse.Namespace, model: Any, path: Path) -> int:
    from .audio import FileSource, PortAudioNoiseFilter
    from .dashboard import CalibrationState, format_calibration_event, render_calibration
    from .pipeline import Recognizer
    from .profile import ProfileError, TakeCheck, calibration_prompts

    prompts = calibration_prompts(model.labels, per_class=args.per_class)
    if args.input is not None:
        source: Any = FileSource(args.input, speed=args.speed)
        source_name = Path(args.input).name
    else:
        args.demo_fallback = False  # the demo recording is not the user's voice
        source, source_name = _open_microphone(args)  # type: ignore[misc]
    vad = args.vad_config
    rec = Recognizer(source, model, vad_config=vad, session_norm=False, source_name=source_name)
    state = CalibrationState(prompts, model_name=model.name, source_name=source_name, profile_path=str(path))
    check = TakeCheck()
    feats: list = []
    ys: list[int] = []
    live = None
    if not args.plain and sys.stdout.isatty():
        from rich.live import Live

        live = Live(render_calibration(state), auto_refresh=False, transient=False)

    def show(event: bool) -> None:
        if live is not None:
            live.update(render_calibration(state), refresh=True)
        elif event:
            print(format_calibration_event(state), flush=True)

    interrupted = False
    noise_filter = PortAudioNoiseFilter() if args.input is None else contextlib.nullcontext()
    with _stop_signals_as_interrupt(), noise_filter:
        try:
            rec.start()
            _err(f"calibrating for model {model.name} ({', '.join(model.labels)}): {len(prompts)} takes "
                 f"from {source_name}; Ctrl-C to stop without writing a profile")
            if live is not None:
                live.start(refresh=True)
            show(True)
            shown_version, short_seen = state.version, 0
            while state.current is not None:
                r = rec.get_result(timeout_s=0.05)
                st = rec.status()
                if st.dropped_short > short_seen:  # a burst the VAD dropped as too short
                    short_seen = st.dropped_short
                    state.reject(f"too short (under {vad.min_utterance_s:g} s)")
                    show(True)
                if r is None:
                    state.set_status(st)
                    if state.version != shown_version:
                        shown_version = state.version
                        show(False)
                    if rec.finished:
                        break
                    continue
                if not r.final:
                    continue
                reason = check.reason(r.utterance.samples, aggressiveness=vad.aggressiveness, frame_ms=vad.frame_ms)
                x = None
                if reason is None:
                    try:
                        x = model.extractor.extract(r.utterance.samples)
                    except ValueError as exc:
                        reason = f"unusable ({exc})"
                if x is None:
                    state.reject(str(reason))
                else:
                    feats.append(x)
                    ys.append(model.labels.index(state.current[0]))  # type: ignore[index]
                    state.accept(r.utterance.duration_s)
                shown_version = state.version
                show(True)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if live is not None:
                live.stop()
            with _stop_signals_ignored():
                rec.quit(timeout_s=0.5)
                rec.stop(timeout_s=1.0)
    if interrupted:
        _err(f"interrupted after {state.done} of {state.total} takes: no profile written")
        return EXIT_INTERRUPTED
    if state.current is not None:
        if rec.error is not None:
            _err(f"error: {rec.error}")
            return rec.error.exit_code if isinstance(rec.error, SerLiveError) else 1
        raise ProfileError(
            f"{source_name} ended after {state.done} of {state.total} takes ({state.rejected} rejected); "
            "no profile written"
        )
    return _save_profile(model, feats, ys, path)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
