"""Render the dashboard "screenshot" of the README: docs/dashboard.txt and docs/dashboard.svg.

The demo session (ser_live/data/demo.wav) is cut by the live segmenter and its first
utterances are classified by the shipped model, as the recogniser would (one session,
running statistics); the rolling estimate
is the pipeline's. Processing latencies are the model's measured times on this machine
(features + classifier, after a warm-up); end-of-speech latencies add the hangover that follows
the last voiced frame. The input status is the level of the audio just after the last
utterance shown.

Usage (from the repository root)::

    .venv/bin/python docs/make_dashboard_screenshot.py [--model PATH] [--utterances 6] [--width 100]
"""

from __future__ import annotations

import argparse
import io
import time
from pathlib import Path

import numpy as np
from rich.console import Console

from ser_live.audiofile import load_audio, to_int16
from ser_live.dashboard import DashboardState, render_dashboard
from ser_live.model import EmotionModel
from ser_live.offline import classify_utterance
from ser_live.rolling import RollingEstimate
from ser_live.types import Result
from ser_live.vad import segment_signal

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "ser_live" / "data" / "demo.wav"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=None, help="model file (default: the shipped one)")
    ap.add_argument("--utterances", type=int, default=6)
    ap.add_argument("--width", type=int, default=100)
    ap.add_argument("--out", type=Path, default=ROOT / "docs")
    args = ap.parse_args()

    model = EmotionModel.load(args.model)
    y = load_audio(DEMO)
    sr = model.feature_config.sample_rate_hz
    utterances = segment_signal(y)[: args.utterances]
    model.predict_signal(utterances[0].samples)  # warm-up (numba compilation)

    session = model.new_session()  # the run is one session, as in the live recogniser
    state = DashboardState(labels=model.labels, model_name=model.name, source_name=DEMO.name,
                           session_norm=None if session is None else True)
    rolling = RollingEstimate(model.labels)
    for u in utterances:
        t0 = time.perf_counter()
        pred, n_session, _features = classify_utterance(model, u.samples, session)
        processing_ms = (time.perf_counter() - t0) * 1000.0
        hangover_ms = (u.end_sample - u.last_voiced_sample) / u.sample_rate_hz * 1000.0
        result = Result(
            utterance=u,
            prediction=pred,
            processing_ms=processing_ms,
            end_of_speech_ms=hangover_ms + processing_ms,
            session_utterances=n_session,
        )
        result.rolling = dict(rolling.update(result))
        state.add_result(result)

    end = utterances[-1].end_sample
    frame = to_int16(y[end : end + sr * 30 // 1000]).astype(np.float64)
    level_dbfs = 10 * np.log10(max(np.mean(frame**2) / 32768.0**2, 1e-10))
    state.set_status(
        level_dbfs=level_dbfs,
        vad_state="silence",
        stream_s=end / sr + 0.3,
        dropped_samples=0,
        dropped_s=0.0,
        input_overflows=0,
        dropped_short=0,
    )

    console = Console(record=True, width=args.width, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    console.print(render_dashboard(state))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dashboard.txt").write_text(console.export_text(clear=False), encoding="utf-8")
    console.save_svg(str(args.out / "dashboard.svg"), title="ser-live")
    print(f"wrote {args.out}/dashboard.txt and dashboard.svg ({model.name}, {len(utterances)} utterances)")


if __name__ == "__main__":
    main()
