"""Render the dashboard "screenshot" of the README: docs/dashboard.txt and docs/dashboard.svg.

The demo session (ser_live/data/demo.wav) is replayed in real time through the live
recogniser (:class:`ser_live.pipeline.Recognizer`, the shipped model, one session) and its
results are given to the dashboard as ``ser-live --input`` gives them: the same uncertainty
rule (``--uncertain-below auto``), session revision of the timeline and rolling estimate,
measured latencies and the recogniser's own status after the last utterance shown.

Usage (from the repository root; takes about as long as the utterances shown last)::

    .venv/bin/python docs/make_dashboard_screenshot.py [--model PATH] [--utterances 6] [--width 100]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

from rich.console import Console

from ser_live.audio import FileSource
from ser_live.dashboard import DashboardState, render_dashboard
from ser_live.model import EmotionModel
from ser_live.pipeline import Recognizer
from ser_live.types import UncertaintyRule

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "ser_live" / "data" / "demo.wav"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="model file (default: the shipped one)")
    ap.add_argument("--utterances", type=int, default=6, help="results to show (default 6; the demo holds 8)")
    ap.add_argument("--width", type=int, default=100, help="terminal width in characters (default 100)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for dashboard.txt and .svg")
    args = ap.parse_args()

    model = EmotionModel.load(args.model)
    rec = Recognizer(FileSource(str(DEMO), speed=1.0), model)
    state = DashboardState(labels=model.labels, model_name=model.name, source_name=DEMO.name,
                           session_norm=None if model.new_session() is None else True,
                           uncertainty=UncertaintyRule.for_labels(len(model.labels)))
    rec.start()
    try:
        while state.n_results < args.utterances and not rec.finished:
            result = rec.get_result(timeout_s=0.1)
            if result is not None and result.final:
                state.add_result(result)
        time.sleep(0.3)  # the status a moment after the last result, as the dashboard shows it
        state.set_status(rec.status())
    finally:
        rec.stop()

    console = Console(record=True, width=args.width, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print(render_dashboard(state))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dashboard.txt").write_text(console.export_text(clear=False), encoding="utf-8")
    console.save_svg(str(args.out / "dashboard.svg"), title="ser-live")
    print(f"wrote {args.out}/dashboard.txt and dashboard.svg ({model.name}, {state.n_results} utterances)")


if __name__ == "__main__":
    main()
