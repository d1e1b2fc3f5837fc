"""The ``ser-live`` program's entry point (``[project.scripts]``, ``python -m ser_live``).

It imports nothing heavy itself: stop signals (SIGTERM, SIGHUP, SIGQUIT) are made to act as
Ctrl-C first, then :func:`ser_live.cli.main` is imported and run. A Ctrl-C or stop signal
that lands while the command's modules are still importing, or before the command has
started, ends the program as one does later on: ``ser-live: interrupted`` on stderr and exit
130 (:data:`ser_live.errors.ExitCode.INTERRUPTED`), never a traceback. One that comes while a
module imports (the commands import theirs as they need them) is raised once that import is
done (:func:`ser_live.signals.imports_hold_signals`).
"""

from __future__ import annotations

import sys
import time  # built in: cheap
from typing import Any  # comes with .signals anyway

from .errors import ExitCode  # an enum and exceptions: nothing heavy
from .signals import imports_hold_signals, stop_signals_as_interrupt_from_now

__all__ = ["main"]


def main() -> int:
    """Run the ``ser-live`` program; its exit status (see ``ser-live --help``).

    When a PortAudio call the program gave up waiting for is still running (a slow or hung
    audio server; :func:`ser_live.audio.portaudio_call_under_way`), or a run that loaded
    PortAudio was interrupted, the process leaves with ``os._exit`` once stdout and stderr
    are flushed: the C libraries' exit handlers would run beside that call, or after a
    set-up the Ctrl-C cut short, and could crash the process (SIGSEGV in place of the status).
    A call still under way is first given up to :data:`ser_live.audio.PORTAUDIO_SETTLE_S`
    to return (:func:`_settle`).
    """
    # Only for a process whose audio this run set up (not a caller's, e.g. a test runner's).
    fresh = "ser_live.audio" not in sys.modules
    code = _run()
    if code == ExitCode.INTERRUPTED:
        # The run is over and said so. An exception Python can only report as "Exception
        # ignored in ..." (a finaliser's, at exit) is not printed from now: the interrupt may
        # have cut an object's __init__ short, and its __del__ fails on an attribute never set
        # (zipfile.ZipFile cut while a model file opened: "AttributeError: ... '_writing'"
        # after "interrupted", once in 500 runs Ctrl-C'd at start).
        sys.unraisablehook = _unreported
    audio = sys.modules.get("ser_live.audio")
    if fresh and audio is not None and (audio.portaudio_call_under_way()
                                        or (code == ExitCode.INTERRUPTED and "sounddevice" in sys.modules)):
        # Also after a Ctrl-C once PortAudio is loaded: its exit handler (Pa_Terminate, with
        # ALSA's and JACK's) crashed the process (SIGSEGV after "interrupted") when the Ctrl-C
        # came while the microphone was being set up; every result is written by now.
        from .runtime import exit_now

        _settle(audio)
        exit_now(code)
    return code


def _settle(audio: Any) -> None:
    """Give a PortAudio call still under way up to ``audio.PORTAUDIO_SETTLE_S`` to return
    before ``os._exit`` (:func:`ser_live.audio.settle_portaudio_calls`: one cut inside
    ``Pa_Initialize`` can leave JACK's metadata database locked for every later PortAudio
    program of the user). A second Ctrl-C leaves at once. Logged at INFO (``-v``)."""
    if not audio.portaudio_call_under_way():
        return
    import logging  # here, not at the top: the program's first moments import as little as they can

    log = logging.getLogger("ser_live")
    t0 = time.monotonic()
    try:  # fd 2 stays at /dev/null meanwhile (sounddevice's, while PortAudio initialises)
        left = audio.settle_portaudio_calls(at_most_s=audio.PORTAUDIO_SETTLE_S)
    except KeyboardInterrupt:  # a second Ctrl-C: leave now
        left = ["(not waited for: Ctrl-C)"]
    waited_s = time.monotonic() - t0
    if left:
        log.info("leaving with PortAudio calls still under way after %.2f s: %s", waited_s, ", ".join(left))
    else:
        log.info("PortAudio's call under way returned after %.2f s; leaving", waited_s)


def _run() -> int:
    try:
        stop_signals_as_interrupt_from_now()
        with imports_hold_signals():  # a Ctrl-C is raised after an import, never inside one
            from .cli import main as cli_main

            return cli_main()
    except Exception as exc:
        if not _interrupted(exc):
            raise
        return _say_interrupted()
    except KeyboardInterrupt:
        return _say_interrupted()


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` was raised while a Ctrl-C was being handled: a module whose import the
    KeyboardInterrupt cut short can fail with another error on its way out (webrtcvad's
    ``except PackageNotFoundError`` after its ``from importlib.metadata import ...`` was
    interrupted raises NameError)."""
    seen: set[int] = set()
    e: BaseException | None = exc
    while e is not None and id(e) not in seen:
        if isinstance(e, KeyboardInterrupt):
            return True
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return False


def _unreported(unraisable: object) -> None:
    """A ``sys.unraisablehook`` that prints nothing (for a run already ended as interrupted)."""


def _say_interrupted() -> int:
    """``ser-live: interrupted`` on stderr; the exit status 130."""
    try:
        if sys.stderr is not None:  # closed at start (`2>&-`): file=None would print to stdout
            print("ser-live: interrupted", file=sys.stderr, flush=True)
    except (OSError, ValueError):  # stderr closed (a terminal gone after SIGHUP)
        pass
    return ExitCode.INTERRUPTED
