"""What every benchmark section shares: sizes, corpora, statistics, the machine, contention,
child processes and the report files.

This is the only module of ``benchmarks/`` that imports ``ser_live``: the sections take the
names they need from here.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ser_live import __version__
from ser_live.audiofile import SAMPLE_RATE_HZ, audio_info, load_audio, to_int16, write_wav
from ser_live.cli.options import int_at_least  # noqa: F401 (the benchmarks' argparse type, imported from here)
from ser_live.errors import SerLiveError
from ser_live.model import EmotionModel
from ser_live.offline import Predictor
from ser_live.types import latency_stats
from ser_live.vad import VadConfig
from train.corpora import Record, default_data_root, read_emodb, read_ravdess, read_tess
from train.sessions import build_session, corpus_utterances, room_tone, write_session

__all__ = [
    "SR", "REPO_ROOT", "is_quick", "LISTEN_PATH_MODULES", "MODEL_CLASS", "BenchSizes", "QUICK_SIZES", "Corpora",
    "BenchContext", "load_corpora", "stats", "progress", "machine_info", "SectionMonitor", "ser_live_cmd",
    "module_cmd", "child_env", "vm_hwm_kb", "fmt", "md_table", "verdict", "write_reports",
    # ser_live and train names used by the sections
    "__version__", "audio_info", "load_audio", "to_int16", "write_wav", "SerLiveError", "EmotionModel",
    "Predictor", "VadConfig", "Record", "build_session", "corpus_utterances", "room_tone", "write_session",
]

log = logging.getLogger("benchmarks")

SR = SAMPLE_RATE_HZ
REPO_ROOT = Path(__file__).resolve().parents[1]

#: Modules the listening path imports, timed together in the start-up breakdown.
LISTEN_PATH_MODULES: tuple[str, ...] = ("ser_live.cli", "ser_live.pipeline", "ser_live.audio", "ser_live.model")
#: ``module:attribute`` of the model class (for the start-up child process).
MODEL_CLASS = "ser_live.model:EmotionModel"


# ---------------------------------------------------------------------- settings
@dataclass
class BenchSizes:
    """How much work each section does (``--quick`` shrinks every field).

    Attributes
    ----------
    n_per_bucket : int
        Distinct utterances per duration bucket (processing).
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
    soak_s : float
        Length of the session replayed at ``--speed 0`` by the soak (s); issue 8 asks for 2 h.
    soak_reference_s : float
        Stream time (s) whose peak RSS the soak's overall peak is compared with (issue 8: 10 min).
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
    soak_s: float = 7200.0
    soak_reference_s: float = 600.0


QUICK_SIZES = BenchSizes(
    n_per_bucket=5, repeats=2, tutorial_fit_files=16, session_s=20.0, silence_s=10.0,
    headless=False, startup_cold_runs=1, startup_warm_runs=3, throughput_files=48,
    soak_s=900.0, soak_reference_s=300.0,
)


@dataclass
class Corpora:
    """The corpus files the sections draw from (records of :mod:`train.corpora`, sorted by path)."""

    root: Path
    ravdess: list[Record]
    emodb: list[Record]
    tess: list[Record] = field(default_factory=list)

    @property
    def ravdess_paths(self) -> list[Path]:
        return [Path(r.path) for r in self.ravdess]

    @property
    def emodb_paths(self) -> list[Path]:
        return [Path(r.path) for r in self.emodb]


def is_quick(ctx: Any) -> bool:
    """Whether a harness section runs in ``--quick`` mode (read from the context's session size).

    Parameters
    ----------
    ctx : BenchContext

    Returns
    -------
    bool
    """
    return ctx.sizes.session_s <= QUICK_SIZES.session_s


def load_corpora(root: str | Path | None = None) -> Corpora:
    """RAVDESS, EmoDB and (when present) TESS under ``root``.

    Parameters
    ----------
    root : str or Path, optional
        Corpora folder; default :func:`train.corpora.default_data_root` (``$SER_LIVE_DATA``
        or ``<repo>/../shared/data``).

    Returns
    -------
    Corpora

    Raises
    ------
    train.corpora.CorpusNotFoundError
        RAVDESS or EmoDB is missing.
    """
    base = Path(root).expanduser() if root else default_data_root()
    rav = read_ravdess(base / "ravdess", check_audio=False).records
    emo = read_emodb(base / "emodb", check_audio=False).records
    tess = read_tess(base / "tess", check_audio=False).records if (base / "tess").is_dir() else []
    return Corpora(base, rav, emo, tess)


