"""``ser-live bench``: latency, CPU, start-up, throughput and memory, measured on real speech.

What is measured (issue 4), each on real utterances of RAVDESS and EmoDB from the corpora
folder (``$SER_LIVE_DATA``, default ``<repo>/../shared/data``):

1. **processing** - features + classification of one utterance, exactly as the worker thread
   does it (:meth:`EmotionModel.predict_signal` on int16 samples), by utterance duration
   (1, 2, 3, 4, 6, 8 s: real speech cropped, or speech segments joined, to that length), side
   by side with the tutorial recipe (:func:`train.tutorial.tutorial_features`: three librosa
   calls, each with its own STFT, frame means, 180 values) and an RBF SVM fitted on a few
   files; wall-clock p50/p95/max, CPU time of the calling thread, and the ratio;
2. **end of speech** - the ``end_of_speech_ms`` and ``processing_ms`` of every utterance of a
   session of RAVDESS utterances and pauses replayed at real-time pace through the real
   ``ser-live`` program (FileSource -> ring buffer -> segmenter -> worker), with the part the
   VAD hangover accounts for;
3. **CPU while listening** - process CPU seconds per second of audio of that ``ser-live``
   process (dashboard on a pseudo-terminal, as a user runs it), from "listening" to the end
   of the audio, for the speech session (and, in the full run, the same with ``--plain``),
   for digital silence and for -60 dBFS white noise;
4. **start-up** - process start to the "replaying ..." line ``ser-live`` prints right after
   ``Recognizer.start()`` has started its source (the first audio read follows within one
   20 ms block): warm (bytecode cached), first run after install (installed bytecode, empty
   numba cache) and cold (no bytecode at all), with a breakdown by import;
5. **throughput** - ``ser-live predict`` over RAVDESS files, and the same
   :meth:`~ser_live.offline.Predictor.process_file` through joblib with 1 and 2 worker processes
   (``predict`` has no ``--jobs`` option);
6. **peak memory** - peak RSS of the listening process (``VmHWM`` of ``/proc/PID/status``,
   its high-water mark since ``exec``; ``wait4``'s ``ru_maxrss`` would report this benchmark's
   own RSS, which the child shares between ``vfork`` and ``exec``).

The machine is described (CPU model, cores, library versions, BLAS threads) and so is the
contention during each section: the CPU time other processes used meanwhile, in cores, from
the system-wide ``/proc/stat`` counters minus this benchmark's own processes. Results go to
``bench-results/`` (JSON and Markdown) and the Markdown is printed on stdout.

No pass/fail is enforced: the targets of issue 4 are listed beside each figure.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from . import __version__
from .audiofile import SAMPLE_RATE_HZ, audio_info, load_audio, to_int16, write_wav

__all__ = ["add_bench_arguments", "run_bench", "DURATION_BUCKETS_S", "TARGETS", "main"]

log = logging.getLogger(__name__)

SR = SAMPLE_RATE_HZ
REPO_ROOT = Path(__file__).resolve().parents[1]

#: Utterance durations (s) of the processing-latency table.
DURATION_BUCKETS_S: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)

#: The targets of issue 4 on a 2-core machine.
TARGETS: dict[str, str] = {
    "processing_p95_4s_ms": "<= 5 ms",
    "speedup_vs_tutorial_4s": ">= 4x",
    "end_of_speech_p95_ms": "<= hangover_ms + 20 ms",
    "cpu_listening_pct_core": "<= 5 % of one core",
    "startup_warm_s": "<= 1.5 s",
    "peak_rss_mb": "<= 200 MB",
}

SECTIONS: tuple[str, ...] = ("processing", "listen", "startup", "throughput")

#: The line ``ser-live`` prints on stderr once its source has started.
_LISTENING_RE = re.compile(r"^ser-live: (replaying|listening to) ")
_WARMUP_RE = re.compile(r"warmed up in (\d+(?:\.\d+)?) ms")
_DROPPED_RE = re.compile(r"audio dropped\s+(\d+) samples")


# ---------------------------------------------------------------------- settings
@dataclass
class BenchSizes:
    """How much work each section does (``--quick`` shrinks every field).

    Attributes
    ----------
    n_per_bucket : int
        Distinct utterances per duration bucket.
    repeats : int
        Times each utterance is processed (the statistics pool all repeats).
    tutorial_fit_files : int
        RAVDESS files the tutorial SVM is fitted on (at least 16: two per emotion).
    session_s : float
        Minimum length of the speech-and-pauses session replayed in real time (s).
    silence_s : float
        Length of the digital-silence and of the noise sessions (s); 0 skips them.
    headless : bool
        Also replay the speech session with ``--plain`` (no dashboard), to price the dashboard.
    startup_cold_runs, startup_warm_runs : int
        Start-up runs as a first run after install and with no bytecode at all (each), and
        with warm caches (after one priming run).
    throughput_files : int
        RAVDESS files classified by ``predict`` (0 = all 1440).
    tutorial_default_runtime : bool
        Also time the tutorial recipe in a fresh process with default runtime settings.
    """

    n_per_bucket: int = 30
    repeats: int = 5
    tutorial_fit_files: int = 48
    session_s: float = 130.0
    silence_s: float = 60.0
    headless: bool = True
    startup_cold_runs: int = 3
    startup_warm_runs: int = 5
    throughput_files: int = 0
    tutorial_default_runtime: bool = True


QUICK_SIZES = BenchSizes(
    n_per_bucket=5, repeats=2, tutorial_fit_files=16, session_s=20.0, silence_s=10.0,
    headless=False, startup_cold_runs=1, startup_warm_runs=3, throughput_files=48,
)


def add_bench_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``ser-live bench`` options to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The ``bench`` subparser (or a stand-alone parser).

    Returns
    -------
    argparse.ArgumentParser
        ``parser``.
    """
    full, quick = BenchSizes(), QUICK_SIZES
    parser.description = parser.description or (
        "Measure processing latency (vs the tutorial recipe), end-of-speech latency, CPU while\n"
        "listening, start-up time, offline throughput and peak memory on real speech; write\n"
        "JSON + Markdown to bench-results/ and print the Markdown table."
    )
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, about a minute (default: full run, about 12 minutes)")
    parser.add_argument("--sections", default=",".join(SECTIONS), metavar="LIST",
                        help=f"comma-separated subset of {','.join(SECTIONS)} (default: all)")
    parser.add_argument("--data", metavar="DIR", default=None,
                        help="corpora folder (default: $SER_LIVE_DATA or <repo>/../shared/data)")
    if not any(a.dest == "model" for a in parser._actions):
        parser.add_argument("--model", metavar="PATH", default=None,
                            help="model file (default: the shipped model)")
    parser.add_argument("--output-dir", metavar="DIR", default="bench-results",
                        help="where the JSON and Markdown results are written (default: bench-results)")
    parser.add_argument("--no-save", action="store_true", help="print only; write no files")
    if not any(a.dest == "verbose" for a in parser._actions):
        parser.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr")
    g = parser.add_argument_group("sizes (override --quick / full defaults)")
    g.add_argument("--n-per-bucket", type=int, metavar="N",
                   help=f"utterances per duration bucket (full {full.n_per_bucket}, quick {quick.n_per_bucket})")
    g.add_argument("--repeats", type=int, metavar="N",
                   help=f"timings per utterance (full {full.repeats}, quick {quick.repeats})")
    g.add_argument("--tutorial-fit-files", type=int, metavar="N",
                   help=f"files the tutorial SVM is fitted on (full {full.tutorial_fit_files}, quick {quick.tutorial_fit_files})")
    g.add_argument("--session-s", type=float, metavar="SECONDS",
                   help=f"real-time speech session length (full {full.session_s:g}, quick {quick.session_s:g})")
    g.add_argument("--silence-s", type=float, metavar="SECONDS",
                   help=f"silence and noise session length, 0 to skip (full {full.silence_s:g}, quick {quick.silence_s:g})")
    g.add_argument("--headless", action=argparse.BooleanOptionalAction, default=None,
                   help="also replay the speech session without the dashboard (full: yes, quick: no)")
    g.add_argument("--startup-runs", type=int, metavar="N",
                   help=f"warm start-up runs (full {full.startup_warm_runs}, quick {quick.startup_warm_runs})")
    g.add_argument("--startup-cold-runs", type=int, metavar="N",
                   help=f"cold start-up runs (full {full.startup_cold_runs}, quick {quick.startup_cold_runs})")
    g.add_argument("--throughput-files", type=int, metavar="N",
                   help="RAVDESS files for the throughput test, 0 = all 1440 (full 0, quick 48)")
    g.add_argument("--tutorial-default-runtime", action=argparse.BooleanOptionalAction, default=None,
                   help="also time the tutorial recipe in a fresh process with default BLAS threads and "
                        "allocator, as a tutorial script runs (default: yes)")
    return parser


