"""``python -m benchmarks``: latency, CPU, start-up, throughput and memory of ser-live,
measured on real speech; JSON + Markdown to ``bench-results/``, the Markdown on stdout.

What is measured, one module per section:

1. ``processing`` - features + classification per utterance by duration, vs the tutorial
   recipe (:mod:`benchmarks.processing`);
2. ``listen`` - end-of-speech latency, CPU while listening and peak RSS of real-time replays
   through ``ser-live`` (:mod:`benchmarks.listening`);
3. ``startup`` - process start to listening, warm / after install / cold
   (:mod:`benchmarks.startup`);
4. ``throughput`` - ``ser-live predict`` and the Python API with 1 and 2 workers
   (:mod:`benchmarks.throughput`);
5. ``soak`` - RSS and end-of-speech latency over a 2 h replay at ``--speed 0``
   (:mod:`benchmarks.soak`);
6. ``live_offline`` - live vs offline UA of held-out speakers at laptop levels over noise
   floors, with ``loco`` fold models fitted first (:mod:`benchmarks.live_offline`; only with
   ``--only live_offline``: it is not part of the default run);
7. ``conversations`` - two-speaker conversations of held-out speakers: speaker attribution,
   live UA with speaker turns against per-speaker offline sessions (:mod:`benchmarks.conversations`;
   only with ``--only conversations``).

The machine is described (CPU, cores, library versions, BLAS threads) and so is the
contention during each section (CPU used by other processes, in cores). No pass/fail is
enforced: the targets are listed beside each figure. Exit status: 0 every section ran, 1 one
failed (its error is in the report) or the reports could not be written, 2 bad options (an output
folder that cannot be written to, a --model that cannot be loaded) or psutil missing, 3 corpora missing.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from . import conversations, listening, live_offline, processing, soak, startup, throughput
from .common import (
    QUICK_SIZES, BenchContext, BenchSizes, SectionMonitor, child_env, fmt, load_corpora, machine_info, md_table,
    output_dir_problem, progress, verdict, write_reports,
)

#: Section name -> module (with ``run``, ``summary_rows``, ``markdown``), in running order.
SECTIONS: dict[str, ModuleType] = {
    m.NAME: m for m in (processing, listening, startup, throughput, soak, live_offline, conversations)}
#: The sections run without ``--only`` (live_offline fits models and replays hundreds of sessions).
DEFAULT_SECTIONS: tuple[str, ...] = ("processing", "listen", "startup", "throughput", "soak")

#: The targets of the project's benchmark issues on a 2-core machine (the latest: issue 23).
TARGETS: dict[str, str] = {
    "processing_p95_4s_ms": "<= 5 ms",
    "speedup_vs_tutorial_4s": ">= 3x",
    "end_of_speech_p95_ms": "<= hangover_ms + 20 ms",
    "cpu_listening_pct_core": "<= 3 % of one core (speech, dashboard)",
    "startup_warm_s": "<= 0.6 s",
    "peak_rss_mb": "<= 150 MB",
    "soak_rss_growth_mb": "<= 20 MB after 10 min of a 2 h replay at --speed 0",
}

#: Size options: (flag, BenchSizes field, help); the full and quick values are added to the help.
_SIZE_OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--n-per-bucket", "n_per_bucket", "utterances per duration bucket"),
    ("--repeats", "repeats", "timings per utterance"),
    ("--tutorial-fit-files", "tutorial_fit_files", "files the tutorial SVM is fitted on"),
    ("--session-s", "session_s", "real-time speech session length (s)"),
    ("--silence-s", "silence_s", "silence and noise session length (s), 0 to skip"),
    ("--headless", "headless", "also replay the speech session without the dashboard"),
    ("--startup-runs", "startup_warm_runs", "warm start-up runs"),
    ("--startup-cold-runs", "startup_cold_runs", "cold and after-install start-up runs"),
    ("--throughput-files", "throughput_files", "RAVDESS files for the throughput test, 0 = all 1440"),
    ("--tutorial-default-runtime", "tutorial_default_runtime",
     "also time the tutorial recipe in a fresh process with default BLAS threads and allocator, "
     "as a tutorial script runs"),
    ("--soak-s", "soak_s", "soak session length (s)"),
    ("--soak-reference-s", "soak_reference_s",
     "stream time (s) whose peak RSS the soak compares with (at most half the session)"),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``python -m benchmarks`` options."""
    full, quick = BenchSizes(), QUICK_SIZES
    p = argparse.ArgumentParser(
        prog="python -m benchmarks", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure processing latency (vs the tutorial recipe), end-of-speech latency, CPU while\n"
                    "listening, start-up time, offline throughput, peak memory and a long-replay soak on\n"
                    "real speech; write JSON + Markdown to bench-results/ and print the Markdown.")
    p.add_argument("--quick", action="store_true",
                   help="small sizes, a few minutes (default: the full run, about 20 minutes)")
    p.add_argument("--only", nargs="+", choices=list(SECTIONS), metavar="SECTION",
                   help=f"run only these sections ({', '.join(SECTIONS)}; default: all but live_offline and "
                        "conversations)")
    p.add_argument("--data", metavar="DIR", default=None,
                   help="corpora folder (default: $SER_LIVE_DATA or <repo>/../shared/data)")
    p.add_argument("--model", metavar="PATH", default=None, help="model file (default: the shipped model)")
    p.add_argument("--output-dir", metavar="DIR", default="bench-results",
                   help="where the JSON and Markdown reports are written (default: bench-results)")
    p.add_argument("--no-save", action="store_true", help="print only; write no files")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log more to stderr")
    g = p.add_argument_group("sizes (override --quick / full defaults)")
    for flag, attr, text in _SIZE_OPTIONS:
        f, q = getattr(full, attr), getattr(quick, attr)
        if isinstance(f, bool):
            g.add_argument(flag, dest=attr, action=argparse.BooleanOptionalAction, default=None,
                           help=f"{text} (full: {'yes' if f else 'no'}, quick: {'yes' if q else 'no'})")
        else:
            g.add_argument(flag, dest=attr, type=type(f), default=None, metavar="N" if isinstance(f, int) else "SECONDS",
                           help=f"{text} (full {f:g}, quick {q:g})")
    return p