@dataclass
class BenchContext:
    """What a section is given.

    Attributes
    ----------
    sizes : BenchSizes
    corpora : Corpora
    model : EmotionModel
        Loaded from ``model_path`` (the shipped default when None).
    model_path : str or None
    workdir : Path
        Scratch folder removed after the run.
    env : dict of str to str
        Environment of the measured ``ser-live`` processes (bytecode cached in ``workdir``).
    """

    sizes: BenchSizes
    corpora: Corpora
    model: Any
    model_path: str | None
    workdir: Path
    env: dict[str, str]

    @property
    def model_args(self) -> list[str]:
        """``--model PATH`` for a ``ser-live`` command line, or nothing for the default model."""
        return ["--model", str(self.model_path)] if self.model_path else []


# ---------------------------------------------------------------------- small helpers
def progress(msg: str) -> None:
    """Progress on stderr (stdout carries the results)."""
    print(f"benchmarks: {msg}", file=sys.stderr, flush=True)


def stats(values: Sequence[float]) -> dict[str, float]:
    """``n``, ``p50``, ``p95``, ``max`` and ``mean`` of a sample (percentiles from
    :func:`ser_live.types.latency_stats`); ``{"n": 0}`` when empty."""
    if len(values) == 0:
        return {"n": 0}
    a = np.asarray(values, dtype=np.float64)
    lat = latency_stats(a)
    return {
        "n": int(a.size),
        "p50": round(lat["p50"], 3),
        "p95": round(lat["p95"], 3),
        "max": round(lat["max"], 3),
        "mean": round(float(a.mean()), 3),
    }


def fmt(v: Any, unit: str = "", nd: int = 1) -> str:
    """A number for a Markdown cell (``n/a`` for None or NaN)."""
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if isinstance(v, (int, float)):
        return f"{v:.{nd}f}{unit}"
    return str(v)


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Lines of a Markdown table: the header, the rule, one line per row (cells as given)."""
    return [f"| {' | '.join(headers)} |", "|" + "---|" * len(headers),
            *(f"| {' | '.join(str(c) for c in row)} |" for row in rows)]


def verdict(ok: bool | None) -> str:
    """``met``, ``**missed**`` or ``n/a`` for a target."""
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def ser_live_cmd() -> list[str]:
    """The ``ser-live`` script beside this interpreter, else ``python -m ser_live``."""
    script = Path(sys.executable).with_name("ser-live")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "ser_live"]


def module_cmd(module: str, *args: str) -> list[str]:
    """``python -m MODULE ARGS`` with this interpreter (run it with ``cwd=REPO_ROOT``)."""
    return [sys.executable, "-m", module, *args]


def child_env(pycache: Path | None, *, numba_cache: Path | None = None) -> dict[str, str]:
    """Environment of a measured process: bytecode cached under ``pycache``
    (``PYTHONPYCACHEPREFIX``, written as a normal install would), an own numba cache if given,
    and the repository on ``PYTHONPATH`` so ``python -m benchmarks.*`` children import."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    if numba_cache is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_cache)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if str(REPO_ROOT) not in paths:
        env["PYTHONPATH"] = os.pathsep.join([*paths, str(REPO_ROOT)])
    env.setdefault("TERM", "xterm-256color")
    env.pop("COLUMNS", None)
    env.pop("LINES", None)
    return env


