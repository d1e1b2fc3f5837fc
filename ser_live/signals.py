"""Stop signals while a run is under way, for the CLI and the batch runner alike.

SIGTERM, SIGHUP and SIGQUIT end a run like Ctrl-C (SIGINT); while results that are already
saved are written out they are ignored or deferred, so what a run wrote and what it reported
agree however many signals come. Every helper changes handlers in the main thread only:
elsewhere (and for signals the platform lacks) nothing changes.
"""

from __future__ import annotations

import contextlib
import signal
import sys
from typing import Any, Callable, Iterator

__all__ = ["IMPORT_HOLD_S", "STOP_SIGNALS", "imports_hold_signals", "signals_deferred", "stop_signals_as_interrupt",
           "stop_signals_ignored", "stop_signals_as_interrupt_from_now", "time_limited"]

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
    ignored SIGINT: ``nohup ser-live ... &`` must outlive the terminal that sends SIGHUP.

    Ctrl-C (SIGINT) goes back to Python's own ``KeyboardInterrupt`` if the package's start-up
    handler holds it (``ser_live._interrupted_at_start``, which ends the program at once
    while its first modules import)."""
    import ser_live

    early = getattr(ser_live, "_interrupted_at_start", None)
    if early is not None and signal.getsignal(signal.SIGINT) is early:
        _install(("SIGINT",), signal.default_int_handler)
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


#: Longest a signal is held (s, wall clock) while a module imports under
#: :func:`imports_hold_signals`: the program's own modules and NumPy, SciPy and scikit-learn
#: import in about 0.5 s here; past it the import is cut where it is, so a machine whose disk
#: is slow still stops within the 2 s a Ctrl-C is given.
IMPORT_HOLD_S = 1.0

#: Blocks of :func:`signals_deferred` under way in the main thread (an import inside one is
#: held by it already, and its own time limit, if any, must not be overridden).
_deferrals = 0


@contextlib.contextmanager
def imports_hold_signals(*, at_most_s: float = IMPORT_HOLD_S) -> Iterator[None]:
    """While the block runs, a Ctrl-C (SIGINT) or stop signal that comes while a module is
    importing is held until that import is done (for at most ``at_most_s`` seconds), then
    raised as usual, at the ``import`` statement: never inside the import machinery, a C
    extension's initialisation or a module's top-level code. For the ``ser-live`` program,
    whose modules import lazily as a command needs them, so an early Ctrl-C lands in one.

    A KeyboardInterrupt raised inside an import goes where no ``except`` can reach it, and
    CPython documents that it can leave a program in an inconsistent state (the note under
    ``KeyboardInterrupt`` in the library reference, bpo-42340). We saw, at ``ser-live``'s
    start: NumPy's C initialisation replaced it with an ImportError it reports as a broken
    installation; C code printed it as a traceback (most likely a C extension's
    ``import_array()``, which calls ``PyErr_Print``) before the program said ``interrupted``
    (seen once, in CI); and one raised inside the code that ``dataclass`` builds with
    ``exec`` left CPython (3.11, here) believing the interrupt was never handled (its
    ``_Py_UnhandledKeyboardInterrupt`` flag, bpo-1054041, is set when an interrupt leaves code
    run by ``exec`` or ``eval`` of a string, caught or not), so a ``python -m ser_live``
    process killed itself with SIGINT (status -2, not 130) after printing ``interrupted``.

    Statement imports and C extensions' imports go through ``builtins.__import__``, which
    this replaces while the block runs (``importlib.import_module`` does not). A module
    already imported (with the names a ``from`` import takes) costs a look-up; an import in
    another thread, inside a :func:`signals_deferred` block (which holds signals by its own
    rules) or while a block limits itself with the SIGALRM timer (a write to a terminal that
    takes no output, given at most 0.5 s) is not held here. A signal held past ``at_most_s``
    is raised inside the import after all, and still ends the import in KeyboardInterrupt
    whatever the code it cut did with it (see :func:`signals_deferred`). Main thread only.

    Parameters
    ----------
    at_most_s : float
        Longest a signal is held, seconds (:data:`IMPORT_HOLD_S`).
    """
    import builtins
    import threading

    original = builtins.__import__
    main_ident = threading.main_thread().ident

    def held_import(name: str, globals: Any = None, locals: Any = None, fromlist: Any = (), level: int = 0) -> Any:
        if (_imported(name, globals, fromlist, level) or _deferrals
                or threading.get_ident() != main_ident or _timer_running()):
            return original(name, globals, locals, fromlist, level)
        with signals_deferred(at_most_s=at_most_s):
            return original(name, globals, locals, fromlist, level)

    builtins.__import__ = held_import
    try:
        yield
    finally:
        builtins.__import__ = original


def _imported(name: str, globals: Any, fromlist: Any, level: int) -> bool:
    """Whether an ``import`` statement's module, and every name its ``from ... import``
    takes, are there already (so it imports nothing: the lazy imports inside functions that
    run once per file or record cost a look-up, not a hold). False when unsure."""
    if level:
        package = (globals or {}).get("__package__") or ""
        parts = package.rsplit(".", level - 1)
        if not package or len(parts) < level:
            return False
        name = f"{parts[0]}.{name}" if name else parts[0]
    module = sys.modules.get(name)
    if module is None:
        return False
    # the module's own dict, not hasattr: a module-level __getattr__ (PEP 562; lazy loaders
    # import there) must run under the hold, inside the import, not in this look-up
    names = getattr(module, "__dict__", None)
    return names is not None and all(attr == "*" or attr in names for attr in fromlist or ())


def _timer_running() -> bool:
    """Whether the process's real-time interval timer runs: a block that limits itself by
    SIGALRM owns it (``signals_deferred(at_most_s=...)``, the CLI's limit on a stalled
    write), and a hold inside it must not stop it."""
    return hasattr(signal, "getitimer") and signal.getitimer(signal.ITIMER_REAL) != (0.0, 0.0)


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


@contextlib.contextmanager
def time_limited(seconds: float) -> Iterator[None]:
    """Raise ``KeyboardInterrupt`` inside the block once it has run ``seconds`` (wall clock),
    by SIGALRM, whose handler and timer are the block's while it runs: for a write, once the
    run is stopping, to a pipe or terminal whose reader may never take it (nobody may be left
    to send another signal). Where :func:`signals_deferred` arms the same timer only when a
    signal comes, this arms it at once. Main thread only, where there is ``setitimer``;
    elsewhere nothing is limited.

    Parameters
    ----------
    seconds : float
        The block's limit, seconds (> 0).
    """
    previous = _install(("SIGALRM",), _raise_interrupt) if hasattr(signal, "setitimer") else {}
    if not previous:  # not the main thread, or no interval timer
        yield
        return
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
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
    ending = False  # the block is over: its handlers are being given back

    def time_up(signum: int, frame: Any) -> None:
        if ending:  # fired as the block ended: the signal held is handed on below
            return
        if interruptible is None or interruptible():
            _raise_interrupt(signum, frame)
        signal.setitimer(signal.ITIMER_REAL, _RECHECK_S)  # not at a point it may be cut: ask again soon

    def note(signum: int, _frame: Any) -> None:
        nonlocal armed
        got.append(signum)
        old = previous.get(signum)
        # Not once the block is ending: a signal noted there (CPython runs a pending handler
        # inside the signal.signal() that gives the handlers back) would start a timer whose
        # SIGALRM then finds the handler of before, the default one ending the process.
        if timed and not armed and not ending and (callable(old) or old == signal.SIG_DFL):  # not one ignored
            armed = True
            signal.setitimer(signal.ITIMER_REAL, float(at_most_s))

    global _deferrals
    counted = False
    try:
        _install(("SIGINT", *STOP_SIGNALS), note, previous)
        if previous:  # the main thread: signals are held here
            _deferrals += 1
            counted = True
        if at_most_s is not None and previous and hasattr(signal, "setitimer"):
            _install(("SIGALRM",), time_up, previous)
            timed = True
        yield
    finally:
        ending = True  # first: neither handler may start the timer or raise from here on
        if counted:
            _deferrals -= 1
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