def _sizes_from_args(args: argparse.Namespace) -> BenchSizes:
    base = QUICK_SIZES if getattr(args, "quick", False) else BenchSizes()
    s = BenchSizes(**vars(base))
    for opt, attr in (("n_per_bucket", "n_per_bucket"), ("repeats", "repeats"),
                      ("tutorial_fit_files", "tutorial_fit_files"), ("session_s", "session_s"),
                      ("silence_s", "silence_s"), ("headless", "headless"),
                      ("startup_runs", "startup_warm_runs"), ("startup_cold_runs", "startup_cold_runs"),
                      ("throughput_files", "throughput_files"),
                      ("tutorial_default_runtime", "tutorial_default_runtime")):
        v = getattr(args, opt, None)
        if v is not None:
            setattr(s, attr, v)
    return s


# ---------------------------------------------------------------------- small helpers
def _progress(msg: str) -> None:
    """Progress on stderr (the benchmark is a command; stdout carries the results)."""
    print(f"ser-live bench: {msg}", file=sys.stderr, flush=True)


def _stats(values: Sequence[float]) -> dict[str, float]:
    """p50/p95/max/mean and n of a sample (linear-interpolated percentiles)."""
    if len(values) == 0:
        return {"n": 0}
    a = np.asarray(values, dtype=np.float64)
    return {
        "n": int(a.size),
        "p50": round(float(np.percentile(a, 50)), 3),
        "p95": round(float(np.percentile(a, 95)), 3),
        "max": round(float(a.max()), 3),
        "mean": round(float(a.mean()), 3),
    }


def _data_root(args: argparse.Namespace) -> Path:
    if getattr(args, "data", None):
        return Path(args.data).expanduser()
    env = os.environ.get("SER_LIVE_DATA")
    return Path(env).expanduser() if env else REPO_ROOT.parent / "shared" / "data"


def _corpus_files(root: Path) -> tuple[list[Path], list[Path]]:
    """(RAVDESS speech files, EmoDB files), sorted."""
    rav = sorted((root / "ravdess").glob("Actor_*/*.flac"))
    emo = sorted((root / "emodb" / "wav").glob("*.flac"))
    return rav, emo


def _ser_live_cmd() -> list[str]:
    """The installed ``ser-live`` script beside this interpreter, else ``python -m ser_live``."""
    script = Path(sys.executable).with_name("ser-live")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ser_live"]


def _child_env(pycache: Path | None, *, numba_cache: Path | None = None) -> dict[str, str]:
    """Environment of a measured ``ser-live`` process: bytecode cached under ``pycache``
    (PYTHONPYCACHEPREFIX, written as a normal install would), an own numba cache if given."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    env.setdefault("TERM", "xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def _speech_segments(paths: Sequence[Path]) -> list[np.ndarray]:
    """Each file decoded and trimmed to its speech span, as training and live audio are cut.

    Returns
    -------
    list of np.ndarray, float32, shape (n_samples,)
    """
    from .vad import speech_span

    out = []
    for p in paths:
        y = load_audio(p)
        span = speech_span(y)
        out.append(y[span[0] : span[1]] if span else y)
    return out


# ---------------------------------------------------------------------- contention
class _SectionMonitor:
    """CPU used by the whole machine, by this benchmark and by everyone else during a section.

    ``ours`` counts this process, its reaped children (``RUSAGE_CHILDREN``) and its live
    children (joblib workers); ``others = busy - ours`` with ``busy`` from ``/proc/stat``.
    """

    def __init__(self) -> None:
        import psutil

        self._psutil = psutil
        self.wall_s = 0.0
        self.result: dict[str, float] = {}

    def _ours(self) -> tuple[float, dict[int, float]]:
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        live = {}
        for ch in self._psutil.Process().children(recursive=True):
            try:
                ct = ch.cpu_times()
                live[ch.pid] = ct.user + ct.system
            except self._psutil.Error:
                pass
        return time.process_time() + ru.ru_utime + ru.ru_stime, live

    def _busy(self) -> tuple[float, float]:
        ct = self._psutil.cpu_times()
        idle = ct.idle + getattr(ct, "iowait", 0.0)
        steal = getattr(ct, "steal", 0.0)
        total = sum(ct)
        return total - idle - steal, steal

    def __enter__(self) -> "_SectionMonitor":
        self._t0 = time.perf_counter()
        self._load0 = os.getloadavg()
        self._busy0, self._steal0 = self._busy()
        self._ours0, self._live0 = self._ours()
        return self

    def __exit__(self, *exc: object) -> None:
        wall = time.perf_counter() - self._t0
        busy1, steal1 = self._busy()
        ours1, live1 = self._ours()
        ours = ours1 - self._ours0 + sum(v - self._live0.get(pid, 0.0) for pid, v in live1.items())
        busy = busy1 - self._busy0
        self.wall_s = wall
        self.result = {
            "wall_s": round(wall, 2),
            "busy_cores": round(busy / wall, 3) if wall > 0 else 0.0,
            "ours_cores": round(ours / wall, 3) if wall > 0 else 0.0,
            "others_cores": round(max(busy - ours, 0.0) / wall, 3) if wall > 0 else 0.0,
            "steal_cores": round((steal1 - self._steal0) / wall, 3) if wall > 0 else 0.0,
            "loadavg_1min_start": round(self._load0[0], 2),
            "loadavg_1min_end": round(os.getloadavg()[0], 2),
        }


# ---------------------------------------------------------------------- machine
def machine_info() -> dict[str, Any]:
    """CPU model, cores, memory, OS, Python and library versions, BLAS threads, git commit.

    Returns
    -------
    dict
        JSON-able.
    """
    import psutil

    cpu_model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {"python": platform.python_version(), "ser_live": __version__}
    for mod in ("numpy", "scipy", "sklearn", "librosa", "numba", "skops", "soundfile", "webrtcvad", "rich"):
        try:
            m = __import__(mod)
            versions[mod] = str(getattr(m, "__version__", "?"))
        except Exception:  # noqa: BLE001 - a missing optional library is just reported
            versions[mod] = None
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [
            {k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
            for d in threadpool_info()
        ]
    except Exception:  # noqa: BLE001
        pass
    commit = None
    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
            capture_output=True, text=True, timeout=10,
        ).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        pass
    return {
        "cpu_model": cpu_model,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "versions": versions,
        "blas": blas,
        "git": commit,
        "env": {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                             "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
                if k in os.environ},
        "date": _dt.datetime.now().isoformat(timespec="seconds"),
    }


# ---------------------------------------------------------------------- 1. processing
def _make_bucket_utterances(
    segments: Sequence[np.ndarray], *, duration_s: float, n: int, start: int
) -> tuple[list[np.ndarray], int]:
    """``n`` utterances of exactly ``duration_s`` of real speech: a segment cropped, or
    consecutive segments joined, then cropped. Returns int16 utterances and the next cursor."""
    need = int(round(duration_s * SR))
    out = []
    cur = start
    for _ in range(n):
        parts, have = [], 0
        while have < need:
            seg = segments[cur % len(segments)]
            cur += 1
            parts.append(seg)
            have += len(seg)
        out.append(to_int16(np.concatenate(parts)[:need]))
    return out, cur


def _stratified_ravdess(rav: Sequence[Path], n: int, rng: np.random.Generator) -> list[Path]:
    """``n`` RAVDESS files, taking the eight emotions in turn (random files within each)."""
    by_emotion: dict[str, list[Path]] = {}
    for p in rav:
        by_emotion.setdefault(p.name.split("-")[2], []).append(p)
    pools = [list(rng.permutation(np.asarray(v, dtype=object))) for _k, v in sorted(by_emotion.items())]
    out: list[Path] = []
    while len(out) < n and any(pools):
        for pool in pools:
            if pool and len(out) < n:
                out.append(pool.pop())
    return out


def _fit_tutorial_svm(paths: Sequence[Path]) -> tuple[Any, int]:
    """The tutorial features on each file (trimmed) and an RBF SVM with probabilities
    (scaler + SVC, Platt-calibrated by cross-validation) fitted on them. Returns (estimator, n)."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from train.tutorial import tutorial_features

    X, y = [], []
    for p, seg in zip(paths, _speech_segments(paths)):
        X.append(tutorial_features(seg))
        y.append(int(p.name.split("-")[2]))
    y_arr = np.asarray(y)
    folds = int(max(2, min(3, np.bincount(y_arr)[np.unique(y_arr)].min())))
    # SVC(probability=True) is deprecated for this: Platt scaling by cross-validation
    est = make_pipeline(
        StandardScaler(),
        CalibratedClassifierCV(SVC(C=10.0, gamma="scale"), method="sigmoid", cv=folds, ensemble=False),
    )
    est.fit(np.asarray(X), y_arr)
    return est, len(X)


