"""Options and helpers shared by the ``ser-live`` commands: argument types, the options every
command takes (model, profile, session normalisation, VAD), messages on stderr, the model and
profile the options name."""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import ExitCode

log = logging.getLogger("ser_live")

#: The bundled demo session, replayed when there is no microphone.
DEMO_WAV: Path = Path(__file__).resolve().parent.parent / "data" / "demo.wav"
#: Exit status after Ctrl-C / SIGTERM (128 + SIGINT, the shell convention).
EXIT_INTERRUPTED: int = int(ExitCode.INTERRUPTED)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=34)


def int_at_least(minimum: int) -> Any:
    """An argparse ``type``: a whole number >= ``minimum``; anything else is a usage error
    (exit 2) naming the option, instead of a traceback, a hang or a silent "all" later
    (``-j 0``, ``--limit -5``, ``--workers 0``). Shared by ``python -m train`` and
    ``python -m benchmarks``.

    Parameters
    ----------
    minimum : int
        The smallest value taken.

    Returns
    -------
    Callable[[str], int]
        Parses one command-line value; raises ``argparse.ArgumentTypeError`` on text that is
        not a whole number or is below ``minimum``.
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


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
    from ..vad import add_vad_arguments

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


def _add_partial_arguments(p: argparse.ArgumentParser) -> None:
    """``--partial``, ``--partial-interval-s``, ``--partial-min-s``, ``--uncertain-margin``,
    ``--uncertain-below``."""
    from ..vad import PartialConfig

    d = PartialConfig()
    g = p.add_argument_group("provisional estimates and uncertainty (listen)")
    g.add_argument("--partial", action="store_true",
                   help="while an utterance goes on, show a provisional estimate of the speech so far (dashboard: "
                        "a dim 'speaking... (provisional)' line; --jsonl: lines with \"final\": false, and "
                        "a \"final\" key on every line)")
    g.add_argument("--partial-interval-s", type=_positive, default=d.interval_s, metavar="SECONDS",
                   help=f"stream seconds between provisional estimates of one utterance (default: {d.interval_s:g})")
    g.add_argument("--partial-min-s", type=_positive_or_zero, default=d.min_speech_s, metavar="SECONDS",
                   help=f"speech before the first provisional estimate (default: {d.min_speech_s:g}; at least "
                        "--min-utterance-s + --hangover-ms)")
    _add_uncertainty_arguments(g, what="the dashboard and --plain show 'uncertain' and no confidence, --jsonl "
                                       "lines \"uncertain\": true, the summary counts it apart")


def _add_uncertainty_arguments(g: Any, *, what: str) -> None:
    """``--uncertain-margin``, ``--uncertain-below`` (the rule of :func:`_uncertainty_rule`),
    on the parser or argument group ``g``; ``what`` says where "uncertain" shows."""
    from ..types import DEFAULT_UNCERTAIN_MARGIN, UncertaintyRule

    g.add_argument("--uncertain-margin", type=_probability, default=DEFAULT_UNCERTAIN_MARGIN, metavar="P",
                   help=f"'uncertain' (no label claimed: {what}) when the top probability is at most P above the "
                        f"second (default: {DEFAULT_UNCERTAIN_MARGIN:g}; 0 disables)")
    g.add_argument("--uncertain-below", type=_probability_or_auto, default="auto", metavar="P|auto|off",
                   help="'uncertain' when the top probability is below P (default: auto = "
                        f"{UncertaintyRule.AUTO_BELOW_X_CHANCE:g} x chance, e.g. 0.375 with 4 labels; off disables)")


def _uncertainty_rule(args: argparse.Namespace, n_labels: int) -> Any:
    """The :class:`~ser_live.types.UncertaintyRule` of the options, for a model's labels."""
    from ..types import UncertaintyRule

    below = getattr(args, "uncertain_below", "auto")
    margin = getattr(args, "uncertain_margin", UncertaintyRule.margin)
    if below == "auto":
        return UncertaintyRule.for_labels(n_labels, margin=margin)
    return UncertaintyRule(margin=margin, below=None if below == "off" else below).validate()


def _partial_config(args: argparse.Namespace) -> Any:
    """The :class:`~ser_live.vad.PartialConfig` of ``--partial`` (None without it)."""
    if not getattr(args, "partial", False):
        return None
    from ..vad import PartialConfig

    return PartialConfig(interval_s=args.partial_interval_s, min_speech_s=args.partial_min_s).validate()


