"""Provisional estimates while the user speaks (``--partial``) and the "uncertain" display.

Reading of the acceptance line "provisional estimates within 1.2 s of the start of a 4 s
utterance" (issue 11, item 4), which the 1.5 s minimum of the same item contradicts if both
are taken from the onset: the first provisional estimate is *ready* (stream time of the end
of its snapshot plus its processing time) within 1.2 s of the speech onset (the first voiced
frame) when the minimum is set to 1 s (``--partial-min-s 1``), and within the minimum plus
0.2 s with the default minimum of 1.5 s. The replay below checks the first; the schedule test
checks the second on the same audio without the real-time wait.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from ser_live.audiofile import write_wav
from ser_live.cli import main
from ser_live.dashboard import DashboardState, render_dashboard
from ser_live.plaintext import format_plain
from ser_live.types import Prediction, Result, UncertaintyRule, Utterance
from ser_live.vad import InProgressTap, PartialConfig, Segmenter, VadConfig, segment_signal

from .test_pipeline import model, test_model_path  # noqa: F401 (fixtures)

SR = 16000
#: An EmoDB sentence of 4.4 s of speech (5.1 s as one utterance with pre-roll and hangover).
LONG_FILE = "wav/08b03Lc.flac"
LEAD_S = 1.0  # digital silence before and after it
JSONL_KEYS = {"index", "start_s", "end_s", "duration_s", "label", "confidence", "probabilities", "arousal", "valence",
              "rolling", "rolling_arousal", "rolling_valence", "processing_ms", "end_of_speech_ms",
              "kind", "wall_time"}  # every listen record: its kind, and when it was written (wall clock)


@pytest.fixture(scope="module")
def long_utterance(emodb_root: Path, corpus_session) -> np.ndarray:
    """int16: 1 s of silence, the EmoDB sentence, 1 s of silence."""
    return corpus_session(emodb_root, [LONG_FILE], gap_s=LEAD_S, pause_first=True, tail_s=LEAD_S).samples


def _feed(x: np.ndarray, seg: Segmenter, on_frame) -> list[Utterance]:
    fl = seg.frame_length
    out: list[Utterance] = []
    for i in range(0, len(x) - fl + 1, fl):
        out += seg.process_frame(x[i : i + fl], i)
        on_frame(seg)
    return out + seg.flush()


def test_snapshots_are_prefixes_of_the_final_utterance_on_schedule(long_utterance: np.ndarray) -> None:
    x = long_utterance
    vad = VadConfig()
    seg = Segmenter(vad)
    tap = InProgressTap(PartialConfig(), vad_config=vad)
    snaps: list[tuple[Utterance, int]] = []

    def on_frame(s: Segmenter) -> None:
        snap = tap(s)
        if snap is not None:
            snaps.append((snap, s.onset_sample))

    (final,) = _feed(x, seg, on_frame)
    assert final.duration_s >= 4.0
    (offline,) = segment_signal(x)  # taking snapshots changes nothing of the cutting
    assert (final.start_sample, final.end_sample) == (offline.start_sample, offline.end_sample)
    # defaults: first at 1.5 s of speech, then every 1 s while the utterance goes on
    assert len(snaps) >= 3
    onset = snaps[0][1]
    assert onset - final.start_sample == round(vad.preroll_ms / 1000 * SR)  # full pre-roll after silence
    for k, (snap, snap_onset) in enumerate(snaps):
        assert snap_onset == onset and snap.index == final.index == 0
        assert snap.start_sample == final.start_sample and snap.end_sample < final.end_sample
        np.testing.assert_array_equal(snap.samples, final.samples[: len(snap.samples)])
        speech_s = (snap.end_sample - onset) / SR
        assert abs(speech_s - (1.5 + k * 1.0)) < seg.frame_s + 1e-9, (k, speech_s)
    # the default reading: the first snapshot ends within the minimum + 0.2 s of the onset
    assert (snaps[0][0].end_sample - onset) / SR <= 1.5 + 0.2


def test_tap_waits_for_the_vad_minimum_and_validates() -> None:
    vad = VadConfig(min_utterance_s=1.0, hangover_ms=600)
    assert InProgressTap(PartialConfig(min_speech_s=0.5), vad_config=vad).first_s == pytest.approx(1.6)
    with pytest.raises(ValueError, match="--partial-interval-s"):
        PartialConfig(interval_s=0).validate()
    assert Segmenter().in_progress() is None


def test_replay_gives_provisional_lines_then_one_final(long_utterance, test_model_path, tmp_path, capsys) -> None:
    """``ser-live --input FILE --speed 1 --jsonl - --partial`` on a 4.4 s sentence."""
    path = write_wav(tmp_path / "long.wav", long_utterance)
    rc = main(["--input", str(path), "--speed", "1", "--jsonl", "-", "--partial", "--partial-min-s", "1",
               "--model", str(test_model_path)])
    out = capsys.readouterr().out
    assert rc == 0
    lines = [json.loads(s) for s in out.splitlines() if s.strip()]
    finals = [r for r in lines if r["final"]]
    prov = [r for r in lines if not r["final"]]
    assert len(finals) == 1, lines
    assert set(finals[0]) == JSONL_KEYS | {"final", "uncertain"}
    assert lines[-1] is finals[0], "provisional lines come before the final one"
    assert len(prov) >= 2, "a 4.4 s sentence gets estimates at 1, 2, 3 (and 4) s of speech"
    fin = finals[0]
    onset_s = fin["start_s"] + VadConfig().preroll_ms / 1000  # silence before: full pre-roll
    first_ready_s = prov[0]["end_s"] + prov[0]["processing_ms"] / 1000
    assert first_ready_s - onset_s <= 1.2, (prov[0], onset_s)
    for p in prov:
        assert p["index"] == fin["index"] and p["start_s"] == fin["start_s"] and p["end_s"] < fin["end_s"]
        assert p["rolling"] == {}, "provisional estimates do not update the rolling estimate"
        assert abs(sum(p["probabilities"].values()) - 1) < 1e-3
    gaps = np.diff([p["end_s"] for p in prov])
    assert np.all(gaps >= 1.0 - 0.031), gaps  # every 1 s of stream, none repeated
    assert fin["rolling"], "the final result does update it"


def test_without_partial_the_jsonl_keys_are_unchanged(long_utterance, test_model_path, tmp_path, capsys) -> None:
    path = write_wav(tmp_path / "long.wav", long_utterance)
    rc = main(["--input", str(path), "--speed", "0", "--jsonl", "-", "--model", str(test_model_path)])
    lines = [json.loads(s) for s in capsys.readouterr().out.splitlines() if s.strip()]
    assert rc == 0 and len(lines) == 1 and set(lines[0]) == JSONL_KEYS | {"uncertain"}  # "uncertain" always


# ---------------------------------------------------------------------------- uncertainty
def _prediction(probs: dict[str, float]) -> Prediction:
    top = max(probs, key=probs.__getitem__)
    return Prediction(top, probs[top], probs)


def test_uncertainty_rule() -> None:
    rule = UncertaintyRule(margin=0.05)
    assert rule.applies(_prediction({"angry": 0.40, "happy": 0.37, "sad": 0.23}))
    assert not rule.applies(_prediction({"angry": 0.50, "happy": 0.30, "sad": 0.20}))
    auto = UncertaintyRule.for_labels(4)
    assert auto.below == pytest.approx(0.375)
    assert auto.applies(_prediction({"angry": 0.36, "happy": 0.22, "sad": 0.21, "neutral": 0.21}))
    assert not UncertaintyRule(margin=0.0).applies(_prediction({"angry": 0.36, "happy": 0.22, "sad": 0.42 - 0.0}))
    with pytest.raises(ValueError, match="margin"):
        UncertaintyRule(margin=1.5).validate()


def _text(renderable, width: int) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def _result(index: int, probs: dict[str, float], *, final: bool = True, end_s: float = 3.0) -> Result:
    u = Utterance(index=index, samples=np.zeros(8, np.int16), start_sample=int((end_s - 2.5) * SR),
                  end_sample=int(end_s * SR), last_voiced_sample=int(end_s * SR), sample_rate_hz=SR)
    return Result(u, _prediction(probs), rolling={} if not final else dict(probs), final=final)


@pytest.mark.parametrize("width", [80, 120])
def test_dashboard_shows_provisional_line_and_uncertain(width: int) -> None:
    labels = ["angry", "happy", "neutral", "sad"]
    state = DashboardState(labels=labels, model_name="m", source_name="s", uncertainty=UncertaintyRule.for_labels(4))
    state.add_result(_result(0, {"angry": 0.41, "happy": 0.39, "neutral": 0.1, "sad": 0.1}))
    text = _text(render_dashboard(state), width)
    assert "uncertain" in text, text
    head = next(s for s in text.splitlines() if "#0" in s)
    assert "uncertain  -" in head and "0.41" not in head, head  # no label, so no label's probability
    row = next(s for s in text.splitlines() if re.search(r"\b0\s+\S+\s+2\.5 uncertain", s))
    assert "0.41" not in row.split("uncertain")[1], row  # nor in the timeline
    assert state.n_uncertain == 1 and state.label_counts == {}
    assert "speaking" not in text
    state.add_partial(_result(1, {"angry": 0.1, "happy": 0.1, "neutral": 0.1, "sad": 0.7}, final=False, end_s=6.0))
    text = _text(render_dashboard(state), width)
    line = next(s for s in text.splitlines() if "speaking… (provisional)" in s)
    assert "#1" in line and "sad" in line and "0.70" in line
    assert state.rolling["angry"] == pytest.approx(0.41), "a provisional estimate leaves the rolling estimate"
    assert state.n_results == 1
    state.add_result(_result(1, {"angry": 0.1, "happy": 0.1, "neutral": 0.2, "sad": 0.6}))
    text = _text(render_dashboard(state), width)
    assert "provisional" not in text and state.partial is None
    assert "sad" in text


def test_plain_lines_mark_provisional_and_uncertain() -> None:
    rule = UncertaintyRule(margin=0.05)
    line = format_plain(_result(2, {"angry": 0.41, "happy": 0.39, "sad": 0.2}, final=False), uncertainty=rule)
    assert line.startswith("~2") and line.endswith("provisional")
    assert line.split("]", 1)[1].split()[:2] == ["uncertain", "-"] and "angry" not in line  # no label claimed
    line = format_plain(_result(2, {"angry": 0.6, "happy": 0.2, "sad": 0.2}), uncertainty=rule)
    assert line.startswith("#2") and "uncertain" not in line and "provisional" not in line


def test_a_final_utterance_waiting_has_priority_over_a_snapshot(long_utterance, model, tmp_path) -> None:
    """The worker's provisional step skips a snapshot when an utterance waits for it or when
    the snapshot's utterance has closed meanwhile, and classifies it otherwise."""
    from ser_live.audio import FileSource
    from ser_live.pipeline import Recognizer

    path = write_wav(tmp_path / "long.wav", long_utterance)
    rec = Recognizer(FileSource(path, speed=0), model, partial=PartialConfig())
    (final,) = segment_signal(long_utterance)
    seg = Segmenter()
    fl = seg.frame_length
    for i in range(0, int((LEAD_S + 2.5) * SR), fl):  # 2.5 s into the file: in the sentence
        seg.process_frame(long_utterance[i : i + fl], i)
    snap = seg.in_progress()
    assert snap is not None
    rec._partial_slot = snap
    rec._utterances.put(final)  # a final result waits: the snapshot is skipped
    rec._run_partial()
    assert rec.n_provisional_skipped == 1 and rec.results.empty()
    rec._utterances.get()
    rec._partial_slot = snap
    rec._run_partial()  # idle: classified with the same model as a final result
    res = rec.results.get_nowait()
    assert not res.final and res.utterance is snap and rec.n_provisional == 1
    assert res.prediction.probabilities == model.predict_signal(snap.samples).probabilities
    rec.segmenter.n_utterances = 1  # the utterance has closed since: stale
    rec._partial_slot = snap
    rec._run_partial()
    assert rec.n_provisional_skipped == 2 and rec.results.empty()