def bench_processing(
    model: Any, rav: Sequence[Path], emo: Sequence[Path], *, sizes: BenchSizes, seed: int = 0
) -> dict[str, Any]:
    """Processing latency per utterance by duration, ours vs the tutorial recipe + SVM.

    Parameters
    ----------
    model : EmotionModel
        Timed through ``extractor.extract`` then ``predict_features`` (= ``predict_signal``,
        what the worker thread calls) on the int16 utterance.
    rav, emo : sequence of Path
        RAVDESS and EmoDB files; utterances are drawn from both.
    sizes : BenchSizes
    seed : int

    Returns
    -------
    dict
        ``buckets``: per duration, statistics (ms) of ``ours`` (wall), ``ours_cpu`` (CPU time
        of the calling thread), ``features``, ``classify``, ``tutorial``, ``tutorial_cpu``, and
        ``ratio_p50`` / ``ratio_p95`` (tutorial / ours); plus feature counts.
    """
    from train.tutorial import TUTORIAL_N_FEATURES, tutorial_features

    rng = np.random.default_rng(seed)
    n_src = max(4, min(len(rav), len(emo), sizes.n_per_bucket * 4))
    src = list(rng.choice(np.asarray(rav, dtype=object), n_src, replace=False))
    src_e = list(rng.choice(np.asarray(emo, dtype=object), n_src, replace=False))
    _progress(f"processing: decoding and trimming {2 * n_src} RAVDESS/EmoDB files")
    seg_r, seg_e = _speech_segments(src), _speech_segments(src_e)
    segments = [s for pair in zip(seg_r, seg_e) for s in pair]  # alternate the corpora
    utts: dict[float, list[np.ndarray]] = {}
    cur = 0
    for d in DURATION_BUCKETS_S:
        utts[d], cur = _make_bucket_utterances(segments, duration_s=d, n=sizes.n_per_bucket, start=cur)

    # tutorial SVM: files of distinct emotions, fitted once (its time is not measured)
    fit_files = _stratified_ravdess(rav, max(16, sizes.tutorial_fit_files), rng)  # >= 2 per emotion
    _progress(f"processing: fitting the tutorial SVM on {len(fit_files)} RAVDESS files (librosa; numba compiles)")
    t0 = time.perf_counter()
    tut, n_fit = _fit_tutorial_svm(fit_files)
    tutorial_setup_s = time.perf_counter() - t0

    fx = model.extractor
    x0 = utts[DURATION_BUCKETS_S[0]][0]
    model.predict_features(fx.extract(x0))  # warm-up, as the Recognizer does before listening
    tut.predict_proba(tutorial_features(x0.astype(np.float32) / np.float32(32768.0))[None])

    rec: dict[float, dict[str, list[float]]] = {
        d: {k: [] for k in ("ours", "ours_cpu", "features", "classify", "tutorial", "tutorial_cpu")}
        for d in DURATION_BUCKETS_S
    }
    _progress(f"processing: timing {sizes.n_per_bucket} utterances x {len(DURATION_BUCKETS_S)} durations "
              f"x {sizes.repeats} repeats, ours and tutorial in alternating blocks")
    pc, tt = time.perf_counter, time.thread_time

    def time_ours(x: np.ndarray, r: dict[str, list[float]]) -> None:
        c0, t0 = tt(), pc()
        v = fx.extract(x)
        t1 = pc()
        model.predict_features(v)
        t2, c2 = pc(), tt()
        r["ours"].append((t2 - t0) * 1e3)
        r["ours_cpu"].append((c2 - c0) * 1e3)
        r["features"].append((t1 - t0) * 1e3)
        r["classify"].append((t2 - t1) * 1e3)

    def time_tutorial(x: np.ndarray, r: dict[str, list[float]]) -> None:
        y = x.astype(np.float32) / np.float32(32768.0)
        c0, t0 = tt(), pc()
        tut.predict_proba(tutorial_features(y)[None])
        t1, c1 = pc(), tt()
        r["tutorial"].append((t1 - t0) * 1e3)
        r["tutorial_cpu"].append((c1 - c0) * 1e3)

    # Each recipe runs its utterances of a bucket as one block (as a worker thread would run
    # alone, with its own data in cache); blocks alternate in order between repeats.
    for rep in range(sizes.repeats):
        for d in DURATION_BUCKETS_S:
            order = (time_ours, time_tutorial) if rep % 2 == 0 else (time_tutorial, time_ours)
            for fn in order:
                for x in utts[d]:
                    fn(x, rec[d])
    alone: dict[str, list[float]] = {}
    if sizes.tutorial_default_runtime:
        _progress("processing: the tutorial recipe again in a fresh process with default runtime settings")
        alone = _tutorial_in_default_process(tut, utts, repeats=sizes.repeats)
    buckets = []
    for d in DURATION_BUCKETS_S:
        r = rec[d]
        b: dict[str, Any] = {"duration_s": d, "n_utterances": len(utts[d])}
        for k, v in r.items():
            b[k + "_ms"] = _stats(v)
        b["ratio_p50"] = round(b["tutorial_ms"]["p50"] / b["ours_ms"]["p50"], 2)
        b["ratio_p95"] = round(b["tutorial_ms"]["p95"] / b["ours_ms"]["p95"], 2)
        if alone.get(str(d)):
            b["tutorial_default_runtime_ms"] = _stats(alone[str(d)])
            b["ratio_default_runtime_p50"] = round(b["tutorial_default_runtime_ms"]["p50"] / b["ours_ms"]["p50"], 2)
        buckets.append(b)
    return {
        "n_features": {"ours": int(fx.n_features), "tutorial": TUTORIAL_N_FEATURES},
        "tutorial_classifier": "StandardScaler + SVC(rbf, C=10) with sigmoid-calibrated probabilities",
        "tutorial_fit_files": n_fit,
        "tutorial_default_runtime": (
            "the tutorial recipe timed again in a fresh Python process that has not made a "
            "FeatureExtractor, i.e. with the default OpenBLAS threads and glibc allocator, as a "
            "tutorial script runs; 'ratio' uses the tutorial timed in this process (same runtime)"
        ),
        "tutorial_setup_s": round(tutorial_setup_s, 2),
        "sources": {"ravdess_files": len(src), "emodb_files": len(src_e)},
        "buckets": buckets,
    }


_TUTORIAL_ALONE_SNIPPET = r"""
import json, sys, time
import joblib, numpy as np
from train.tutorial import tutorial_features
est = joblib.load(sys.argv[1])
data = np.load(sys.argv[2])
repeats = int(sys.argv[3])
keys = sorted(data.files, key=float)
x0 = data[keys[0]][0]
est.predict_proba(tutorial_features(x0.astype(np.float32) / np.float32(32768.0))[None])
out = {k: [] for k in keys}
for _ in range(repeats):
    for k in keys:
        for x in data[k]:
            y = x.astype(np.float32) / np.float32(32768.0)
            t0 = time.perf_counter()
            est.predict_proba(tutorial_features(y)[None])
            out[k].append((time.perf_counter() - t0) * 1e3)
print(json.dumps(out))
"""