class _StderrHandler(logging.StreamHandler):
    """A :class:`logging.StreamHandler` that writes to ``sys.stderr`` as it is at each
    record, not as it was when the handler was made (as ``logging.lastResort`` does): after
    ``ser-live``'s ``main()`` has run in a process, a later stderr (a test's capture, a
    program that redirects it) gets the log records instead of a closed file's "Logging
    error"."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # noqa: ANN201 - the current sys.stderr
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:  # noqa: ANN001 - StreamHandler.__init__ sets it; always sys.stderr
        pass


def _setup_logging(verbose: int) -> None:
    level = logging.WARNING if verbose <= 0 else logging.INFO if verbose == 1 else logging.DEBUG
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_ser_live", False):
            root.removeHandler(h)
    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("ser-live: %(levelname)s: %(message)s"))
    handler._ser_live = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


def _reconfigure_stdout(**kwargs: Any) -> None:
    """``sys.stdout.reconfigure(**kwargs)`` where stdout's encoding is not UTF-8 (``LANG=C
    LC_ALL=C PYTHONUTF8=0``, ``PYTHONIOENCODING=ascii``): a character it lacks would end the
    run with UnicodeEncodeError. Nothing where it is UTF-8, or cannot be reconfigured."""
    import codecs

    with contextlib.suppress(AttributeError, LookupError, ValueError, OSError):
        if codecs.lookup(getattr(sys.stdout, "encoding", None) or "utf-8").name != "utf-8":
            sys.stdout.reconfigure(**kwargs)


def _err(msg: str) -> None:
    _err_raw(f"ser-live: {msg}")


def _silence_stream(stream: str) -> None:
    """Point ``sys.stdout`` (``stream="stdout"``) or ``sys.stderr`` (``"stderr"``) at /dev/null (a
    new file object): stdout once it cannot be written (a closed pipe, a terminal gone, a
    file given up), so Python's flush of it at exit neither fails nor waits; stderr when the
    program started with it closed (None), where ``print(..., file=None)`` writes to stdout,
    among the results."""
    with contextlib.suppress(Exception):
        setattr(sys, stream, open(os.devnull, "w"))  # noqa: SIM115 - kept open until exit


def _err_raw(text: str) -> None:
    """Print to stderr; a closed terminal (after SIGHUP) or stderr is not an error."""
    with contextlib.suppress(OSError, ValueError):
        print(text, file=sys.stderr, flush=True)


def _model_path(value: str | None) -> Path | None:
    """``--model``: None (the default model), else a file path or a shipped model's short
    name as :func:`ser_live.model.resolve_model_path` resolves it.

    Raises
    ------
    ModelError
        A short name with no such shipped model; the message lists the shipped names.
    """
    from ..model import resolve_model_path

    return None if value is None else resolve_model_path(value)


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
    if getattr(args, "profile", None) is None:
        return model, None
    from ..profile import load_profile, profile_path

    prof = load_profile(profile_path(args.profile), model=model)
    log.info("profile %s (%d utterances) for model %s", prof.name, prof.n_utterances, model.name)
    return prof.apply(model), prof


def _speakers_value(value: str) -> int | str:
    """``--speakers``: ``auto`` or a count 1..26 (argparse type)."""
    from ..speakers import parse_speakers

    try:
        return parse_speakers(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).replace("--speakers takes ", "")) from None


def _add_speakers(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--speakers N|auto`` (listen, ``predict --segments``)."""
    from ..speakers import AUTO_MAX_SPEAKERS

    parser.add_argument(
        "--speakers", type=_speakers_value, default=1, metavar="N|auto",
        help=f"speaker turns: attribute each utterance to one of the N voices of {what} (a call: 2), each "
             f"normalised as a session of its own; records gain \"speaker\" (A, B, ... in order of first "
             f"appearance). auto = find out how many, up to {AUTO_MAX_SPEAKERS} (slower to open a second voice). "
             "Default 1: one session, no speaker attribution (see README, 'Two voices on one line')",
    )


def _speakers_for(args: argparse.Namespace, model: Any) -> int | str:
    """``--speakers`` for this model: the run's number of voices, or ``"auto"``
    (:func:`~ser_live.speakers.speaker_mode`; 1: no attribution). A model whose features
    lack the speaker embedding's columns gets 1 with ``auto`` (a warning) and a ModelError
    (exit 5) with an explicit N > 1; so does a speaker embedding file of the installation that
    cannot be read (a damaged install: reinstall ser-live)."""
    from ..errors import ModelError
    from ..speakers import shipped_embedding, speaker_mode

    value = getattr(args, "speakers", 1)
    n = value if value == "auto" else int(value)
    if n == 1:
        return 1

    def refuse(reason: str) -> int:  # auto: no speaker turns, said; an explicit N: exit 5
        if value == "auto":
            log.warning("no speaker turns: %s", reason)
            return 1
        raise ModelError(f"--speakers {n}: {reason}") from None

    try:
        embedding = shipped_embedding(speaker_mode(n)[1])
    except (OSError, ValueError) as exc:
        return refuse(f"the speaker embedding cannot be read ({exc}); reinstall ser-live")
    try:
        embedding.column_indices(model.extractor.feature_names())
    except ValueError as exc:
        return refuse(f"model {model.name}: {exc}")
    return n
