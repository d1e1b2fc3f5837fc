"""``python -m benchmarks.dask_scale``: files/s of ``ser-live predict --dask`` on a local Dask
cluster with 1 and 2 workers, against single-process prediction, the per-file overhead of
the cluster path, and what 10^6 files would take on N cores (issue 13).

Single process: :meth:`ser_live.offline.Predictor.process_file` over the files in this
process, the model loaded before the clock starts (what ``ser-live predict`` does per file).
Cluster: :func:`ser_live.batch.predict_on_cluster` into a Parquet file, on a
``LocalCluster`` (1 thread per worker) started before the clock; the clock covers what a
run pays besides start-up: sending the model to the workers (plugin set-up), splitting,
scheduling, shipping records back and writing them. Each figure is the best of
``--repeats`` runs (the machine is shared; the best run is the least disturbed one).

Prints a Markdown table (and the load average, which says how busy the machine was).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from .common import int_at_least, load_corpora, md_table


def _single(paths: list[str], model) -> float:  # noqa: ANN001
    from ser_live.offline import Predictor

    predictor = Predictor(model)
    predictor.process_file(paths[0])  # warm (numba, caches)
    t0 = time.perf_counter()
    for p in paths:
        try:
            predictor.process_file(p)
        except Exception:  # noqa: BLE001 - a failing file still costs its time
            pass
    return time.perf_counter() - t0


def _cluster(paths: list[str], model, n_workers: int, *, chunk_files: int, repeats: int) -> tuple[list[float], float]:  # noqa: ANN001, E501
    """Wall times of ``repeats`` cluster runs over ``paths``, and of a run of one file per
    worker (the fixed cost of a run: model sent and set up, one task each)."""
    from distributed import LocalCluster

    from ser_live.batch import BatchConfig, RecordWriter, predict_on_cluster

    cfg = BatchConfig(chunk_files=chunk_files, progress=False)
    times = []
    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster, tempfile.TemporaryDirectory() as tmp:
        one_each = []
        for i in range(2):  # the first warms the workers (imports, numba JIT)
            with RecordWriter(Path(tmp) / f"warm{i}.parquet", labels=model.labels) as w:
                rep = predict_on_cluster(paths[:n_workers], model=model, writer=w, address=cluster.scheduler_address,
                                         config=BatchConfig(chunk_files=1, progress=False))
            one_each.append(rep.seconds)
        for i in range(repeats):
            with RecordWriter(Path(tmp) / f"out{i}.parquet", labels=model.labels) as w:
                rep = predict_on_cluster(paths, model=model, writer=w, address=cluster.scheduler_address, config=cfg)
            assert rep.n_scored == len(paths), rep
            times.append(rep.seconds)
    return times, one_each[-1]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; returns the exit status (0, or 3 without
    corpora; options below 1 are usage errors, ``SystemExit(2)``)."""
    ap = argparse.ArgumentParser(prog="python -m benchmarks.dask_scale", description=__doc__.split("\n\n")[0])
    # at least 1 each: --workers 0 waited for a worker forever, --n-files 0 and --repeats 0 were tracebacks
    ap.add_argument("--n-files", type=int_at_least(1), default=400, help="RAVDESS files scored per run (default 400)")
    ap.add_argument("--chunk-files", type=int_at_least(1), default=100, help="files per task (default 100)")
    ap.add_argument("--repeats", type=int_at_least(1), default=2,
                    help="runs per configuration; the best counts (default 2)")
    ap.add_argument("--workers", type=int_at_least(1), nargs="+", default=[1, 2],
                    help="local cluster sizes (default 1 2)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import distributed  # noqa: F401 - configures its loggers on import: quiet them after that

    for name in ("distributed", "dask"):
        logging.getLogger(name).setLevel(logging.ERROR)
    from ser_live.model import EmotionModel
    from ser_live.runtime import tune_process

    tune_process()
    from train.corpora import CorpusNotFoundError

    try:
        corpora = load_corpora()
    except CorpusNotFoundError as exc:
        print(f"corpora not found (set SER_LIVE_DATA): {exc}", file=sys.stderr)
        return 3
    paths = [str(p) for p in corpora.ravdess_paths[: args.n_files]]
    model = EmotionModel.load()
    n = len(paths)
    load0 = os.getloadavg()[0]

    single_s = min(_single(paths, model) for _ in range(args.repeats))
    rows = [["single process (Predictor.process_file)", 1, f"{single_s:.2f}", f"{n / single_s:.1f}", "1.00", "-", "-"]]
    per_core = {}
    for k in args.workers:
        times, fixed_s = _cluster(paths, model, k, chunk_files=args.chunk_files, repeats=args.repeats)
        t = min(times)
        per_core[k] = n / t / k
        overhead_ms = (t * k - single_s) / n * 1000  # extra core-ms per file against one process
        rows.append([f"local Dask cluster, {k} worker(s)", k, f"{t:.2f}", f"{n / t:.1f}", f"{single_s / t:.2f}",
                     f"{overhead_ms:+.2f}", f"{fixed_s:.2f}"])
    print(f"## ser-live predict --dask scaling ({n} RAVDESS files, tasks of {args.chunk_files} files, "
          f"best of {args.repeats}; {os.cpu_count()} cores; load average {load0:.1f} at start, "
          f"{os.getloadavg()[0]:.1f} at end)\n")
    print("\n".join(md_table(["configuration", "workers", "wall (s)", "files/s", "speed-up", "overhead (core-ms/file)",
                              "run of 1 file per worker (s)"], rows)))
    print("\noverhead: (wall x workers - single-process wall) / files, the fixed cost of a run included; "
          "the last column is that fixed cost (model sent to and set up on each worker, one task each).")
    rate = per_core[min(per_core)]  # the least contended per-core rate measured
    print(f"\nPer-core rate on the cluster path: {rate:.1f} files/s (1 worker). 10^6 files on N cores, "
          "assuming linear scaling (the tasks share nothing) and the input files reachable by every worker:\n")
    cores_rows = []
    for cores in (2, 16, 64, 256):
        s = 1e6 / (rate * cores)
        cores_rows.append([cores, f"{s:,.0f}", f"{s / 3600:.2f}"])
    print("\n".join(md_table(["cores", "seconds", "hours"], cores_rows)))
    if len(per_core) > 1:
        k = max(per_core)
        print(f"\nMeasured scaling here: {k} workers reach {per_core[k] / rate:.0%} of {k} x the 1-worker rate "
              "(on a machine whose cores other processes share, less than 100 % is contention, not Dask).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