def _tutorial_in_default_process(est: Any, utts: dict[float, list[np.ndarray]], *, repeats: int) -> dict[str, list[float]]:
    """Time the tutorial recipe in a fresh interpreter with default runtime settings.

    Returns
    -------
    dict of str -> list of float
        Milliseconds per utterance, keyed by ``str(duration_s)``; empty on failure.
    """
    import joblib

    tmp = Path(tempfile.mkdtemp(prefix="ser-live-bench-tut-"))
    try:
        joblib.dump(est, tmp / "tutorial.joblib")  # made by this process, loaded by its child
        np.savez(tmp / "utts.npz", **{str(d): np.stack(v) for d, v in utts.items()})
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        out = subprocess.run(
            [sys.executable, "-c", _TUTORIAL_ALONE_SNIPPET, str(tmp / "tutorial.joblib"), str(tmp / "utts.npz"),
             str(repeats)], capture_output=True, text=True, timeout=1800, env=env,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError, subprocess.SubprocessError, OSError) as exc:
        log.error("tutorial in a fresh process failed: %s", exc)
        return {}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------- 2, 3, 6. listening
def build_session(
    paths: Sequence[Path], *, min_duration_s: float, seed: int = 0
) -> tuple[np.ndarray, int, float]:
    """A session of speech and pauses, at least ``min_duration_s`` long.

    RAVDESS utterances, each trimmed to its speech span as the live segmenter cuts it, are
    joined by pauses of 1, 1.5 and 2 s (in turn) of the recordings' own room tone (the
    first 0.2 s, before anyone speaks, of at least 32 files, looped), and the session ends
    with 1.5 s of it.

    Room tone rather than synthetic noise: between utterances, WebRTC VAD mode 2 (the
    default aggressiveness) calls white noise from about -75 dBFS upwards speech once it
    has heard speech, so utterances would run on to the maximum length instead of ending at
    the pauses (measured on this session: at -70 dBFS 22 of 32 utterances found, 10 cut at
    the maximum length; mode 3 finds all 32).

    Returns
    -------
    (np.ndarray int16 shape (n,), int, float)
        The samples, the number of utterances in them and the room tone's level (dBFS).
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    gaps_s = (1.0, 1.5, 2.0)
    speech: list[np.ndarray] = []
    tones: list[np.ndarray] = []
    total, k = 0, 0
    while total + sum(gaps_s[: k % 3]) * SR < min_duration_s * SR or k < 2:
        y = load_audio(paths[order[k % len(order)]])
        from .vad import speech_span

        span = speech_span(y)
        speech.append(y[span[0] : span[1]] if span else y)
        tones.append(y[: int(0.2 * SR)])
        total += len(speech[-1]) + int(gaps_s[k % 3] * SR)
        k += 1
    for i in range(k, min(32, len(order))):  # the room tone of 32 recordings, whatever the length
        tones.append(load_audio(paths[order[i]])[: int(0.2 * SR)])
    tone = np.concatenate(tones)
    level_dbfs = float(10 * np.log10(np.mean(tone.astype(np.float64) ** 2) + 1e-20))
    parts: list[np.ndarray] = []
    for i, seg in enumerate(speech):
        parts += [to_int16(np.resize(tone, int(gaps_s[i % 3] * SR))), to_int16(seg)]
    parts.append(to_int16(np.resize(tone, int(1.5 * SR))))
    return np.concatenate(parts), len(speech), level_dbfs


@dataclass
class ListenRun:
    """What one ``ser-live`` listening process did (see :func:`run_listening`)."""

    name: str
    audio_s: float
    exit_code: int
    startup_s: float | None
    cpu_s: float
    window_s: float
    cpu_pct_core: float | None
    peak_rss_mb: float | None
    rss_listening_max_mb: float | None
    total_cpu_s: float
    dropped_samples: int | None
    results: list[dict] = field(default_factory=list)
    expected_utterances: int | None = None
    vad_hold_ms: float = 360.0

    def to_json(self) -> dict[str, Any]:
        # end-of-speech latency is defined for utterances that ended at a pause: those cut at
        # the maximum length (or at the end of the stream) close right after a voiced frame
        paused = [r for r in self.results if r["end_of_speech_ms"] - r["processing_ms"] >= 0.5 * self.vad_hold_ms]
        proc = [r["processing_ms"] for r in self.results]
        eos = [r["end_of_speech_ms"] for r in paused]
        return {
            "name": self.name,
            "audio_s": round(self.audio_s, 2),
            "exit_code": self.exit_code,
            "startup_s": None if self.startup_s is None else round(self.startup_s, 3),
            "cpu_window_s": round(self.window_s, 2),
            "cpu_s_in_window": round(self.cpu_s, 3),
            "cpu_s_per_audio_s": None if self.cpu_pct_core is None else round(self.cpu_pct_core / 100, 5),
            "cpu_pct_core": None if self.cpu_pct_core is None else round(self.cpu_pct_core, 2),
            "total_cpu_s": round(self.total_cpu_s, 2),
            "peak_rss_mb": None if self.peak_rss_mb is None else round(self.peak_rss_mb, 1),
            "rss_listening_max_mb": None if self.rss_listening_max_mb is None else round(self.rss_listening_max_mb, 1),
            "dropped_samples": self.dropped_samples,
            "utterances": len(self.results),
            "expected_utterances": self.expected_utterances,
            "utterances_ended_by_pause": len(paused),
            "processing_ms": _stats(proc),
            "end_of_speech_ms": _stats(eos),
            "vad_wait_ms": _stats([r["end_of_speech_ms"] - r["processing_ms"] for r in paused]),
        }


def _vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size (kB) of a process since its ``exec`` (Linux ``VmHWM``)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def _drain_fd(fd: int) -> None:
    """Read a pseudo-terminal's master side until the child closes it (dashboard output)."""
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    finally:
        os.close(fd)


