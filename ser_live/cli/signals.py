"""Stop signals while a command runs: SIGTERM, SIGHUP and SIGQUIT end a run like Ctrl-C;
held or ignored while results already saved are written out."""

from __future__ import annotations

import contextlib
import signal
from typing import Any, Iterator

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
