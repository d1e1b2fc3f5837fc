"""Section ``startup``: process start to the "replaying ..." line of
``ser-live --input SHORT --speed 0 --jsonl -``, which ``ser-live`` prints right after
``Recognizer.start()`` has started its source (the first audio read follows within one 20 ms
block); warm, first run after install and cold, with a breakdown by import. Also the wall
time of ``ser-live predict SHORT`` (process start to exit, the record written), warm.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from .common import (
    LISTEN_PATH_MODULES, MODEL_CLASS, REPO_ROOT, BenchContext, child_env, fmt, log, module_cmd, progress,
    ser_live_cmd, stats,
)
from .listening import LISTENING_RE

NAME = "startup"

_WARMUP_RE = re.compile(r"warmed up in (\d+(?:\.\d+)?) ms")


def _time_to_listening(cmd: Sequence[str], *, env: dict[str, str], timeout_s: float = 120.0) -> dict[str, Any]:
    """Spawn ``cmd`` and time the "replaying ..." line on its stderr; wait for its exit."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(list(cmd), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, env=env)
    t_listen = warm_ms = None
    lines = []
    assert proc.stderr is not None
    for raw in proc.stderr:
        line = raw.decode("utf-8", "replace").rstrip("\n")
        lines.append(line)
        m = _WARMUP_RE.search(line)
        if m:
            warm_ms = float(m.group(1))
        if t_listen is None and LISTENING_RE.match(line):
            t_listen = time.perf_counter() - t0
    rc = proc.wait(timeout_s)
    if t_listen is None:
        log.error("start-up run printed no 'replaying' line (exit %s): %s", rc, " | ".join(lines[-5:]))
    return {"to_listening_s": t_listen, "warmup_ms": warm_ms, "exit_code": rc}


def _time_predict(cmd: Sequence[str], *, env: dict[str, str], timeout_s: float = 120.0) -> dict[str, Any]:
    """Spawn ``ser-live predict FILE`` and time it from start to exit (s); its record is
    parsed so a run that printed no label is not counted."""
    t0 = time.perf_counter()
    out = subprocess.run(list(cmd), stdin=subprocess.DEVNULL, capture_output=True, env=env, timeout=timeout_s)
    wall = time.perf_counter() - t0
    try:
        label = json.loads(out.stdout.decode("utf-8", "replace").strip().splitlines()[-1]).get("label")
    except (ValueError, IndexError, AttributeError):
        label = None
    if out.returncode != 0 or label is None:
        log.error("predict run failed (exit %s): %s", out.returncode, out.stderr.decode("utf-8", "replace")[-500:])
        return {"wall_s": None, "exit_code": out.returncode, "label": label}
    return {"wall_s": wall, "exit_code": out.returncode, "label": label}