def run_listening(
    wav: Path,
    *,
    name: str,
    audio_s: float,
    tty: bool,
    extra_args: Sequence[str] = (),
    env: dict[str, str] | None = None,
    expected_utterances: int | None = None,
    timeout_s: float | None = None,
) -> ListenRun:
    """Replay ``wav`` in real time through the real ``ser-live`` program and measure it.

    ``ser-live --input WAV --jsonl FILE`` runs with its dashboard on a pseudo-terminal
    (``tty=True``, 120x40, as a user sees it) or with ``--plain`` lines to /dev/null. Its CPU
    time (user + system, psutil) is read when it prints that it is replaying, and then every
    0.25 s; the CPU rate is taken between that line and the last reading at least 0.5 s
    before the end of the audio, so start-up and shutdown are excluded. Peak RSS is the
    process's ``VmHWM`` (high-water mark since ``exec``) at the last reading before it exits.

    Parameters
    ----------
    wav : Path
        16 kHz WAV to replay.
    name : str
        Label of the run in the results.
    audio_s : float
        Duration of ``wav`` (s).
    tty : bool
        Dashboard on a pseudo-terminal (True) or ``--plain`` to /dev/null (False).
    extra_args : sequence of str
        More ``ser-live`` options (e.g. ``--model PATH``).
    env : dict, optional
        Environment of the process.
    expected_utterances : int, optional
        Utterances in the session, reported beside those found.
    timeout_s : float, optional
        Kill the process after this long (default: audio + 60 s).

    Returns
    -------
    ListenRun
    """
    import psutil

    tmp = Path(tempfile.mkdtemp(prefix="ser-live-bench-"))
    jsonl = tmp / f"{name}.jsonl"
    cmd = [*_ser_live_cmd(), "--input", str(wav), "--jsonl", str(jsonl), *extra_args]
    master = None
    if tty:
        import fcntl
        import pty
        import struct
        import termios

        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        stdout: Any = slave
    else:
        cmd.append("--plain")
        stdout = subprocess.DEVNULL
    timeout_s = timeout_s if timeout_s is not None else audio_s + 60.0
    t_spawn = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.PIPE, env=env)
    drain = None
    if master is not None:
        os.close(slave)
        drain = threading.Thread(target=_drain_fd, args=(master,), daemon=True)
        drain.start()
    lines: list[tuple[float, str]] = []
    listening = threading.Event()
    t_listen: list[float] = []

    def read_stderr() -> None:
        for raw in proc.stderr:  # type: ignore[union-attr]
            line = raw.decode("utf-8", "replace").rstrip("\n")
            now = time.perf_counter()
            lines.append((now, line))
            if not listening.is_set() and _LISTENING_RE.match(line):
                t_listen.append(now)
                listening.set()

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    ps = psutil.Process(proc.pid)

    def cpu_now() -> float | None:
        try:
            ct = ps.cpu_times()
            return ct.user + ct.system
        except psutil.Error:
            return None

    samples: list[tuple[float, float, float]] = []  # (t, cpu_s, rss_bytes)
    hwm_kb: list[int] = []
    cpu0 = None
    status = None
    rusage = None
    deadline = t_spawn + timeout_s
    while True:
        pid, st, ru = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            break
        now = time.perf_counter()
        hwm = _vm_hwm_kb(proc.pid)
        if hwm is not None:
            hwm_kb.append(hwm)
        if now > deadline:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            log.error("%s: ser-live killed after %.0f s", name, timeout_s)
            break
        if listening.is_set():
            c = cpu_now()
            if c is not None:
                if cpu0 is None:
                    cpu0 = (t_listen[0], c)
                try:
                    rss = ps.memory_info().rss
                except psutil.Error:
                    rss = 0
                samples.append((now, c, rss))
        if listening.is_set():
            time.sleep(0.25)
        else:
            listening.wait(0.25)
    proc.returncode = os.waitstatus_to_exitcode(status)
    reader.join(5.0)
    if drain is not None:
        drain.join(5.0)
    startup_s = (t_listen[0] - t_spawn) if t_listen else None
    cpu_s = window = 0.0
    pct = None
    rss_max = None
    if cpu0 is not None and samples:
        end_by = cpu0[0] + audio_s - 0.5
        inside = [s for s in samples if s[0] <= end_by] or samples[:1]
        last = inside[-1]
        window = last[0] - cpu0[0]
        cpu_s = last[1] - cpu0[1]
        pct = 100.0 * cpu_s / window if window > 0.5 else None
        rss_max = max(s[2] for s in inside) / 2**20
    results = []
    if jsonl.exists():
        results = [json.loads(x) for x in jsonl.read_text().splitlines() if x.strip()]
    dropped = None
    for _t, line in lines:
        m = _DROPPED_RE.search(line)
        if m:
            dropped = int(m.group(1))
    if proc.returncode not in (0, 4):
        tail = "\n".join(line for _t, line in lines[-15:])
        log.error("%s: ser-live exited with %s:\n%s", name, proc.returncode, tail)
    shutil.rmtree(tmp, ignore_errors=True)
    return ListenRun(
        name=name, audio_s=audio_s, exit_code=proc.returncode, startup_s=startup_s,
        cpu_s=cpu_s, window_s=window, cpu_pct_core=pct,
        peak_rss_mb=max(hwm_kb) / 1024.0 if hwm_kb else None,
        rss_listening_max_mb=rss_max,
        total_cpu_s=(rusage.ru_utime + rusage.ru_stime) if rusage is not None else float("nan"),
        dropped_samples=dropped, results=results, expected_utterances=expected_utterances,
    )


def _effective_hold_ms(vad: Any) -> float:
    """Silence after the last voiced frame that closes an utterance (ms): the segmenter
    needs ``ceil(end_ratio * H)`` unvoiced frames among the last ``H = hangover / frame``."""
    import math

    hang = max(1, round(vad.hangover_ms / vad.frame_ms))
    need = max(1, math.ceil(vad.end_ratio * hang - 1e-9))
    return float(need * vad.frame_ms)


def bench_listening(
    rav: Sequence[Path], *, sizes: BenchSizes, workdir: Path, model_args: Sequence[str], env: dict[str, str]
) -> dict[str, Any]:
    """End-of-speech latency, CPU while listening and peak RSS of real-time replays.

    Returns
    -------
    dict
        ``runs`` (one :meth:`ListenRun.to_json` per replay: speech with the dashboard,
        speech headless, digital silence, -60 dBFS noise) and ``end_of_speech`` (the
        speech run's latencies against the VAD hangover).
    """
    from .vad import VadConfig

    vad = VadConfig()
    hold = _effective_hold_ms(vad)
    x, n_utt, tone_dbfs = build_session(rav, min_duration_s=sizes.session_s, seed=1)
    speech_wav = write_wav(workdir / "session.wav", x)
    speech_s = len(x) / SR
    runs = []
    _progress(f"listen: replaying a {speech_s:.0f} s session of {n_utt} RAVDESS utterances and pauses "
              "in real time (ser-live with its dashboard on a pseudo-terminal)")
    speech = run_listening(speech_wav, name="speech+dashboard", audio_s=speech_s, tty=True,
                           extra_args=model_args, env=env, expected_utterances=n_utt)
    runs.append(speech)
    if sizes.headless:
        _progress(f"listen: the same session with --plain (no dashboard), {speech_s:.0f} s")
        runs.append(run_listening(speech_wav, name="speech+plain", audio_s=speech_s, tty=False,
                                  extra_args=model_args, env=env, expected_utterances=n_utt))
    if sizes.silence_s > 0:
        n = int(sizes.silence_s * SR)
        zero_wav = write_wav(workdir / "silence.wav", np.zeros(n, np.int16))
        rng = np.random.default_rng(2)
        noise_wav = write_wav(workdir / "noise.wav", to_int16((10 ** (-60 / 20) * rng.standard_normal(n)).astype(np.float32)))
        for nm, wav in (("silence+dashboard", zero_wav), ("noise-60dBFS+dashboard", noise_wav)):
            _progress(f"listen: {nm}, {sizes.silence_s:.0f} s")
            runs.append(run_listening(wav, name=nm, audio_s=n / SR, tty=True, extra_args=model_args, env=env,
                                      expected_utterances=0))
    for r in runs:
        r.vad_hold_ms = hold
    sj = speech.to_json()
    eos = sj["end_of_speech_ms"]
    return {
        "session": {"audio_s": round(speech_s, 1), "utterances": n_utt, "gaps_s": [1.0, 1.5, 2.0],
                    "gap_fill": f"the recordings' room tone ({tone_dbfs:.0f} dBFS)", "source": "RAVDESS, trimmed to the VAD speech span"},
        "runs": [r.to_json() for r in runs],
        "end_of_speech": {
            "hangover_ms": vad.hangover_ms,
            "end_ratio": vad.end_ratio,
            "frame_ms": vad.frame_ms,
            "vad_hold_ms": hold,
            "target_ms": vad.hangover_ms + 20,
            "utterances": sj["utterances"],
            "utterances_ended_by_pause": sj["utterances_ended_by_pause"],
            "end_of_speech_ms": eos,
            "vad_wait_ms": sj["vad_wait_ms"],
            "processing_ms": sj["processing_ms"],
            "beyond_vad_hold_p95_ms": None if not eos.get("n") else round(eos["p95"] - hold, 1),
        },
    }