def vm_hwm_kb(pid: int) -> int | None:
    """Peak resident set size (kB) of a process since its ``exec`` (Linux ``VmHWM``)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


# ---------------------------------------------------------------------- contention
class SectionMonitor:
    """CPU used by the whole machine, by this benchmark and by everyone else during a section.

    ``ours`` counts this process, its reaped children (``RUSAGE_CHILDREN``) and its live
    children (joblib workers); ``others = busy - ours`` with ``busy`` from ``/proc/stat``.
    ``result`` holds cores (CPU seconds per wall second) once the ``with`` block ends.
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
        return sum(ct) - idle - steal, steal

    def __enter__(self) -> "SectionMonitor":
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

        def cores(x: float) -> float:
            return round(x / wall, 3) if wall > 0 else 0.0

        self.result = {
            "wall_s": round(wall, 2),
            "busy_cores": cores(busy),
            "ours_cores": cores(ours),
            "others_cores": cores(max(busy - ours, 0.0)),
            "steal_cores": cores(steal1 - self._steal0),
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

    from train.provenance import cpu_model as _cpu

    cpu_model = _cpu() or "unknown"
    versions = {"python": platform.python_version(), "ser_live": __version__}
    for mod in ("numpy", "scipy", "sklearn", "librosa", "numba", "skops", "soundfile", "webrtcvad", "rich"):
        try:
            versions[mod] = str(getattr(__import__(mod), "__version__", "?"))
        except Exception:  # noqa: BLE001 - a missing optional library is just reported
            versions[mod] = None
    blas = []
    try:
        from threadpoolctl import threadpool_info

        blas = [{k: d.get(k) for k in ("user_api", "internal_api", "num_threads", "version", "architecture")}
                for d in threadpool_info()]
    except Exception:  # noqa: BLE001
        pass
    commit = None
    try:
        commit = subprocess.run(["git", "-C", str(REPO_ROOT), "describe", "--always", "--dirty"],
                                capture_output=True, text=True, timeout=10).stdout.strip() or None
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


def corpora_problem(names: Sequence[str], data_root: str | Path | None = None) -> tuple[int, str] | None:
    """Whether the corpora a harness will read by name can be read, checked before it runs.

    Parameters
    ----------
    names : sequence of str
        Corpus names, as the harnesses pass them to :func:`train.corpora.read_corpus`
        (``<data_root>/<name>``).
    data_root : str or Path, optional
        Corpora folder; default :func:`train.corpora.default_data_root`.

    Returns
    -------
    tuple of (int, str) or None
        ``None`` when every corpus lists; otherwise the exit status and a one-line error: 2
        for a name that is no corpus (the message lists the known ones), 3 for a corpus not
        found under ``data_root`` (the message says where it looked and how to point elsewhere).
        The audio is not decoded; never raises for a bad name or a missing folder.
    """
    from train.corpora import CorpusNotFoundError, read_corpus

    root = Path(data_root).expanduser() if data_root else default_data_root()
    for name in names:
        try:
            read_corpus(name, root / name, check_audio=False)
        except CorpusNotFoundError as exc:
            return 3, f"error: {exc}"
        except ValueError as exc:  # read_corpus: a name that is no corpus
            return 2, f"error: {exc}"
    return None


# ---------------------------------------------------------------------- report files
def _folder_write_error(folder: Path) -> str | None:
    """What stops a file being written in ``folder`` (created if missing), or ``None``."""
    import tempfile

    for p in (folder, *folder.parents):  # the nearest existing one: a file in the way?
        if p.exists():
            if not p.is_dir():
                return f"{p} is a file, not a folder"
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-probe-"):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def output_dir_problem(out_dir: Path) -> str | None:
    """Why reports cannot be written to ``out_dir`` (created if missing), or ``None`` if they can.

    Checked before a benchmark runs, so that a run of many minutes is not lost to an output
    folder found unusable only when its reports are written.

    Parameters
    ----------
    out_dir : Path
        The report folder; created (with its parents) if missing, and a probe file is written
        to it and removed.

    Returns
    -------
    str or None
        One line saying what is wrong (a file in the way, permission denied), or ``None``
        when a file can be written there. Never raises ``OSError``.
    """
    error = _folder_write_error(Path(out_dir))
    return None if error is None else f"cannot write reports to {out_dir}: {error}"


def output_file_problem(path: str | Path) -> str | None:
    """Why a result file cannot be written at ``path``, or ``None`` if it can (its folder is
    created if missing; ``path`` itself is not created). Checked before a harness runs, so a
    ``--json`` that cannot be written does not cost the run's full result.

    Returns
    -------
    str or None
        One line naming ``path`` and what is wrong (a folder in the way, a file where its
        folder should be, a folder that cannot be written to); never raises ``OSError``.
    """
    path = Path(path)
    if path.is_dir():
        return f"cannot write {path}: it is a folder"
    error = _folder_write_error(path.parent)
    return None if error is None else f"cannot write {path}: {error}"


def table_run_problem(corpora: Sequence[str], json_path: str | Path | None) -> tuple[int, str] | None:
    """The checks a table bench (:func:`run_table_bench`) makes before its run:
    :func:`corpora_problem`, then whether ``--json`` can be written
    (:func:`output_file_problem`), so a bad path does not cost the run's result.

    Returns
    -------
    tuple of (int, str) or None
        The exit status and a one-line error, or None.
    """
    problem = corpora_problem(corpora)
    if problem:
        return problem
    json_problem = output_file_problem(json_path) if json_path else None
    if json_problem:
        return 2, f"error: {json_problem}; pass --json FILE in a folder you can write to"
    return None


def print_table(lines: Sequence[str], result: dict[str, Any], json_path: str | Path | None) -> None:
    """Write ``result`` as JSON to ``json_path`` (when given), then print a table bench's
    Markdown ``lines`` (the file first: a closed pipe on stdout loses no result)."""
    if json_path:
        Path(json_path).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print("\n".join(lines))


def table_parser(prog: str, description: str, corpora: Sequence[str], *,
                 models_dir: str | None = None) -> argparse.ArgumentParser:
    """The options every table bench takes (``speaker_encoders``, ``cut_padding``,
    ``audio_cost``): ``--corpora`` (default ``corpora``), ``--seed``, ``--json`` and, given a
    default ``models_dir``, ``--models-dir`` (the corpora's ``loco`` fold models); the bench adds
    its own options to the parser returned."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--corpora", nargs="+", default=list(corpora))
    if models_dir is not None:
        p.add_argument("--models-dir", default=models_dir,
                       help="the corpora's loco fold models, <corpus>.skops (python -m benchmarks.conversations --fit)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the result here")
    return p


def run_table_bench(corpora: Sequence[str], json_path: str | Path | None, run: Callable[[], dict[str, Any]],
                    markdown: Callable[[dict[str, Any]], Sequence[str]], *,
                    errors: tuple[type[BaseException], ...] = (FileNotFoundError,)) -> int:
    """A table bench's ``main`` once its options are parsed (``speaker_encoders``,
    ``cut_padding``, ``audio_cost``): the pre-run checks (:func:`table_run_problem`), then
    ``run()``, one of ``errors`` printed as one line, then :func:`print_table` of
    ``markdown(result)``.

    Returns
    -------
    int
        The exit status: 0; 2 an error of ``errors`` (a fold model missing, ...) or a
        ``--json`` that cannot be written; 3 a corpus not found.
    """
    problem = table_run_problem(corpora, json_path)  # one line, not a traceback, before the run
    if problem:
        print(problem[1], file=sys.stderr)
        return problem[0]
    try:
        res = run()
    except errors as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print_table(markdown(res), res, json_path)
    return 0


def float_above(minimum: float):
    """An argparse ``type``: a finite number > ``minimum`` (e.g. a duration above 0 s);
    anything else is a usage error (exit 2) naming the option.

    Returns
    -------
    Callable[[str], float]
        Parses one command-line value; raises ``argparse.ArgumentTypeError`` otherwise.
    """
    import argparse
    import math

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or value <= minimum:
            raise argparse.ArgumentTypeError(f"must be above {minimum:g}, got {text}")
        return value

    return parse


def write_reports(results: dict[str, Any], markdown: str, *, out_dir: Path) -> Path:
    """Write ``bench-{quick|full}-STAMP.json`` and ``.md`` to ``out_dir``, and copy them to
    ``latest.json`` / ``latest.md``.

    Returns
    -------
    Path
        The JSON file written.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kind = "quick" if results["settings"]["quick"] else "full"
    jpath = out_dir / f"bench-{kind}-{stamp}.json"
    jpath.write_text(json.dumps(results, indent=2, default=str) + "\n")
    jpath.with_suffix(".md").write_text(markdown)
    shutil.copyfile(jpath, out_dir / "latest.json")
    (out_dir / "latest.md").write_text(markdown)
    return jpath
