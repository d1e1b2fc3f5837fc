"""ser-live embedded in a concurrent service: one shipped model shared by threads, processes
forked while threads classify, and a program that ends while a recogniser still works.
Real RAVDESS and EmoDB speech. The process tests run a fresh interpreter without
``tune_process`` (what a library user has: OpenBLAS on several threads, forced to 2 here so
a 1-core machine tests the same), since the test session itself runs BLAS on one thread."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ser_live import EmotionModel, Predictor
from ser_live.audiofile import load_audio

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def clips(ravdess_root: Path, emodb_root: Path) -> list[Path]:
    """Six different utterances: four RAVDESS actors' and two EmoDB speakers'."""
    files = [next((ravdess_root / f"Actor_{a:02d}").glob("*-05-02-*.flac")) for a in (1, 2, 3, 4)]
    files += sorted((emodb_root / "wav").glob("*.flac"))[::200][:2]
    assert len(files) == 6
    return files


def _calls(model: EmotionModel, path: Path) -> tuple:
    """What a service computes for one clip: features, ``predict_signal``, and
    ``Predictor.process_file`` whole and cut into segments (with speaker turns)."""
    y = load_audio(path)
    segments = Predictor(model, speakers=2).process_file(path, segments=True)
    return (model.extractor.extract(y).tobytes(), model.predict_signal(y), Predictor(model).process_file(path),
            [(r.utterance.start_sample, r.prediction, r.rolling, r.speaker, r.features.tobytes()) for r in segments])


def test_one_loaded_model_serves_a_thread_pool_bit_for_bit(clips):
    """A web backend scoring uploads in a ThreadPoolExecutor with one model loaded at
    start-up: every result (features and probabilities to the bit, labels, segments)
    equals the same call made alone, whichever thread ran it and whatever ran beside it."""
    model = EmotionModel.load()
    alone = [_calls(model, p) for p in clips]
    with ThreadPoolExecutor(4) as pool:
        together = list(pool.map(lambda p: _calls(model, p), clips * 2))
    assert together == alone * 2


def _python(code: str, *, timeout_s: float) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OPENBLAS_NUM_THREADS": "2"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout_s)


def test_a_process_forked_while_threads_classify_does_not_hang(clips):
    """A service whose threads classify while it forks workers (multiprocessing's "fork"
    start method, Linux's default before Python 3.14; a ProcessPoolExecutor starting a
    worker on demand). Before, a fork that came while a thread was inside OpenBLAS's
    multi-threaded matrix product left the child waiting for ever on OpenBLAS's
    ``level3_lock`` at its first prediction (both children of the first pool hung). Each
    child here predicts and must exit with the parent's result; one that has not finished
    after 30 s (it needs 0.1 s) is counted as hung and killed."""
    out = _python(f"""
        import json, os, signal, threading, time
        from ser_live import EmotionModel
        from ser_live.audiofile import load_audio
        model = EmotionModel.load()
        ys = [load_audio(p) for p in {[str(p) for p in clips]!r}]
        expected = model.predict_signal(ys[0])
        def busy():
            while True:
                for y in ys[1:]:
                    model.predict_signal(y)
        for _ in range(2):
            threading.Thread(target=busy, daemon=True).start()
        time.sleep(0.2)
        codes = []
        for _ in range(6):
            pid = os.fork()
            if pid == 0:
                os._exit(0 if model.predict_signal(ys[0]) == expected else 3)
            deadline = time.monotonic() + 30
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    codes.append(os.waitstatus_to_exitcode(status))
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    codes.append("hung")
                    break
                time.sleep(0.02)
        print(json.dumps(codes))
    """, timeout_s=600)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == [0] * 6


def test_a_program_ending_while_threads_extract_stops_them_before_finalisation(clips):
    """A program that ends while daemon threads (a Recognizer's worker never stopped, or the
    service's own) are extracting features. Before, they ran on into the interpreter's
    finalisation, and one inside pocketfft's C++ code when it took the GIL back was ended by
    ``pthread_exit`` through a C++ destructor: "terminate called without an active
    exception", exit status 134 (1 run in 10). Now the exit waits for the extractions in
    progress and refuses new ones, so the threads are out of C++ code before finalisation:
    they are refused (InterpreterExitingError; the last may be frozen by finalisation before
    it says so), and the program exits with status 0."""
    out = _python(f"""
        import os, threading, time
        import numpy as np
        from ser_live import EmotionModel
        from ser_live.audiofile import load_audio
        model = EmotionModel.load()
        y = np.concatenate([load_audio(p) for p in {[str(p) for p in clips]!r}])
        started = threading.Barrier(4)
        def busy():
            started.wait()
            try:
                while True:
                    model.extractor.extract(y)
            except Exception as exc:  # refused once the program exits
                os.write(1, type(exc).__name__.encode() + b"\\n")
        for _ in range(3):
            threading.Thread(target=busy, daemon=True).start()
        started.wait()
        time.sleep(0.3)
    """, timeout_s=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "terminate called" not in out.stderr
    refused = out.stdout.split()
    assert 1 <= len(refused) <= 3 and set(refused) == {"InterpreterExitingError"}


def test_a_program_ending_while_recognisers_work_exits_cleanly(clips):
    """Two recognisers (two call legs pushed through PushSources) still classifying queued
    speech when the program ends without ``stop()``: the exit is clean (status 0, no C++
    "terminate called"), and the workers end quietly instead of logging every queued
    utterance as "not classified" while the interpreter goes down."""
    out = _python(f"""
        import time
        import numpy as np
        from ser_live import EmotionModel, PushSource, Recognizer
        from ser_live.audiofile import load_audio
        model = EmotionModel.load()
        gap = np.zeros(8000, np.int16)
        x = np.concatenate([np.concatenate([(load_audio(p) * 32767).astype(np.int16), gap])
                            for p in {[str(p) for p in clips]!r}])
        seen = []
        for leg in ("caller", "agent"):
            src = PushSource()
            Recognizer(src, model, on_result=seen.append, source_name=leg, ring_capacity_s=180).start()
            src.push(np.tile(x, 6))  # about 2 min of speech queued: still classifying at the end
        while not seen:
            time.sleep(0.05)
    """, timeout_s=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "terminate called" not in out.stderr and "not classified" not in out.stderr, out.stderr[-2000:]


def test_a_ctrl_c_anywhere_in_a_fork_guard_section_leaves_the_gate_open():
    """A KeyboardInterrupt may land at any bytecode of a section in the main thread
    (``ser-live predict`` scores there). Interrupts raised every 0.2 ms wherever the gate's
    own code runs (ser_live/forksafe.py and the threading and contextlib code it calls), for
    0.3 s: afterwards no section is counted as in progress and the gate's lock is free, so
    the exit does not wait. Before, the lock was left held (taken by Python code,
    ``Condition.__enter__``, that an interrupt could end before the ``with`` block began) and
    a run Ctrl-C'd while it scored hung at exit, in the gate's atexit hook."""
    import signal
    import time
    from ser_live.forksafe import _ForkGate

    armed = False

    def interrupt(signum, frame):
        if armed and frame is not None and frame.f_code.co_filename.endswith(
                ("forksafe.py", "threading.py", "contextlib.py")):
            raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.0002, 0.0002)
    try:
        gate = _ForkGate()
        cut = done = 0
        armed = True
        start = time.monotonic()
        while armed:
            try:
                if time.monotonic() - start > 0.3:
                    armed = False
                else:
                    with gate.section():
                        done += 1
            except KeyboardInterrupt:
                cut += 1
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    assert cut > 100, (cut, done)  # the interrupts did land in the gate's code
    assert gate._active == 0
    lock = gate._cond._lock
    assert lock.acquire(timeout=1.0), "the gate's lock was left held"
    lock.release()
    t0 = time.monotonic()
    gate.close()
    assert time.monotonic() - t0 < 0.5