# ---------------------------------------------------------------------- 4. start-up
def _time_to_listening(cmd: Sequence[str], *, env: dict[str, str], timeout_s: float = 120.0) -> dict[str, Any]:
    """Spawn ``cmd`` and time the "replaying ..." line on its stderr; wait for its exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    t_listen = None
    warm_ms = None
    lines = []
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(line)
        m = _WARMUP_RE.search(line)
        if m:
            warm_ms = float(m.group(1))
        if t_listen is None and _LISTENING_RE.match(line):
            t_listen = time.perf_counter() - t0
    rc = proc.wait(timeout_s)
    if t_listen is None:
        log.error("start-up run printed no 'replaying' line (exit %s): %s", rc, " | ".join(lines[-5:]))
    return {"to_listening_s": t_listen, "warmup_ms": warm_ms, "exit_code": rc}


_BREAKDOWN_SNIPPET = r"""
import json, sys, time
t = [("interpreter", time.time())]
import numpy, scipy.fft
t.append(("numpy+scipy.fft", time.time()))
import sklearn
t.append(("sklearn", time.time()))
import skops.io
t.append(("skops.io", time.time()))
import ser_live.cli, ser_live.pipeline, ser_live.audio, ser_live.model
t.append(("ser_live modules", time.time()))
from ser_live.model import EmotionModel
m = EmotionModel.load(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None)
t.append(("model load", time.time()))
m.extractor.warmup(); m.predict_signal(numpy.zeros(16000, numpy.float32))
t.append(("warm-up", time.time()))
heavy = sorted(k for k in ("librosa", "numba", "pandas", "matplotlib", "torch") if k in sys.modules)
print(json.dumps({"t": t, "heavy_modules": heavy}))
"""


def bench_startup(
    short_wav: Path, *, sizes: BenchSizes, workdir: Path, model_args: Sequence[str], model_path: str | None
) -> dict[str, Any]:
    """Process start -> "replaying" line of ``ser-live --input SHORT --speed 0 --jsonl -``.

    *warm*: bytecode cached in a PYTHONPYCACHEPREFIX folder filled by a priming run (a
    second run after install); *after install*: the bytecode the installers wrote (pip
    byte-compiles site-packages, Python ships its standard library compiled) and ser-live's
    own modules compiled in memory, with an empty numba cache: the first run after
    ``pip install``; *cold*: a fresh, empty bytecode folder and numba cache for each run,
    i.e. every module of Python, numpy, scipy, scikit-learn and ser-live compiled from
    source (an upper bound). The operating system's file cache is not dropped (that needs
    root and disturbs the other users of the machine), so files are read from memory in
    every case.

    Returns
    -------
    dict
        ``warm_s`` and ``cold_s`` statistics, each run, and a ``breakdown_ms`` of a warm
        start (imports, model load, warm-up) measured by a small script in a fresh process.
    """
    cmd = [*_ser_live_cmd(), "--input", str(short_wav), "--speed", "0", "--jsonl", "-", "-v", *model_args]
    cold = []
    for i in range(sizes.startup_cold_runs):
        d = Path(tempfile.mkdtemp(prefix="ser-live-cold-", dir=workdir))
        _progress(f"startup: cold run {i + 1}/{sizes.startup_cold_runs} (empty bytecode and numba caches)")
        cold.append(_time_to_listening(cmd, env=_child_env(d / "pycache", numba_cache=d / "numba")))
        shutil.rmtree(d, ignore_errors=True)
    installed = []
    for i in range(sizes.startup_cold_runs):
        d = Path(tempfile.mkdtemp(prefix="ser-live-inst-", dir=workdir))
        _progress(f"startup: as first run after install {i + 1}/{sizes.startup_cold_runs} "
                  "(installed bytecode only, none written; empty numba cache)")
        env_i = _child_env(None, numba_cache=d / "numba")
        env_i.pop("PYTHONPYCACHEPREFIX", None)
        env_i["PYTHONDONTWRITEBYTECODE"] = "1"
        installed.append(_time_to_listening(cmd, env=env_i))
        shutil.rmtree(d, ignore_errors=True)
    warm_cache = workdir / "warm-pycache"
    env = _child_env(warm_cache)
    _progress("startup: priming run, then warm runs")
    _time_to_listening(cmd, env=env)
    warm = []
    for _ in range(sizes.startup_warm_runs):
        warm.append(_time_to_listening(cmd, env=env))
    # breakdown by import (a fresh warm process)
    t_spawn = time.time()
    out = subprocess.run([sys.executable, "-c", _BREAKDOWN_SNIPPET, model_path or ""], env=env,
                         capture_output=True, text=True, timeout=120)
    breakdown: dict[str, float] = {}
    heavy: list[str] = []
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1])
        prev = t_spawn
        for name, t in info["t"]:
            breakdown[name] = round((t - prev) * 1e3, 1)
            prev = t
        heavy = info["heavy_modules"]
    except (ValueError, IndexError, KeyError):
        log.error("start-up breakdown failed: %s", out.stderr[-2000:])

    def col(runs: list[dict], key: str) -> list[float]:
        return [r[key] for r in runs if r[key] is not None]

    return {
        "command": " ".join(cmd[len(_ser_live_cmd()):]),
        "marker": "stderr line 'ser-live: replaying ...', printed right after Recognizer.start() started the source",
        "warm_s": _stats(col(warm, "to_listening_s")),
        "cold_s": _stats(col(cold, "to_listening_s")),
        "after_install_s": _stats(col(installed, "to_listening_s")),
        "warm_warmup_ms": _stats(col(warm, "warmup_ms")),
        "warm_runs": warm,
        "cold_runs": cold,
        "after_install_runs": installed,
        "breakdown_ms": breakdown,
        "heavy_modules_imported": heavy,
        "cold_means": (
            "cold: fresh PYTHONPYCACHEPREFIX and NUMBA_CACHE_DIR, so every module (stdlib included) is "
            "compiled from source, an upper bound; after install: the bytecode pip and Python "
            "installed is used, ser-live's own modules are compiled (none written), empty numba "
            "cache. The OS file cache is warm in every case (dropping it needs root and would "
            "disturb the machine's other users)"
        ),
    }


# ---------------------------------------------------------------------- 5. throughput
_WORKER_MODEL: dict[str, Any] = {}


def _predict_chunk(paths: Sequence[str], model_path: str | None) -> tuple[int, int]:
    """Classify files with :meth:`Predictor.process_file` (worker side); the model is loaded once per
    process. Returns (classified, failed)."""
    from .errors import SerLiveError
    from .model import EmotionModel
    from .offline import Predictor

    key = model_path or ""
    if key not in _WORKER_MODEL:
        _WORKER_MODEL[key] = EmotionModel.load(model_path)
    predictor = Predictor(_WORKER_MODEL[key])
    ok = bad = 0
    for p in paths:
        try:
            predictor.process_file(p)
            ok += 1
        except (SerLiveError, ValueError):
            bad += 1
    return ok, bad


def _warm_worker(model_path: str | None) -> int:
    _predict_chunk([], model_path)
    return os.getpid()


def bench_throughput(
    rav: Sequence[Path], *, sizes: BenchSizes, model_path: str | None, model_args: Sequence[str], env: dict[str, str]
) -> dict[str, Any]:
    """Offline throughput over RAVDESS files.

    * ``cli``: ``ser-live predict FILES... > /dev/null`` (one process; its start-up included).
    * ``api_1_worker`` / ``api_2_workers``: :meth:`~ser_live.offline.Predictor.process_file` over the
      same files in this process, and split over 2 joblib (loky) worker processes, started
      and given the model before the clock starts.

    Returns
    -------
    dict
        Per configuration: wall seconds, files/s, times real time (audio seconds / wall
        seconds), files that failed.
    """
    from joblib import Parallel, delayed

    files = list(rav)
    if sizes.throughput_files and sizes.throughput_files < len(files):
        idx = np.linspace(0, len(files) - 1, sizes.throughput_files).round().astype(int)
        files = [files[i] for i in idx]
    audio_s = float(sum(audio_info(p).duration_s for p in files))
    paths = [str(p) for p in files]
    out: dict[str, Any] = {"files": len(files), "audio_s": round(audio_s, 1),
                           "note": "ser-live predict has no --jobs option; 1 vs 2 workers measured through the Python API (joblib loky)"}

    def rate(wall: float, ok: int, bad: int) -> dict[str, Any]:
        return {"wall_s": round(wall, 2), "files_per_s": round(len(paths) / wall, 2),
                "x_real_time": round(audio_s / wall, 1), "classified": ok, "failed": bad}

    _progress(f"throughput: ser-live predict on {len(paths)} RAVDESS files ({audio_s:.0f} s of audio)")
    use_dir = len(files) == len(rav)
    targets = [str(Path(paths[0]).parents[1])] if use_dir else paths
    t0 = time.perf_counter()
    r = subprocess.run([*_ser_live_cmd(), "predict", *targets, *model_args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    n_err = r.stderr.decode("utf-8", "replace").count("error:")
    out["cli_1_process"] = {**rate(wall, len(paths) - n_err, n_err), "exit_code": r.returncode,
                            "includes": "process start-up and model load"}

    _progress("throughput: Python API, 1 worker (this process)")
    _predict_chunk([], model_path)
    t0 = time.perf_counter()
    ok, bad = _predict_chunk(paths, model_path)
    out["api_1_worker"] = rate(time.perf_counter() - t0, ok, bad)

    _progress("throughput: Python API, 2 worker processes (joblib loky)")
    with Parallel(n_jobs=2, backend="loky") as par:
        pids = par(delayed(_warm_worker)(model_path) for _ in range(4))
        chunks = [paths[i::16] for i in range(16)]
        t0 = time.perf_counter()
        res = par(delayed(_predict_chunk)(c, model_path) for c in chunks)
        wall = time.perf_counter() - t0
    out["api_2_workers"] = {**rate(wall, sum(a for a, _ in res), sum(b for _, b in res)),
                            "worker_processes": len(set(pids))}
    out["speedup_2_vs_1"] = round(out["api_2_workers"]["files_per_s"] / out["api_1_worker"]["files_per_s"], 2)
    return out


# ---------------------------------------------------------------------- report
def _fmt(v: Any, unit: str = "", nd: int = 1) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:.{nd}f}{unit}"
    return str(v)


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def summarize(results: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline figures against the targets of issue 4.

    Returns
    -------
    list of dict
        ``metric``, ``value`` (number or None), ``unit``, ``target``, ``met`` (bool or None).
    """
    rows: list[dict[str, Any]] = []
    proc = results.get("processing")
    if proc:
        b4 = next((b for b in proc["buckets"] if b["duration_s"] == 4.0), None)
        if b4:
            rows.append({"metric": "processing p95, 4 s utterance (features + SVM, wall)", "value": b4["ours_ms"]["p95"],
                         "unit": "ms", "target": "<= 5 ms", "met": b4["ours_ms"]["p95"] <= 5.0})
            rows.append({"metric": "processing p95, 4 s utterance (CPU time of the thread)", "value": b4["ours_cpu_ms"]["p95"],
                         "unit": "ms", "target": "(contention-free view)", "met": None})
            rows.append({"metric": "speed-up vs tutorial recipe + SVM, 4 s (p50 ratio, same process)", "value": b4["ratio_p50"],
                         "unit": "x", "target": ">= 4x", "met": b4["ratio_p50"] >= 4.0})
            if b4.get("ratio_default_runtime_p50") is not None:
                rows.append({"metric": "speed-up vs tutorial as a tutorial script runs it (default runtime), 4 s p50",
                             "value": b4["ratio_default_runtime_p50"], "unit": "x", "target": "(context)", "met": None})
        nf = proc["n_features"]
        rows.append({"metric": "features computed (ours / tutorial)", "value": f"{nf['ours']} / {nf['tutorial']}",
                     "unit": "", "target": "more than the tutorial", "met": nf["ours"] > nf["tutorial"]})
    lis = results.get("listen")
    if lis:
        e = lis["end_of_speech"]
        p95 = e["end_of_speech_ms"].get("p95")
        rows.append({"metric": f"end-of-speech p95 (hangover {e['hangover_ms']} ms)", "value": p95, "unit": "ms",
                     "target": f"<= {e['target_ms']} ms", "met": None if p95 is None else p95 <= e["target_ms"]})
        for r in lis["runs"]:
            rows.append({"metric": f"CPU while listening: {r['name']}", "value": r["cpu_pct_core"], "unit": "% of a core",
                         "target": "<= 5 %", "met": None if r["cpu_pct_core"] is None else r["cpu_pct_core"] <= 5.0})
        peak = max((r["peak_rss_mb"] for r in lis["runs"]), default=None)
        rows.append({"metric": "peak RSS while listening (max over runs)", "value": peak, "unit": "MB",
                     "target": "<= 200 MB", "met": None if peak is None else peak <= 200.0})
    st = results.get("startup")
    if st:
        w = st["warm_s"].get("p50")
        rows.append({"metric": "start-up to listening, warm (median)", "value": w, "unit": "s",
                     "target": "<= 1.5 s", "met": None if w is None else w <= 1.5})
        rows.append({"metric": "start-up to listening, first run after install (median)",
                     "value": st.get("after_install_s", {}).get("p50"), "unit": "s", "target": "(reported)", "met": None})
        rows.append({"metric": "start-up to listening, cold: no bytecode at all (median)", "value": st["cold_s"].get("p50"),
                     "unit": "s", "target": "(reported)", "met": None})
    tp = results.get("throughput")
    if tp:
        for k, lab in (("cli_1_process", "`ser-live predict`, 1 process"), ("api_1_worker", "predict_file, 1 worker"),
                       ("api_2_workers", "predict_file, 2 workers")):
            if k in tp:
                rows.append({"metric": f"throughput {lab}", "value": tp[k]["files_per_s"], "unit": "files/s",
                             "target": f"x{tp[k]['x_real_time']:g} real time", "met": None})
    return rows


