"""Process-wide tuning for fast, reproducible feature extraction, applied by entry points only.

A feature extraction (:class:`ser_live.features.FeatureExtractor`) is a few milliseconds of
numpy on arrays of 0.1-2 MB. Two process-level settings decide whether it takes 7 ms or
50 ms on a busy 2-core machine, and one of them also decides the last bits of some features:

* the glibc allocator's mmap and trim thresholds (:func:`tune_allocator`), and
* the number of BLAS threads (:func:`limit_blas_threads`).

Both change the whole process, so a library must not set them behind its user's back: the
programs of this project (the ``ser-live`` command, ``python -m train``, the benchmarks) call
:func:`tune_process` once at start-up; code that embeds a :class:`FeatureExtractor` in its
own program may call it too, or leave its process as it is (the features are then the same
up to the last bits of a few columns, see :func:`limit_blas_threads`).

Every function here is idempotent: a second call changes nothing and returns the first
call's outcome.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass

__all__ = ["ProcessTuning", "tune_process", "tune_allocator", "limit_blas_threads", "BLAS_THREAD_VARS",
           "exit_now"]

log = logging.getLogger(__name__)

#: glibc ``mallopt`` parameter numbers (``<malloc.h>``).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
#: Allocations below this size (bytes) come from the heap instead of fresh ``mmap`` pages.
ALLOCATOR_MMAP_THRESHOLD_BYTES = 32 * 2**20
#: Free memory at the heap top (bytes) kept instead of being returned to the system.
ALLOCATOR_TRIM_THRESHOLD_BYTES = 128 * 2**20
#: Environment variables by which a user sets the glibc thresholds; when one is set it is obeyed.
_MALLOC_VARS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
#: Environment variables by which a user chooses BLAS threads; when one is set it is obeyed.
BLAS_THREAD_VARS: tuple[str, ...] = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")

_allocator_result: bool | None = None
_blas_result: bool | None = None


@dataclass(frozen=True)
class ProcessTuning:
    """What :func:`tune_process` put in force.

    Attributes
    ----------
    allocator : bool
        The glibc mmap/trim thresholds are raised (:func:`tune_allocator`).
    blas_one_thread : bool
        BLAS runs on one thread (:func:`limit_blas_threads`).
    """

    allocator: bool
    blas_one_thread: bool


def tune_process() -> ProcessTuning:
    """Tune this process for feature extraction: glibc heap thresholds, one BLAS thread.

    Call once at the start of a program that extracts features (the ``ser-live`` command,
    ``python -m train``, the benchmarks). Idempotent. Neither setting changes a feature
    value computed on one thread; the BLAS limit makes live features equal, bit for bit, to
    those computed for training in joblib's worker processes (which run BLAS on one thread
    on this project's 2-core machines).

    Both settings belong to the process that calls it: a ``"spawn"`` or ``"forkserver"``
    worker process does not inherit them (a ``"fork"`` worker does), so a process pool whose
    workers should give the caller's results to the bit calls it in each worker
    (``ProcessPoolExecutor(initializer=tune_process)``; ``docs/concurrency.md``).

    Returns
    -------
    ProcessTuning
        Which of the two settings are in force.
    """
    return ProcessTuning(allocator=tune_allocator(), blas_one_thread=limit_blas_threads())


def tune_allocator() -> bool:
    """Keep numpy temporaries in the heap instead of fresh pages (glibc only; once).

    One 4 s utterance makes about 12 MB of numpy temporaries of 0.2-1.6 MB each. Under
    glibc's default thresholds each is ``mmap``-ed and unmapped again (or the heap top is
    trimmed after it is freed), so every extraction page-faults its working set anew: about
    3000 minor faults, 40 % of its CPU time. Raising the mmap threshold to 32 MB and the trim
    threshold to 128 MB lets them be reused from the heap; the price is that up to the
    largest extraction's working set (tens of MB) stays resident. This is what the
    ``MALLOC_MMAP_THRESHOLD_`` / ``MALLOC_TRIM_THRESHOLD_`` environment variables do, and
    it is skipped when either variable is set or the C library is not glibc.

    Returns
    -------
    bool
        True when the thresholds are set (by this call or an earlier one).

    References
    ----------
    .. [1] ``mallopt(3)``, Linux man-pages: M_MMAP_THRESHOLD, M_TRIM_THRESHOLD.
    """
    global _allocator_result
    if _allocator_result is None:
        _allocator_result = _set_malloc_thresholds()
    return _allocator_result


def _set_malloc_thresholds() -> bool:
    import platform

    if not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc":
        return False
    if any(v in os.environ for v in _MALLOC_VARS):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        ok = libc.mallopt(_M_MMAP_THRESHOLD, ALLOCATOR_MMAP_THRESHOLD_BYTES) == 1
        ok &= libc.mallopt(_M_TRIM_THRESHOLD, ALLOCATOR_TRIM_THRESHOLD_BYTES) == 1
    except (OSError, AttributeError):  # pragma: no cover - exotic libc
        return False
    log.debug("glibc malloc thresholds set (mmap %d B, trim %d B): %s",
              ALLOCATOR_MMAP_THRESHOLD_BYTES, ALLOCATOR_TRIM_THRESHOLD_BYTES, ok)
    return bool(ok)


def limit_blas_threads() -> bool:
    """Run BLAS on one thread in this process (once; unless the user chose a thread count).

    The extractor's matrix products (mel and chroma filter banks, DCT, pooling: at most
    64 x 513 by 513 x T) are too small to gain from threads, yet OpenBLAS splits them over
    every core. When another process occupies a core, each product waits for a time slice
    and OpenBLAS's spinning threads take the rest of the extraction's CPU: 5-10x slower on a
    shared 2-core machine. Threads also change the last bits of the products (the work is
    partitioned differently), enough to move a feature such as the position of a minimum
    between near-equal frames: features computed with one thread, as joblib's worker
    processes compute the training features, equal those computed live only when the live
    process uses one thread too. The limit is process-wide (``threadpoolctl``, a
    scikit-learn dependency) and permanent, because a per-call limit would change the thread
    count under BLAS calls running meanwhile on other threads, making their results depend
    on timing. numpy is imported first: called before it (as by a test suite's start-up
    hook), the limit found no BLAS library and numpy's came up with a thread per core. Nothing
    is changed when one of ``OPENBLAS_NUM_THREADS``, ``OMP_NUM_THREADS``,
    ``MKL_NUM_THREADS`` or ``BLIS_NUM_THREADS`` is set, or without threadpoolctl.

    Returns
    -------
    bool
        True when the limit is in force (set by this call or an earlier one).
    """
    global _blas_result
    if _blas_result is None:
        _blas_result = _set_blas_threads()
    return _blas_result


def _set_blas_threads() -> bool:
    if any(v in os.environ for v in BLAS_THREAD_VARS):
        return False
    try:
        import numpy  # noqa: F401 - load its BLAS first: threadpoolctl limits only libraries loaded
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
    except Exception as exc:  # pragma: no cover - threadpoolctl missing or failing
        log.debug("BLAS threads not limited: %s", exc)
        return False
    log.debug("BLAS limited to one thread")
    return True


def exit_now(code: int) -> None:
    """End the process with exit status ``code`` at once (``os._exit``), stdout and stderr
    flushed first (each on its own: one that cannot be written does not keep the other's
    last lines back), no exit handler run.

    For a run that leaves PortAudio behind: a stream it would not close, or a call still
    running on a daemon thread (a slow audio server, a Ctrl-C during set-up). PortAudio's
    exit handler (``Pa_Terminate``, with ALSA's and JACK's) could then block, or crash the
    process (SIGSEGV in place of the exit status). Everything the run writes must be
    written by then.

    Parameters
    ----------
    code : int
        The exit status.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