def _breakdown(env: dict[str, str], model_path: str | None) -> tuple[dict[str, float], list[str]]:
    """Milliseconds per start-up step of a fresh warm process (:mod:`benchmarks.child_startup`)."""
    t_spawn = time.time()
    out = subprocess.run(module_cmd("benchmarks.child_startup", MODEL_CLASS, model_path or "", *LISTEN_PATH_MODULES),
                         env=env, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    breakdown: dict[str, float] = {}
    try:
        info = json.loads(out.stdout.strip().splitlines()[-1])
        prev = t_spawn
        for name, t in info["t"]:
            breakdown[name] = round((t - prev) * 1e3, 1)
            prev = t
        return breakdown, info["heavy_modules"]
    except (ValueError, IndexError, KeyError):
        log.error("start-up breakdown failed: %s", out.stderr[-2000:])
        return {}, []


def run(ctx: BenchContext) -> dict[str, Any]:
    """Start-up time, warm / after install / cold.

    *warm*: bytecode cached in a PYTHONPYCACHEPREFIX folder filled by a priming run (a
    second run after install); *after install*: the bytecode the installers wrote (pip
    byte-compiles site-packages, Python ships its standard library compiled) and ser-live's
    own modules compiled in memory, with an empty numba cache: the first run after
    ``pip install``; *cold*: a fresh, empty bytecode folder and numba cache for each run,
    i.e. every module compiled from source (an upper bound). The operating system's file
    cache is not dropped (that needs root and disturbs the machine's other users).

    Returns
    -------
    dict
        ``warm_s``, ``after_install_s`` and ``cold_s`` statistics, each run, and a
        ``breakdown_ms`` of a warm start (imports, model load, warm-up).
    """
    sizes, workdir = ctx.sizes, ctx.workdir
    short_wav = ctx.corpora.ravdess_paths[0]
    cmd = [*ser_live_cmd(), "--input", str(short_wav), "--speed", "0", "--jsonl", "-", "-v", *ctx.model_args]
    cold = []
    for i in range(sizes.startup_cold_runs):
        d = Path(tempfile.mkdtemp(prefix="ser-live-cold-", dir=workdir))
        progress(f"startup: cold run {i + 1}/{sizes.startup_cold_runs} (empty bytecode and numba caches)")
        cold.append(_time_to_listening(cmd, env=child_env(d / "pycache", numba_cache=d / "numba")))
        shutil.rmtree(d, ignore_errors=True)
    installed = []
    for i in range(sizes.startup_cold_runs):
        d = Path(tempfile.mkdtemp(prefix="ser-live-inst-", dir=workdir))
        progress(f"startup: as first run after install {i + 1}/{sizes.startup_cold_runs} "
                 "(installed bytecode only, none written; empty numba cache)")
        env_i = child_env(None, numba_cache=d / "numba")
        env_i.pop("PYTHONPYCACHEPREFIX", None)
        env_i["PYTHONDONTWRITEBYTECODE"] = "1"
        installed.append(_time_to_listening(cmd, env=env_i))
        shutil.rmtree(d, ignore_errors=True)
    env = child_env(workdir / "warm-pycache")
    progress("startup: priming run, then warm runs")
    _time_to_listening(cmd, env=env)
    warm = [_time_to_listening(cmd, env=env) for _ in range(sizes.startup_warm_runs)]
    breakdown, heavy = _breakdown(env, ctx.model_path)
    predict_cmd = [*ser_live_cmd(), "predict", str(short_wav), *ctx.model_args]
    progress(f"startup: {sizes.startup_warm_runs} warm runs of ser-live predict on one file")
    predict = [_time_predict(predict_cmd, env=env) for _ in range(sizes.startup_warm_runs)]

    def col(runs: list[dict], key: str) -> list[float]:
        return [r[key] for r in runs if r[key] is not None]

    return {
        "command": " ".join(cmd[len(ser_live_cmd()):]),
        "marker": "stderr line 'ser-live: replaying ...', printed right after Recognizer.start() started the source",
        "warm_s": stats(col(warm, "to_listening_s")),
        "cold_s": stats(col(cold, "to_listening_s")),
        "after_install_s": stats(col(installed, "to_listening_s")),
        "warm_warmup_ms": stats(col(warm, "warmup_ms")),
        "warm_runs": warm,
        "cold_runs": cold,
        "after_install_runs": installed,
        "breakdown_ms": breakdown,
        "heavy_modules_imported": heavy,
        "predict_command": " ".join(predict_cmd[len(ser_live_cmd()):]),
        "predict_s": stats(col(predict, "wall_s")),
        "predict_runs": predict,
        "cold_means": (
            "cold: fresh PYTHONPYCACHEPREFIX and NUMBA_CACHE_DIR, so every module (stdlib included) is "
            "compiled from source, an upper bound; after install: the bytecode pip and Python "
            "installed is used, ser-live's own modules are compiled (none written), empty numba "
            "cache. The OS file cache is warm in every case (dropping it needs root and would "
            "disturb the machine's other users)"
        ),
    }


def summary_rows(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Headline rows: warm, after-install and cold start-up medians; ``predict`` on one file."""
    w = res["warm_s"].get("p50")
    rows = [
        {"metric": "start-up to listening, warm (median)", "value": w, "unit": "s",
         "target": "<= 0.6 s", "met": None if w is None else w <= 0.6},
        {"metric": "start-up to listening, first run after install (median)",
         "value": res["after_install_s"].get("p50"), "unit": "s", "target": "(reported)", "met": None},
        {"metric": "start-up to listening, cold: no bytecode at all (median)", "value": res["cold_s"].get("p50"),
         "unit": "s", "target": "(reported)", "met": None},
    ]
    if "predict_s" in res:  # results saved before the predict runs were added have none
        p = res["predict_s"].get("p50")
        rows.append({"metric": "`ser-live predict` one file, wall, warm (median)", "value": p, "unit": "s",
                     "target": "<= 1 s", "met": None if p is None else p <= 1.0})
    return rows


def markdown(res: dict[str, Any]) -> list[str]:
    """The start-up paragraph and the warm breakdown."""
    bd = ", ".join(f"{k} {v:.0f}" for k, v in res["breakdown_ms"].items())
    w, a, c = res["warm_s"], res["after_install_s"], res["cold_s"]
    return ["", "## Start-up", "",
            f"`ser-live {res['command']}`: process start to the 'ser-live: replaying' line. "
            f"Warm p50 {fmt(w.get('p50'), ' s', 2)} (max {fmt(w.get('max'), ' s', 2)}, n={w.get('n')}), "
            f"first run after install p50 {fmt(a.get('p50'), ' s', 2)} (n={a.get('n')}), "
            f"cold p50 {fmt(c.get('p50'), ' s', 2)} (n={c.get('n')}). {res['cold_means']}.",
            f"Warm breakdown (ms): {bd}. Heavy modules imported by the listening path: "
            f"{', '.join(res['heavy_modules_imported']) or 'none'}.",
            *([] if "predict_s" not in res else [
                "", f"`ser-live {res['predict_command']}`, process start to exit, warm: "
                f"p50 {fmt(res['predict_s'].get('p50'), ' s', 2)} (max {fmt(res['predict_s'].get('max'), ' s', 2)}, "
                f"n={res['predict_s'].get('n')})."])]