def render_markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: headline table, processing by duration, listening runs,
    start-up breakdown, contention and machine."""
    m = results["machine"]
    v = m["versions"]
    lines = [f"# ser-live bench ({'quick' if results['settings']['quick'] else 'full'}) - {m['date']}", ""]
    lines.append(
        f"Machine: {m['cpu_model']}, {m['logical_cores']} logical cores, {m['memory_gb']} GB; "
        f"Python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, scikit-learn {v['sklearn']}, "
        f"librosa {v['librosa']}, numba {v['numba']}, skops {v['skops']}; ser-live {v['ser_live']} ({m['git']})."
    )
    blas = ", ".join(f"{b['internal_api']} {b['num_threads']} threads" for b in m["blas"]) or "unknown"
    lines += [f"BLAS: {blas}.", ""]
    lines += ["| metric | value | target | |", "|---|---|---|---|"]
    for r in results["summary"]:
        val = r["value"]
        val_s = val if isinstance(val, str) else _fmt(val, "", 2 if r["unit"] in ("s", "x") else 1)
        lines.append(f"| {r['metric']} | {val_s} {r['unit']} | {r['target']} | {_verdict(r['met'])} |")
    proc = results.get("processing")
    if proc:
        lines += ["", "## Processing latency per utterance (ms; features + classification)", "",
                  f"Ours: {proc['n_features']['ours']} features + the model's classifier. Tutorial: "
                  f"{proc['n_features']['tutorial']} features (40 MFCC, chroma_stft, 128 mel, three STFTs) + "
                  f"{proc['tutorial_classifier']} fitted on {proc['tutorial_fit_files']} files. "
                  "Wall-clock unless marked CPU (CPU time of the calling thread).", "",
                  "| duration | n | ours p50 | ours p95 | ours max | ours CPU p50 | features p50 | classify p50 "
                  "| tutorial p50 | tutorial p95 | tutorial max | ratio p50 | ratio p95 | tutorial, default runtime p50 | ratio |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for b in proc["buckets"]:
            o, t = b["ours_ms"], b["tutorial_ms"]
            lines.append(
                f"| {b['duration_s']:g} s | {o['n']} | {o['p50']:.2f} | {o['p95']:.2f} | {o['max']:.2f} | "
                f"{b['ours_cpu_ms']['p50']:.2f} | {b['features_ms']['p50']:.2f} | {b['classify_ms']['p50']:.2f} | "
                f"{t['p50']:.1f} | {t['p95']:.1f} | {t['max']:.1f} | {b['ratio_p50']:.1f}x | {b['ratio_p95']:.1f}x | "
                f"{_fmt(b.get('tutorial_default_runtime_ms', {}).get('p50'))} | {_fmt(b.get('ratio_default_runtime_p50'), 'x')} |"
            )
        lines += ["", f"'tutorial, default runtime': {proc['tutorial_default_runtime']}."]
    lis = results.get("listen")
    if lis:
        e = lis["end_of_speech"]
        s = lis["session"]
        lines += ["", "## Listening (real-time replay through `ser-live`)", "",
                  f"Session: {s['audio_s']} s, {s['utterances']} utterances ({s['source']}), gaps "
                  f"{'/'.join(str(g) for g in s['gaps_s'])} s of {s['gap_fill']}.", "",
                  "| run | audio s | utterances (expected) | CPU % of a core | CPU s / audio s | peak RSS MB "
                  "| processing p50/p95 ms | end-of-speech p50/p95 ms | dropped samples |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in lis["runs"]:
            pr, eo = r["processing_ms"], r["end_of_speech_ms"]
            lines.append(
                f"| {r['name']} | {r['audio_s']:.0f} | {r['utterances']} ({r['expected_utterances']}) | "
                f"{_fmt(r['cpu_pct_core'], '', 2)} | {_fmt(r['cpu_s_per_audio_s'], '', 4)} | {r['peak_rss_mb']:.0f} | "
                f"{_fmt(pr.get('p50'))} / {_fmt(pr.get('p95'))} | {_fmt(eo.get('p50'))} / {_fmt(eo.get('p95'))} | "
                f"{_fmt(r['dropped_samples'], '', 0)} |"
            )
        lines += ["", f"End of speech: hangover {e['hangover_ms']} ms with end_ratio {e['end_ratio']} on "
                  f"{e['frame_ms']} ms frames, so an utterance closes {e['vad_hold_ms']:.0f} ms of silence after its "
                  f"last voiced frame (VAD hold). Measured: last voiced frame in the ring -> utterance closed "
                  f"p50/p95 {_fmt(e['vad_wait_ms'].get('p50'))} / {_fmt(e['vad_wait_ms'].get('p95'))} ms; closed -> result "
                  f"p50/p95 {_fmt(e['processing_ms'].get('p50'))} / {_fmt(e['processing_ms'].get('p95'))} ms; end-of-speech "
                  f"p95 exceeds the VAD hold by {_fmt(e['beyond_vad_hold_p95_ms'])} ms."]
    st = results.get("startup")
    if st:
        bd = ", ".join(f"{k} {v:.0f}" for k, v in st["breakdown_ms"].items())
        lines += ["", "## Start-up", "",
                  f"`ser-live {st['command']}`: process start to the '{_LISTENING_RE.pattern[1:-1]}' line. "
                  f"Warm p50 {_fmt(st['warm_s'].get('p50'), ' s', 2)} (max {_fmt(st['warm_s'].get('max'), ' s', 2)}, "
                  f"n={st['warm_s'].get('n')}), first run after install p50 "
                  f"{_fmt(st.get('after_install_s', {}).get('p50'), ' s', 2)} (n={st.get('after_install_s', {}).get('n')}), "
                  f"cold p50 {_fmt(st['cold_s'].get('p50'), ' s', 2)} (n={st['cold_s'].get('n')}). {st['cold_means']}.",
                  f"Warm breakdown (ms): {bd}. Heavy modules imported by the listening path: "
                  f"{', '.join(st['heavy_modules_imported']) or 'none'}."]
    tp = results.get("throughput")
    if tp:
        lines += ["", "## Offline throughput", "",
                  f"{tp['files']} RAVDESS files, {tp['audio_s']} s of audio. {tp['note']}.", "",
                  "| configuration | wall s | files/s | x real time | failed |", "|---|---|---|---|---|"]
        for k in ("cli_1_process", "api_1_worker", "api_2_workers"):
            if k in tp:
                r = tp[k]
                lines.append(f"| {k} | {r['wall_s']} | {r['files_per_s']} | {r['x_real_time']} | {r['failed']} |")
        lines.append(f"\n2 workers vs 1: x{tp['speedup_2_vs_1']}.")
    cont = results.get("contention", {})
    if cont:
        lines += ["", "## Contention (other processes on this machine during each section)", "",
                  "| section | wall s | machine busy (cores) | this benchmark (cores) | others (cores) | load avg start/end |",
                  "|---|---|---|---|---|---|"]
        for k, c in cont.items():
            lines.append(f"| {k} | {c['wall_s']} | {c['busy_cores']} | {c['ours_cores']} | {c['others_cores']} | "
                         f"{c['loadavg_1min_start']} / {c['loadavg_1min_end']} |")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------- entry point
def run_bench(args: argparse.Namespace) -> int:
    """Run the benchmark sections chosen in ``args`` and report.

    Parameters
    ----------
    args : argparse.Namespace
        Options of :func:`add_bench_arguments` (``model`` and ``verbose`` may come from the
        main ``ser-live`` parser).

    Returns
    -------
    int
        0 when every section ran, 1 when one failed (its error is reported), 2 for bad
        options, 3 when the corpora folder is missing.
    """
    sizes = _sizes_from_args(args)
    sections = [s.strip() for s in str(getattr(args, "sections", ",".join(SECTIONS))).split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        _progress(f"error: unknown section(s) {sorted(unknown)}; choose from {', '.join(SECTIONS)}")
        return 2
    root = _data_root(args)
    rav, emo = _corpus_files(root)
    if not rav or not emo:
        _progress(f"error: RAVDESS and EmoDB are needed under {root} (set --data or SER_LIVE_DATA)")
        return 3
    model_path = getattr(args, "model", None)
    model_args = ["--model", str(model_path)] if model_path else []
    from .model import EmotionModel

    model = EmotionModel.load(model_path)
    out_dir = Path(getattr(args, "output_dir", "bench-results"))
    save = not getattr(args, "no_save", False)
    workdir = Path(tempfile.mkdtemp(prefix="ser-live-bench-"))
    env = _child_env(workdir / "warm-pycache")
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {"quick": bool(getattr(args, "quick", False)), "sections": sections,
                     "sizes": vars(sizes), "data": str(root), "model": str(getattr(model, "path", model_path)),
                     "model_name": model.name},
        "targets": TARGETS,
        "contention": {},
        "errors": {},
    }
    t_all = time.perf_counter()
    jobs: list[tuple[str, Callable[[], dict[str, Any]]]] = []
    if "processing" in sections:
        jobs.append(("processing", lambda: bench_processing(model, rav, emo, sizes=sizes)))
    if "listen" in sections:
        jobs.append(("listen", lambda: bench_listening(rav, sizes=sizes, workdir=workdir,
                                                        model_args=model_args, env=env)))
    if "startup" in sections:
        jobs.append(("startup", lambda: bench_startup(Path(rav[0]), sizes=sizes, workdir=workdir,
                                                       model_args=model_args, model_path=model_path)))
    if "throughput" in sections:
        jobs.append(("throughput", lambda: bench_throughput(rav, sizes=sizes, model_path=model_path,
                                                             model_args=model_args, env=env)))
    try:
        for name, job in jobs:
            mon = _SectionMonitor()
            try:
                with mon:
                    results[name] = job()
            except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others
                log.exception("section %s failed", name)
                results["errors"][name] = f"{type(exc).__name__}: {exc}"
            results["contention"][name] = mon.result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    results["summary"] = summarize(results)
    md = render_markdown(results)
    if results["errors"]:
        md += "\n## Errors\n\n" + "\n".join(f"- {k}: {v}" for k, v in results["errors"].items()) + "\n"
    if save:
        out_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        kind = "quick" if results["settings"]["quick"] else "full"
        jpath = out_dir / f"bench-{kind}-{stamp}.json"
        jpath.write_text(json.dumps(results, indent=2, default=str) + "\n")
        (out_dir / f"bench-{kind}-{stamp}.md").write_text(md)
        shutil.copyfile(jpath, out_dir / "latest.json")
        (out_dir / "latest.md").write_text(md)
        _progress(f"wrote {jpath} and {jpath.with_suffix('.md')} (also latest.json / latest.md)")
    print(md, flush=True)
    return 1 if results["errors"] else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m ser_live.bench [options]`` (the same as ``ser-live bench``)."""
    parser = argparse.ArgumentParser(prog="ser-live bench", formatter_class=argparse.RawDescriptionHelpFormatter)
    add_bench_arguments(parser)
    args = parser.parse_args(argv)
    level = logging.WARNING if args.verbose <= 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="ser-live bench: %(levelname)s: %(message)s")
    return run_bench(args)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
