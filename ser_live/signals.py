"""Stop signals while a run is under way, for the CLI and the batch runner alike.

SIGTERM, SIGHUP and SIGQUIT end a run like Ctrl-C (SIGINT); while results that are already
saved are written out they are ignored or deferred, so what a run wrote and what it reported
agree however many signals come. Every helper changes handlers in the main thread only:
elsewhere (and for signals the platform lacks) nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any, Callable, Iterator

__all__ = ["STOP_SIGNALS", "interrupts_kept", "signals_deferred", "stop_signals_as_interrupt", "stop_signals_ignored",
           "stop_signals_as_interrupt_from_now"]

#: Signals that end a listening run like Ctrl-C: summary printed, utterance in progress kept.
#: SIGHUP comes when the terminal is closed; SIGQUIT from Ctrl-\\ (no core dump then).
STOP_SIGNALS: tuple[str, ...] = ("SIGTERM", "SIGHUP", "SIGQUIT")


def _install(names: tuple[str, ...], handler: Any, previous: dict[int, Any] | None = None, *,
             keep_ignored: bool = False) -> dict[int, Any]:
    """Set ``handler`` (a callable or ``signal.SIG_IGN``) for the signals named that the
    platform has; returns the handlers replaced, by signal number (empty outside the main
    thread, where :func:`signal.signal` raises ``ValueError``), recorded in ``previous``
    when given as each is replaced (so a signal raising midway leaves nothing unrecorded).
    With ``keep_ignored``, a signal that is ignored now is left ignored (not in the result)."""
    previous = {} if previous is None else previous
    with contextlib.suppress(ValueError):  # not the main thread
        for name in names:
            signum = getattr(signal, name, None)
            if signum is None or (keep_ignored and signal.getsignal(signum) == signal.SIG_IGN):
                continue
            previous[signum] = signal.signal(signum, handler)
    return previous


def _restore(previous: dict[int, Any]) -> None:
    for signum, old in previous.items():
        signal.signal(signum, old)


def _raise_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def stop_signals_as_interrupt_from_now() -> None:
    """Treat SIGTERM, SIGHUP and SIGQUIT like Ctrl-C for the rest of the process (main
    thread only): what the ``ser-live`` program does first, so a stop signal that comes
    while a model loads or files are scored ends the run as Ctrl-C does (exit 130, the
    records finished so far written), not by the signal's default action.

    A stop signal the process was started with ignored stays ignored, as Python leaves an
    ignored SIGINT: ``nohup ser-live ... &`` must outlive the terminal that sends SIGHUP."""
    _install(STOP_SIGNALS, _raise_interrupt, keep_ignored=True)


@contextlib.contextmanager
def stop_signals_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM, SIGHUP and SIGQUIT like Ctrl-C (``KeyboardInterrupt``, a clean stop)
    while the block runs; main thread only. One ignored when the block starts (``nohup``
    ignores SIGHUP) stays ignored."""
    previous = _install(STOP_SIGNALS, _raise_interrupt, keep_ignored=True)
    try:
        yield
    finally:
        _restore(previous)


@contextlib.contextmanager
def interrupts_kept() -> Iterator[None]:
    """Ctrl-C (SIGINT) and the stop signals raise ``KeyboardInterrupt`` while the block runs,
    as usual, and one that came is never lost to code that turned it into another error or
    swallowed it: the block then ends in ``KeyboardInterrupt`` all the same (chained from
    that error, if any).

    For a block that imports modules. A C extension whose initialisation a Ctrl-C cuts short
    can put an error of its own in the interrupt's place, with no trace of it: NumPy 2's
    ``_multiarray_umath`` then raises ImportError "PyCapsule_Import could not import module
    \"datetime\"", which NumPy reports as a broken installation; an optional import's
    ``except ImportError`` would swallow it. Main thread only (elsewhere the handlers stay
    as they are and nothing is noted); a signal ignored when the block starts stays
    ignored; the handlers in place before are put back when it ends.

    Raises
    ------
    KeyboardInterrupt
        A signal came while the block ran.
    """
    seen: list[int] = []

    def note(signum: int, frame: Any) -> None:
        seen.append(signum)
        raise KeyboardInterrupt

    previous = _install(("SIGINT", *STOP_SIGNALS), note, keep_ignored=True)
    try:
        try:
            yield
        except Exception as exc:
            if seen:
                raise KeyboardInterrupt from exc
            raise
    finally:
        _restore(previous)
    if seen:
        raise KeyboardInterrupt


