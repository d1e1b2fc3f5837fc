"""Fork and exit safety: a fork, and the interpreter's exit, wait until no other thread is
inside ser-live's BLAS or libsndfile calls.

A process forked while another of its threads holds a lock gets that lock held for ever,
with no thread to release it. ser-live's threads (a :class:`~ser_live.pipeline.Recognizer`'s
worker, or a service's own threads scoring clips with a shared model) spend most of their
time in two kinds of call that take such locks:

* matrix products in OpenBLAS (the feature extractor's filter banks and DCT, the
  classifier, the speakers' clustering): a multi-threaded ``sgemm`` holds OpenBLAS's
  ``level3_lock`` (``driver/level3/level3_thread.c``), which OpenBLAS does not reset in a
  forked child;
* opening an audio file with python-soundfile, which holds its class-level
  ``SoundFile._sf_error_lock`` around ``sf_open``.

A child forked at such a moment (``multiprocessing`` with the ``"fork"`` start method, the
default on Linux before Python 3.14, or a ``ProcessPoolExecutor`` starting a worker on
demand) hung for ever at its first matrix product or file (seen with 2 OpenBLAS threads:
both children of the first 2-process pool forked while two threads ran ``Predictor``).

:func:`fork_guard` marks those sections. A hook registered with :func:`os.register_at_fork`
makes ``os.fork()`` wait, before it forks, until no other thread is inside one (new ones
wait for the fork to end), at most :data:`FORK_WAIT_S`; sections last milliseconds, so a
fork waits that long at most. The hook is the one process-wide change importing ser-live's
extractor, model or audio reader makes; a fork with no section in progress does not wait.
Locks of other libraries, or of the caller's own threads, are not covered: the ``"spawn"``
and ``"forkserver"`` start methods avoid the problem whole.

The same sections make the interpreter's exit safe. A daemon thread (a ``Recognizer``'s
worker, when the program ends without :meth:`~ser_live.pipeline.Recognizer.stop`) that
is inside pocketfft's C++ code when Python finalises is ended by ``pthread_exit`` as it
takes the GIL back, which unwinds through a C++ destructor: the process aborted with
"terminate called without an active exception" (exit status 134; 1 exit in 10 with two
recognisers busy). An :mod:`atexit` hook (:func:`_GATE.close <_ForkGate.close>`) waits,
at most :data:`FORK_WAIT_S`, for the sections in progress to end; a section entered after
it raises :class:`InterpreterExitingError` (a ``Recognizer``'s worker logs the utterance as
not classified), so no thread is inside C++ code when the interpreter finalises.

References
----------
Python documentation, :func:`os.fork`: "If you use fork() in a process with multiple threads,
... the child process can deadlock"; :func:`os.register_at_fork`.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterator

__all__ = ["FORK_WAIT_S", "InterpreterExitingError", "fork_guard"]

log = logging.getLogger(__name__)

#: Longest wait (s) of a fork for the sections in progress; after it the fork goes ahead
#: (logged as a warning): a section that does not end (an open that blocks) must not hang
#: the parent.
FORK_WAIT_S: float = 10.0


class InterpreterExitingError(RuntimeError):
    """A BLAS or audio-file call began while the interpreter exits (see the module's notes)."""


class _ForkGate:
    """Sections (re-entrant per thread, any number of threads at once) and forks that wait
    for them: a readers-writer gate whose writer is ``os.fork``."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._new_lock(active=0)

    def _new_lock(self, *, active: int) -> None:
        # Taken as ``with self._lock`` (a C method) and never as ``with self._cond``:
        # Condition.__enter__ is Python code, and a Ctrl-C raised as it returns left the
        # lock held for ever (the program hung at exit, in close()).
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._active = active  # threads inside a section
        self._forking = False
        self._closed = False

    def _depth(self) -> int:
        return getattr(self._local, "depth", 0)

    @contextlib.contextmanager
    def section(self) -> Iterator[None]:
        """Mark a section (see :func:`fork_guard`). A KeyboardInterrupt may come at any
        bytecode of it, from a signal handler: the count of threads inside is kept right
        whatever the instruction it lands on (it once leaked one, and the exit then waited
        :data:`FORK_WAIT_S` for a section that had ended)."""
        depth = self._depth()
        counted = False
        try:
            if depth == 0:
                with self._lock:
                    while self._forking and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        raise InterpreterExitingError("the interpreter is exiting: no more feature extraction, "
                                                      "classification or audio-file access")
                    self._active += 1
                    counted = True  # no call between the two: nothing can be raised there
            self._local.depth = depth + 1
            yield
        finally:
            self._local.depth = depth
            if counted:
                with self._lock:
                    self._active -= 1
                    if self._forking or self._closed:  # a fork or the exit waits for this
                        self._cond.notify_all()

    def _wait_for_sections(self, what: str) -> None:
        """With ``_cond`` held: wait until no other thread is inside a section, at most
        :data:`FORK_WAIT_S` (then log a warning naming ``what`` and go on)."""
        own = 1 if self._depth() else 0  # a fork from inside a section does not wait for itself
        deadline = time.monotonic() + FORK_WAIT_S
        while self._active > own:
            left = deadline - time.monotonic()
            if left <= 0:
                log.warning("%s: %d thread(s) still in ser-live's BLAS or audio-file calls after %.0f s; going on",
                            what, self._active - own, FORK_WAIT_S)
                return
            self._cond.wait(left)

    def before_fork(self) -> None:
        with self._lock:
            self._forking = True
            self._wait_for_sections("fork (the child may hang: use the 'spawn' or 'forkserver' start method)")

    def close(self) -> None:
        """At the interpreter's exit: wait for the sections in progress; refuse new ones."""
        with self._lock:
            self._closed = True
            self._cond.notify_all()  # threads waiting for a fork raise instead
            self._wait_for_sections("exit")

    def after_fork_in_parent(self) -> None:
        with self._lock:
            self._forking = False
            self._cond.notify_all()

    def after_fork_in_child(self) -> None:
        # the one thread left is the one that forked; the old lock may be held by a thread
        # that is gone
        self._new_lock(active=1 if self._depth() else 0)


_GATE = _ForkGate()
if hasattr(os, "register_at_fork"):  # not on Windows
    os.register_at_fork(before=_GATE.before_fork, after_in_parent=_GATE.after_fork_in_parent,
                        after_in_child=_GATE.after_fork_in_child)
atexit.register(_GATE.close)


def fork_guard() -> contextlib.AbstractContextManager[None]:
    """A section no ``os.fork()`` of this process happens in (see the module's notes).

    Wrap calls into OpenBLAS or python-soundfile that run on any thread. Re-entrant (a
    section inside a section of the same thread costs nothing more); many threads may be
    inside sections at once. Entering waits only while a fork is under way.

    Raises
    ------
    InterpreterExitingError
        On entering, once the interpreter has begun to exit (:mod:`atexit`).

    Returns
    -------
    context manager
    """
    return _GATE.section()
