"""``python -m benchmarks.dashboard_redraw``: what the dashboard's redraws cost, in-process.

The ``listen`` section and ``benchmarks.thread_cpu`` give the dashboard's share of a live run,
too small there to tell one change of the drawing from another. Here an EmoDB conversation
(``--utterances`` files of ``--speakers`` voices in turns, as ``benchmarks.conversations``
builds it) is classified by ``ser-live predict --segments``'s code path, and its results are
fed one by one to a :class:`~ser_live.dashboard.LiveDashboard` drawing on a
``--width`` x ``--height`` console that writes to memory (truecolour, a terminal as far as rich
knows). After each result the dashboard is redrawn once (a *result redraw*: header, emotion,
status and timeline panels) and then ``--status`` times with only the level and the clock
changed (a *status redraw*, as during speech). Each redraw is timed in thread CPU
(``time.thread_time``); then each panel of the last state is rendered alone
(``--repeats`` times). Prints one JSON object: p50 / p95 / max ms of each.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
from typing import Any

import numpy as np


def _stats(seconds: list[float]) -> dict[str, float]:
    """p50 / p95 / max of thread-CPU seconds, in ms."""
    a = np.asarray(seconds, dtype=np.float64) * 1e3
    return {"p50_ms": round(float(np.percentile(a, 50)), 2), "p95_ms": round(float(np.percentile(a, 95)), 2),
            "max_ms": round(float(a.max()), 2), "n": int(a.size)}


def conversation_results(n_utterances: int, *, speakers: int = 1, data_root: str | None = None) -> list[Any]:
    """The results of an EmoDB conversation, classified by the shipped model as ``predict
    --segments`` does (``--speakers`` turns when ``speakers`` > 1).

    Parameters
    ----------
    n_utterances : int
        Files in the conversation (of the first EmoDB speakers with enough core-class files,
        :func:`benchmarks.conversations.corpus_speakers`; two in turns, as that harness plays them).
    speakers : int, default 1
        1: one voice (the first speaker's files); 2: both speakers', and ``--speakers 2``.
    data_root : str, optional
        Corpora folder (default: :func:`train.corpora.default_data_root`).

    Returns
    -------
    list of Result
    """
    from ser_live.model import EmotionModel
    from ser_live.offline import Predictor

    from .conversations import build_conversation, corpus_speakers, interleave

    per_voice = -(-n_utterances // max(1, speakers))
    voices = list(corpus_speakers("emodb", n_utterances=per_voice, data_root=data_root).values())[: max(1, speakers)]
    if speakers > 1:
        order = interleave(voices[0]["items"], voices[1]["items"], seed=0)
        paths = [str(item[0]) for _, item in order][:n_utterances]
    else:
        paths = [str(path) for path, _ in voices[0]["items"]]
    session = build_conversation(paths, seed=0)
    model = EmotionModel.load()
    return Predictor(model, speakers=speakers).process_signal(session.samples, segments=True)


def measure(results: list[Any], *, width: int = 120, height: int = 40, status: int = 8,
            repeats: int = 20) -> dict[str, Any]:
    """Time the dashboard's redraws over ``results`` (see the module docstring).

    Returns
    -------
    dict
        ``result_redraw`` and ``status_redraw`` (:func:`_stats`), and ``panels``: the
        ``timeline``, ``emotion``, ``status`` and ``header`` render of the last state alone.
    """
    from rich.console import Console

    from ser_live import dashboard as d

    labels = sorted({k for r in results for k in r.prediction.probabilities})
    state = d.DashboardState(labels=labels, model_name="ser-default", source_name="conversation.wav")
    console = Console(file=io.StringIO(), force_terminal=True, width=width, height=height,
                      color_system="truecolor")
    on_result, on_status = [], []
    with d.LiveDashboard(state, console=console) as dash:
        for r in results:
            state.add_result(r)
            t0 = time.thread_time()
            dash.refresh(force=True)
            on_result.append(time.thread_time() - t0)
            for j in range(status):
                state.set_status(level_dbfs=-32.0 + 1.7 * j, vad_state="speech", stream_s=r.utterance.end_s + 0.25 * j)
                t0 = time.thread_time()
                dash.refresh(force=True)
                on_status.append(time.thread_time() - t0)
    left_w, right_w = d._panel_widths(width)
    # the timeline's rows as the view fits them under the header (DashboardView)
    rows = max(0, height - len(console.render_lines(d._header(state, width=width), console.options)) - 4)
    panels = {
        "timeline": (lambda: d._timeline_panel(state, width=right_w, max_rows=rows), right_w),
        "emotion": (lambda: d._emotion_panel(state, width=left_w), left_w),
        "status": (lambda: d._status_panel(state), left_w),
        "header": (lambda: d._header(state, width=width), width),
    }
    out: dict[str, Any] = {"results": len(results), "width": width, "height": height,
                           "result_redraw": _stats(on_result), "status_redraw": _stats(on_status), "panels": {}}
    for name, (make, w) in panels.items():
        opts = console.options.update(width=w)
        times = []
        for _ in range(repeats):
            t0 = time.thread_time()
            console.render_lines(make(), opts, pad=True)
            times.append(time.thread_time() - t0)
        out["panels"][name] = _stats(times)
    return out


def main(argv: list[str] | None = None) -> int:
    """``python -m benchmarks.dashboard_redraw [options]``: prints the timings as JSON; returns
    the exit status (0, 2 bad options, 3 EmoDB not found)."""
    from .common import int_at_least

    p = argparse.ArgumentParser(prog="python -m benchmarks.dashboard_redraw", description=__doc__.split("\n")[0])
    p.add_argument("--utterances", type=int, default=32, help="EmoDB files in the conversation (default 32)")
    p.add_argument("--speakers", type=int, default=1, choices=(1, 2), help="voices, and --speakers of the run")
    p.add_argument("--width", type=int, default=120)
    p.add_argument("--height", type=int, default=40)
    # at least one of each: with none, the statistics of no redraw were an IndexError
    p.add_argument("--status", type=int_at_least(1), default=8, help="status redraws after each result")
    p.add_argument("--repeats", type=int_at_least(1), default=20, help="renders of each panel alone")
    args = p.parse_args(argv)
    if args.utterances < 1:
        print("error: --utterances must be at least 1", file=sys.stderr)
        return 2
    from train.corpora import CorpusNotFoundError

    try:
        results = conversation_results(args.utterances, speakers=args.speakers)
    except CorpusNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    print(json.dumps(measure(results, width=args.width, height=args.height, status=args.status,
                             repeats=args.repeats)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