def sizes_from_args(args: argparse.Namespace) -> BenchSizes:
    """The sizes of ``--quick`` or the full run, with the size options applied."""
    s = BenchSizes(**vars(QUICK_SIZES if args.quick else BenchSizes()))
    for _flag, attr, _text in _SIZE_OPTIONS:
        v = getattr(args, attr, None)
        if v is not None:
            setattr(s, attr, v)
    return s


def render_markdown(results: dict[str, Any]) -> str:
    """The results as Markdown: machine, headline table, one part per section, contention."""
    m = results["machine"]
    v = m["versions"]
    blas = ", ".join(f"{b['internal_api']} {b['num_threads']} threads" for b in m["blas"]) or "unknown"
    lines = [f"# ser-live benchmarks ({'quick' if results['settings']['quick'] else 'full'}) - {m['date']}", "",
             f"Machine: {m['cpu_model']}, {m['logical_cores']} logical cores, {m['memory_gb']} GB; "
             f"Python {v['python']}, numpy {v['numpy']}, scipy {v['scipy']}, scikit-learn {v['sklearn']}, "
             f"librosa {v['librosa']}, numba {v['numba']}, skops {v['skops']}; ser-live {v['ser_live']} ({m['git']}).",
             f"BLAS: {blas}.",
             f"Command: `{results['settings']['command']}`.", ""]
    rows = []
    for r in results["summary"]:
        val = r["value"]
        val_s = val if isinstance(val, str) else fmt(val, "", 2 if r["unit"] in ("s", "x") else 1)
        rows.append([r["metric"], f"{val_s} {r['unit']}", r["target"], verdict(r["met"])])
    lines += md_table(["metric", "value", "target", ""], rows)
    for name, mod in SECTIONS.items():
        if name in results:
            lines += mod.markdown(results[name])
    cont = results.get("contention", {})
    if cont:
        lines += ["", "## Contention (other processes on this machine during each section)", ""]
        lines += md_table(["section", "wall s", "machine busy (cores)", "this benchmark (cores)", "others (cores)",
                           "load avg start/end"],
                          [[k, c["wall_s"], c["busy_cores"], c["ours_cores"], c["others_cores"],
                            f"{c['loadavg_1min_start']} / {c['loadavg_1min_end']}"] for k, c in cont.items()])
    if results["errors"]:
        lines += ["", "## Errors", ""] + [f"- {k}: {e}" for k, e in results["errors"].items()]
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Run the chosen sections and report (see the module docstring for the exit status)."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        progress("error: the benchmarks need psutil: pip install -e '.[bench]' (from a source checkout)")
        return 2
    from train.corpora import CorpusNotFoundError

    sizes = sizes_from_args(args)
    sections = list(args.only or DEFAULT_SECTIONS)
    if not args.no_save:  # found now, not after the sections have run (their results would be lost)
        problem = output_dir_problem(Path(args.output_dir))
        if problem:
            progress(f"error: {problem}; pass --output-dir DIR (a folder you can write to) or --no-save")
            return 2
    try:
        corpora = load_corpora(args.data)
    except CorpusNotFoundError as exc:
        progress(f"error: RAVDESS and EmoDB are needed: {exc}")
        return 3
    from ser_live.errors import SerLiveError

    from .common import EmotionModel

    try:
        model = EmotionModel.load(args.model)
    except SerLiveError as exc:  # a --model that is missing or not a model: one line, before any section
        progress(f"error: {exc}")
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="ser-live-bench-"))
    ctx = BenchContext(sizes=sizes, corpora=corpora, model=model, model_path=args.model, workdir=workdir,
                       env=child_env(workdir / "warm-pycache"))
    results: dict[str, Any] = {
        "machine": machine_info(),
        "settings": {"quick": bool(args.quick), "sections": sections, "sizes": vars(sizes), "data": str(corpora.root),
                     "model": str(getattr(model, "path", args.model)), "model_name": model.name,
                     "command": args.command_line},
        "targets": TARGETS,
        "contention": {},
        "errors": {},
    }
    t_all = time.perf_counter()
    try:
        for name in sections:
            mon = SectionMonitor()
            try:
                with mon:
                    results[name] = SECTIONS[name].run(ctx)
            except Exception as exc:  # noqa: BLE001 - one failed section must not lose the others
                logging.getLogger("benchmarks").exception("section %s failed", name)
                results["errors"][name] = f"{type(exc).__name__}: {exc}"
            results["contention"][name] = mon.result
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.perf_counter() - t_all, 1)
    results["summary"] = [row for name, mod in SECTIONS.items() if name in results for row in mod.summary_rows(results[name])]
    md = render_markdown(results)
    write_failed = False
    if not args.no_save:
        try:
            jpath = write_reports(results, md, out_dir=Path(args.output_dir))
        except OSError as exc:  # e.g. the disk filled during the run: the Markdown below still has the results
            progress(f"error: the reports could not be written to {args.output_dir}: {exc}")
            write_failed = True
        else:
            progress(f"wrote {jpath} and {jpath.with_suffix('.md')} (also latest.json / latest.md)")
    print(md, flush=True)
    return 1 if results["errors"] or write_failed else 0


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks [options]``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["python -m benchmarks", *argv])
    level = logging.WARNING if args.verbose <= 0 else logging.INFO if args.verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="benchmarks: %(levelname)s: %(message)s")
    from ser_live.runtime import tune_process  # heap and BLAS settings, as ser-live runs

    tune_process()
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