def test_live_dashboard_redraws_only_what_changed_at_its_rates(monkeypatch) -> None:
    """Nothing shown changes -> no redraw; the status (level meter, clock in whole seconds)
    at most once a second while the segmenter hears silence, 4 times a second in speech; a provisional or final result at most 8 times a second."""
    import ser_live.dashboard as dashboard

    now = [100.0]
    monkeypatch.setattr(dashboard.time, "perf_counter", lambda: now[0])
    console = Console(file=io.StringIO(), force_terminal=True, width=120, height=40, color_system=None)
    state = DashboardState(labels=["angry", "sad"], model_name="m", source_name="s")
    status = dict(level_dbfs=-40.0, vad_state="silence", stream_s=5.2)
    with dashboard.LiveDashboard(state, console=console) as live:
        def step(dt: float, **changes) -> int:
            now[0] += dt
            before = live.n_draws
            state.set_status(**{**status, **changes})
            live.refresh()
            return live.n_draws - before

        assert step(1.0) == 1  # the first status differs from the empty one
        assert [step(1.0) for _ in range(3)] == [0, 0, 0], "unchanged: not redrawn"
        status["stream_s"] = 5.9
        assert step(1.0) == 0, "the clock shows whole seconds"
        status["stream_s"] = 6.1
        assert step(1.0) == 1
        assert step(0.1, level_dbfs=-30.0) == 0, "in silence the status at most once a second"
        assert step(0.2, level_dbfs=-30.0) == 0
        assert step(0.7, level_dbfs=-30.0) == 1
        assert step(0.1, level_dbfs=-20.0, vad_state="speech") == 0, "in speech at most 4 times a second"
        assert step(0.2, level_dbfs=-20.0, vad_state="speech") == 1
        drawn = live.n_draws
        now[0] += 0.13
        state.add_partial(_result(0, {"angry": 0.7, "sad": 0.3}, final=False))
        live.refresh()
        assert live.n_draws == drawn + 1, "a provisional estimate is drawn after 1/8 s"
        assert "speaking… (provisional)" in console.file.getvalue()