@contextlib.contextmanager
def stop_signals_ignored(*, restore: bool = True) -> Iterator[None]:
    """Ignore SIGINT and the stop signals (main thread only; restored on exit when
    ``restore``, else left ignored for the rest of the process)."""
    previous = _install(("SIGINT", *STOP_SIGNALS), signal.SIG_IGN)
    try:
        yield
    finally:
        if restore:
            _restore(previous)


#: How often (s) :func:`signals_deferred` asks ``interruptible`` again once its time is up.
_RECHECK_S = 0.05


@contextlib.contextmanager
def signals_deferred(*, at_most_s: float | None = None,
                     interruptible: Callable[[], bool] | None = None) -> Iterator[None]:
    """Defer SIGINT, SIGTERM, SIGHUP and SIGQUIT while the block runs: a signal that comes
    is noted and handed to the handler that was in place when the block ends (so Ctrl-C,
    or a stop signal the CLI turns into one, lands between two records or batches of
    records, never inside one: what a run saved and what it wrote out agree however many
    signals come). Main thread only; elsewhere nothing changes.

    Parameters
    ----------
    at_most_s : float, optional
        Hold a signal for at most this many seconds (wall clock): a block still running
        then is interrupted by a ``KeyboardInterrupt`` raised inside it (by SIGALRM, whose
        handler and timer are the block's while it runs). A write to a pipe whose reader
        stopped reading blocks for ever; without a limit it would hold a Ctrl-C as long.
        None (the default) holds a signal until the block ends.
    interruptible : callable, optional
        With ``at_most_s``: whether the block may be interrupted now (e.g. it is inside a
        write to a pipe, the one step that can block for ever). When the time is up and it
        returns False, the block is asked again every :data:`_RECHECK_S` s, so a block that
        is merely slow (a loaded machine) is never cut between taking a result and writing
        it. None: interrupted wherever it is.

    Why not block the signals with ``pthread_sigmask``, as this module once did: the mask is
    the main thread's only, so the kernel hands the signal to another thread (the segmenter,
    the worker, Dask's), and CPython runs the Python handler in the main thread all the same,
    at whatever line it has reached when it notices, inside the block too (a ``--jsonl``
    record taken off the queue was lost that way, under load, while the recordings index had
    it).
    """
    got: list[int] = []
    previous: dict[int, Any] = {}
    timed = False  # the block's SIGALRM handler is in place (at_most_s)
    armed = False  # and its timer runs: a signal is held

    def time_up(signum: int, frame: Any) -> None:
        if interruptible is None or interruptible():
            _raise_interrupt(signum, frame)
        signal.setitimer(signal.ITIMER_REAL, _RECHECK_S)  # not at a point it may be cut: ask again soon

    def note(signum: int, _frame: Any) -> None:
        nonlocal armed
        got.append(signum)
        old = previous.get(signum)
        if timed and not armed and (callable(old) or old == signal.SIG_DFL):  # not one ignored
            armed = True
            signal.setitimer(signal.ITIMER_REAL, float(at_most_s))

    try:
        _install(("SIGINT", *STOP_SIGNALS), note, previous)
        if at_most_s is not None and previous and hasattr(signal, "setitimer"):
            _install(("SIGALRM",), time_up, previous)
            timed = True
        yield
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
        # SIGINT last: a Ctrl-C that lands once its handler is back raises after the others
        # are restored, not between them (which would leave them noting, never acting).
        _restore(dict(reversed(previous.items())))
        if got:
            old = previous[got[0]]
            if callable(old):
                old(got[0], None)
            elif old == signal.SIG_DFL:
                signal.raise_signal(got[0])
