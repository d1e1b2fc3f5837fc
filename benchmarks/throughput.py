"""Section ``throughput``: offline classification of RAVDESS files, by ``ser-live predict``
(one process, start-up included) and by :meth:`Predictor.process_file` through joblib with 1 and 2
worker processes (``predict`` has no ``--jobs`` option).
"""

from __future__ import annotations

import os
import subprocess
import time
from typing import Any, Sequence

import numpy as np

from .common import (
    BenchContext, EmotionModel, Predictor, SerLiveError, audio_info, md_table, progress, ser_live_cmd,
)

NAME = "throughput"

_WORKER_MODEL: dict[str, Any] = {}


def _predict_chunk(paths: Sequence[str], model_path: str | None) -> tuple[int, int]:
    """Classify files with :meth:`Predictor.process_file` (worker side); the model is loaded
    once per process. Returns (classified, failed)."""
    key = model_path or ""
    if key not in _WORKER_MODEL:
        _WORKER_MODEL[key] = Predictor(EmotionModel.load(model_path))
    predictor = _WORKER_MODEL[key]
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


def run(ctx: BenchContext) -> dict[str, Any]:
    """Offline throughput over RAVDESS files.

    * ``cli_1_process``: ``ser-live predict FILES... > /dev/null``.
    * ``api_1_worker`` / ``api_2_workers``: :meth:`Predictor.process_file` over the same files in this
      process, and split over 2 joblib (loky) worker processes, started and given the model
      before the clock starts.

    Returns
    -------
    dict
        Per configuration: wall seconds, files/s, times real time (audio seconds / wall
        seconds), files classified and failed.
    """
    from joblib import Parallel, delayed

    sizes, model_path = ctx.sizes, ctx.model_path
    rav = ctx.corpora.ravdess_paths
    files = list(rav)
    if sizes.throughput_files and sizes.throughput_files < len(files):
        idx = np.linspace(0, len(files) - 1, sizes.throughput_files).round().astype(int)
        files = [files[i] for i in idx]
    audio_s = float(sum(audio_info(p).duration_s for p in files))
    paths = [str(p) for p in files]
    out: dict[str, Any] = {"files": len(files), "audio_s": round(audio_s, 1),
                           "note": "ser-live predict has no --jobs option; 1 vs 2 workers measured "
                                   "through the Python API (joblib loky)"}

    def rate(wall: float, ok: int, bad: int) -> dict[str, Any]:
        return {"wall_s": round(wall, 2), "files_per_s": round(len(paths) / wall, 2),
                "x_real_time": round(audio_s / wall, 1), "classified": ok, "failed": bad}

    progress(f"throughput: ser-live predict on {len(paths)} RAVDESS files ({audio_s:.0f} s of audio)")
    targets = [str(ctx.corpora.root / "ravdess")] if len(files) == len(rav) else paths
    t0 = time.perf_counter()
    r = subprocess.run([*ser_live_cmd(), "predict", *targets, *ctx.model_args], stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, env=ctx.env)
    wall = time.perf_counter() - t0
    n_err = r.stderr.decode("utf-8", "replace").count("error:")
    out["cli_1_process"] = {**rate(wall, len(paths) - n_err, n_err), "exit_code": r.returncode,
                            "includes": "process start-up and model load"}

    progress("throughput: Python API, 1 worker (this process)")
    _predict_chunk([], model_path)
    t0 = time.perf_counter()
    ok, bad = _predict_chunk(paths, model_path)
    out["api_1_worker"] = rate(time.perf_counter() - t0, ok, bad)

    progress("throughput: Python API, 2 worker processes (joblib loky)")
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


_CONFIGS = (("cli_1_process", "`ser-live predict`, 1 process"), ("api_1_worker", "Predictor.process_file, 1 worker"),
            ("api_2_workers", "Predictor.process_file, 2 workers"))


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows: files/s of each configuration."""
    return [{"metric": f"throughput {lab}", "value": res[k]["files_per_s"], "unit": "files/s",
             "target": f"x{res[k]['x_real_time']:g} real time", "met": None} for k, lab in _CONFIGS if k in res]


def markdown(res: dict[str, Any]) -> list[str]:
    """The configurations table."""
    lines = ["", "## Offline throughput", "",
             f"{res['files']} RAVDESS files, {res['audio_s']} s of audio. {res['note']}.", ""]
    lines += md_table(["configuration", "wall s", "files/s", "x real time", "failed"],
                      [[k, res[k]["wall_s"], res[k]["files_per_s"], res[k]["x_real_time"], res[k]["failed"]]
                       for k, _lab in _CONFIGS if k in res])
    lines.append(f"\n2 workers vs 1: x{res['speedup_2_vs_1']}.")
    return lines
