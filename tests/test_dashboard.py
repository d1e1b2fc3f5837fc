"""Outputs (ser_live.dashboard) on real utterances: RAVDESS files joined by silence, cut by the
live segmenter, given plausible probabilities; rendered by rich at 60, 100 and 160 columns.

Probabilities are not the model's (its labels and scores change as it is retrained): each
utterance's distribution mixes the file's true emotion with the utterance's own spectral
band energies, so it is plausible, varies, and is deterministic.
"""

from __future__ import annotations

import io
import math
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from ser_live.dashboard import (
    BAR_EMPTY,
    BAR_FULL,
    EMOTION_COLORS,
    DashboardState,
    LiveDashboard,
    emotion_color,
    render_dashboard,
)
from ser_live.plaintext import format_plain, format_summary, json_line
from ser_live.types import Prediction, RecognizerStatus, Result, RunSummary, latency_stats
from ser_live.vad import segment_signal

SR = 16000
LABELS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"]
# (file, true emotion); RAVDESS emotion code EE: 01 neutral ... 08 surprised
SESSION_FILES = [
    "Actor_01/03-01-05-02-01-01-01.flac",  # angry
    "Actor_02/03-01-04-02-02-02-02.flac",  # sad
    "Actor_03/03-01-03-02-01-01-03.flac",  # happy
    "Actor_04/03-01-05-01-02-01-04.flac",  # angry
    "Actor_05/03-01-06-02-01-02-05.flac",  # fearful
    "Actor_06/03-01-01-01-02-01-06.flac",  # neutral
]
JSONL_KEYS = {
    "index", "start_s", "end_s", "duration_s", "label", "confidence",
    "probabilities", "arousal", "valence", "rolling", "rolling_arousal", "rolling_valence",
    "processing_ms", "end_of_speech_ms",
}  # fmt: skip
WIDTHS = (60, 100, 160)
HALF_LIFE_S = 20.0


def _emotion_of(rel: str) -> str:
    return LABELS[int(Path(rel).name.split("-")[2]) - 1]


def _plausible_probabilities(samples: np.ndarray, true_label: str) -> dict[str, float]:
    """Mix of the true label (weight 0.45) and a softmax of 8 log band energies of the audio."""
    y = samples.astype(np.float64) / 32768.0
    spec = np.abs(np.fft.rfft(y)) ** 2
    edges = np.geomspace(4, len(spec) - 1, len(LABELS) + 1).astype(int)
    bands = np.log10([spec[a:b].sum() + 1e-12 for a, b in zip(edges[:-1], edges[1:])])
    z = (bands - bands.mean()) / (bands.std() + 1e-9)
    soft = np.exp(z) / np.exp(z).sum()
    p = 0.55 * soft
    p[LABELS.index(true_label)] += 0.45
    return {lab: float(v) for lab, v in zip(LABELS, p / p.sum())}


def _rolling(results: list[Result], prediction: Prediction, end_s: float, duration_s: float) -> dict[str, float]:
    """Recency-, duration- and confidence-weighted average, half-life HALF_LIFE_S."""
    items = [(r.prediction, r.utterance.end_s, r.utterance.duration_s) for r in results]
    items.append((prediction, end_s, duration_s))
    acc = dict.fromkeys(LABELS, 0.0)
    total = 0.0
    for pred, t, d in items:
        w = d * pred.confidence * 0.5 ** ((end_s - t) / HALF_LIFE_S)
        total += w
        for lab in LABELS:
            acc[lab] += w * pred.probabilities[lab]
    return {lab: v / total for lab, v in acc.items()}


@pytest.fixture(scope="module")
def results(ravdess_root: Path, corpus_session) -> list[Result]:
    """Results for the utterances the segmenter finds in 6 RAVDESS files joined by 1 s gaps."""
    built = corpus_session(ravdess_root, SESSION_FILES, gap_s=1.0)
    spans = [(a, b, _emotion_of(rel)) for (a, b), rel in zip(built.spans, SESSION_FILES)]
    utterances = segment_signal(built.samples)
    assert len(utterances) >= 4, "the segmenter should find the RAVDESS sentences"
    out: list[Result] = []
    for k, u in enumerate(utterances):
        mid = (u.start_sample + u.end_sample) // 2
        true = next(lab for a, b, lab in spans if a - SR // 2 <= mid < b + SR // 2)
        probs = _plausible_probabilities(u.samples, true)
        label = max(probs, key=probs.__getitem__)
        pred = Prediction(label=label, confidence=probs[label], probabilities=probs)
        processing_ms = 3.0 + 2.5 * ((7 * k) % 5) + u.duration_s  # a plausible spread, ms
        hangover_ms = (u.end_sample - u.last_voiced_sample) / SR * 1000.0
        out.append(
            Result(
                utterance=u,
                prediction=pred,
                rolling=_rolling(out, pred, u.end_s, u.duration_s),
                processing_ms=processing_ms,
                end_of_speech_ms=hangover_ms + processing_ms,
            )
        )
    return out


def _state(results: list[Result], *, history: int = 12) -> DashboardState:
    state = DashboardState(labels=LABELS, model_name="test-model", source_name="session.wav", history=history)
    for r in results:
        state.add_result(r)
    state.set_status(
        level_dbfs=-23.4,
        vad_state="speech",
        stream_s=results[-1].utterance.end_s + 0.4,
        dropped_samples=4800,
        dropped_s=0.3,
        input_overflows=2,
        dropped_short=3,
    )
    return state


def _text(renderable, width: int) -> str:
    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(renderable)
    return console.export_text()


def _assert_fits(text: str, width: int) -> None:
    for line in text.splitlines():
        assert len(line) <= width, f"line wider than {width}: {line!r}"


def _circumplex(p: dict[str, float]) -> tuple[float, float]:
    """Arousal and valence of RAVDESS's eight labels written out by hand (Russell 1980, as
    ser_live/affect.py states it): a check of the mapping, not a second use of it."""
    arousal = p["angry"] + p["happy"] + p["fearful"] + p["surprised"] - p["neutral"] - p["sad"] - p["calm"]
    valence = p["happy"] + p["calm"] - p["angry"] - p["sad"] - p["fearful"] - p["disgust"]
    return arousal, valence


# ---------------------------------------------------------------------------- dashboard
@pytest.mark.parametrize("width", WIDTHS)
def test_placeholder_before_any_utterance(width: int) -> None:
    state = DashboardState(labels=LABELS, model_name="test-model", source_name="mic: default")
    state.set_status(
        level_dbfs=-47.5, vad_state="silence", stream_s=1.2,
        dropped_samples=0, dropped_s=0.0, input_overflows=0, dropped_short=0,
    )  # fmt: skip
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    assert "listening…" in text
    assert "no utterance yet" in text
    for lab in LABELS:
        assert lab in text
    assert "test-model" in text and "mic: default" in text
    assert "-47.5 dBFS" in text
    assert "silence" in text
    assert BAR_FULL not in text.split("input")[0], "no probability bar is filled before a result"


@pytest.mark.parametrize("width", WIDTHS)
def test_dashboard_shows_everything(results: list[Result], width: int) -> None:
    state = _state(results)
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    assert "listening…" not in text
    for lab in LABELS:
        assert lab in text
    last = results[-1]
    assert f"#{last.utterance.index}" in text
    assert re.search(rf"{last.label}\s+{last.confidence:.2f}", text)
    assert BAR_FULL in text and BAR_EMPTY in text
    assert "rolling" in text
    # the rolling column shows the top rolling probability
    top_roll = max(last.rolling.values())
    assert f"{top_roll:.2f}" in text
    assert "-23.4 dBFS" in text
    assert "speech" in text
    proc = [r.processing_ms for r in results]
    eos = [r.end_of_speech_ms for r in results]
    for values in (proc, eos):
        p50, p95 = np.percentile(values, [50, 95])
        assert re.search(rf"{values[-1]:.1f}\s+{p50:.1f}\s+{p95:.1f}", text), "latency last/p50/p95"
    assert "4800 samples (0.300 s)" in text
    assert "2 overflows" in text and "3 short bursts" in text
    # timeline: the newest utterance with its span, every kept one with its index
    assert f"{last.utterance.start_s:.2f}–{last.utterance.end_s:.2f}" in text
    assert f"timeline · last {len(results)} of {len(results)}" in text


def _bar_rows(text: str, labels: list[str]) -> dict[str, tuple[str, str]]:
    """label -> (utterance bar, rolling bar) from the emotion panel's rows."""
    rows = {}
    for line in text.splitlines():
        tokens = line.replace("│", " ").split()
        if len(tokens) >= 5 and tokens[0] in labels and tokens[0] not in rows:
            if set(tokens[1]) <= set(BAR_FULL + BAR_EMPTY + " ▏▎▍▌▋▊▉"):
                rows[tokens[0]] = (tokens[1], tokens[3])
    return rows


@pytest.mark.parametrize("width", WIDTHS)
def test_bars_follow_probabilities(results: list[Result], width: int) -> None:
    last = results[-1]
    text = _text(render_dashboard(_state(results)), width)
    rows = _bar_rows(text, LABELS)
    assert set(rows) == set(LABELS), "one bar row per label of the model"
    for which, probs in ((0, last.prediction.probabilities), (1, last.rolling)):
        ordered = sorted(LABELS, key=probs.__getitem__)
        filled = [rows[lab][which].count(BAR_FULL) for lab in ordered]
        assert filled == sorted(filled), f"bar lengths must grow with probability: {filled}"
        bar_w = len(rows[ordered[-1]][which])
        top = probs[ordered[-1]]
        assert abs(filled[-1] - top * bar_w) <= 1, "the top bar's length is its probability"
    # rows appear in model order
    order = [lab for line in text.splitlines() for lab in LABELS if line.replace("│", " ").split()[:1] == [lab]]
    assert order[: len(LABELS)] == LABELS


@pytest.mark.parametrize("width", (60, 80, 100, 160))
def test_rolling_arousal_and_valence_in_the_emotion_panels_edge(results: list[Result], width: int) -> None:
    """Issue 25: the rolling estimate's arousal and valence in the emotion panel's bottom edge
    (no extra line: an 80x24 terminal keeps its layout), as signed bars when there is room;
    a timeline 54 columns wide or more has each utterance's values."""
    state = _state(results)
    text = _text(render_dashboard(state, max_height=24 if width == 80 else None), width)
    _assert_fits(text, width)
    arousal, valence = _circumplex(state.rolling)
    (edge,) = [ln for ln in text.splitlines() if "arousal" in ln]
    assert edge.lstrip().startswith("╰─") and f"arousal {arousal:+.2f}" in edge and f"valence {valence:+.2f}" in edge
    assert ("rolling arousal" in edge) == (width >= 60)
    if width >= 100:  # signed bars: filled cells on the side of the sign, as many as |value| x cells
        bars = re.findall(rf"([{BAR_FULL}{BAR_EMPTY}]+)│([{BAR_FULL}{BAR_EMPTY}]+)", edge)
        assert len(bars) == 2
        for (left, right), v in zip(bars, (arousal, valence)):
            cells = len(right)
            assert left.count(BAR_FULL) == (round(abs(v) * cells) if v < 0 else 0)
            assert right.count(BAR_FULL) == (round(abs(v) * cells) if v > 0 else 0)
            assert left.endswith(BAR_FULL) or BAR_FULL not in left  # filled from the centre out
    right = [ln.split("││")[-1] if "││" in ln else ln for ln in text.splitlines()]
    timeline = right[next(i for i, ln in enumerate(right) if "time s" in ln):]  # from its column header
    timeline_w = width if width < 80 else width - width * 11 // 20  # stacked below 80 columns
    if timeline_w >= 54:  # 60 (stacked) and 160 columns
        assert re.search(r"aro\s+val", timeline[0])
        for r in results:
            a, v = _circumplex(r.prediction.probabilities)
            u = r.utterance
            row = next(ln for ln in timeline if f"{u.start_s:.2f}–{u.end_s:.2f}" in ln and "│" in ln)
            assert f"{a:+.2f} {v:+.2f}" in row, row
    else:
        assert not any(re.search(r"aro\s+val", ln) for ln in timeline)


def test_no_arousal_before_a_rolling_estimate_or_for_labels_off_the_circumplex(results: list[Result]) -> None:
    empty = DashboardState(labels=LABELS, model_name="m", source_name="s")
    assert "arousal" not in _text(render_dashboard(empty), 100)
    r = results[0]
    probs = {"other": 0.6, "angry": 0.4}
    state = DashboardState(labels=["other", "angry"], model_name="m", source_name="s")
    state.add_result(Result(r.utterance, Prediction("other", 0.6, probs), rolling=dict(probs)))
    text = _text(render_dashboard(state), 160)
    assert "other" in text and "arousal" not in text and not re.search(r"aro\s+val", text)


def test_latency_figures_are_percentiles_of_the_results(results: list[Result]) -> None:
    state = _state(results)
    for kind, values in (
        ("processing", [r.processing_ms for r in results]),
        ("end_of_speech", [r.end_of_speech_ms for r in results]),
    ):
        stats = state.latency(kind)
        assert stats["last"] == pytest.approx(values[-1])
        assert stats["p50"] == pytest.approx(float(np.percentile(values, 50)))
        assert stats["p95"] == pytest.approx(float(np.percentile(values, 95)))
    assert DashboardState(labels=LABELS, model_name="m", source_name="s").latency("processing") == {}
    with pytest.raises(ValueError):
        state.latency("total")


def test_history_keeps_the_last_utterances(results: list[Result]) -> None:
    state = _state(results, history=3)
    assert [r.utterance.index for r in state.results] == [r.utterance.index for r in results[-3:]]
    assert state.n_results == len(results)
    text = _text(render_dashboard(state), 100)
    assert f"timeline · last 3 of {len(results)}" in text
    first = results[0].utterance
    assert f"{first.start_s:.2f}–{first.end_s:.2f}" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_timeline_fits_a_short_terminal(results: list[Result], width: int) -> None:
    height = 30
    text = _text(render_dashboard(_state(results), max_height=height), width)
    _assert_fits(text, width)
    assert len(text.rstrip("\n").splitlines()) <= height
    last = results[-1].utterance
    assert f"{last.start_s:.2f}–{last.end_s:.2f}" in text, "the newest utterance stays visible"


@pytest.mark.parametrize("width,height", [(40, 19), (100, 19)])
def test_a_short_terminal_keeps_the_input_level_and_the_alert_on_screen(results: list[Result], width: int,
                                                                          height: int) -> None:
    """In a terminal too short for the whole input panel, the panel keeps the level, the VAD
    state and the alert (the latency table and the zero "dropped" rows give way), so a live
    view, which cuts what is below the terminal's last line, still says whether the
    microphone is heard; a tall terminal keeps every row."""
    state = _state(results)
    state.set_status(dropped_samples=0, dropped_s=0.0, input_overflows=0, alert="microphone went silent")
    short = _text(render_dashboard(state, max_height=height), width).rstrip("\n").splitlines()
    on_screen = "\n".join(short[:height])
    for shown in ("-23.4 dBFS", "speech", "microphone went silent"):
        assert shown in on_screen, (shown, on_screen)
    assert "latency ms" not in on_screen and "0 samples" not in on_screen
    tall = _text(render_dashboard(state, max_height=60), width)
    assert "latency ms" in tall and "0 samples" in tall and "microphone went silent" in tall
    state.set_status(dropped_samples=4800, dropped_s=0.3)  # something lost: said even when short
    assert "4800 samples" in "\n".join(_text(render_dashboard(state, max_height=height), width).splitlines()[:height])


def test_set_status_keeps_what_is_not_given(results: list[Result]) -> None:
    state = _state(results)
    state.set_status(level_dbfs=-12.0)
    assert (state.vad_state, state.dropped_samples, state.dropped_short) == ("speech", 4800, 3)
    assert "-12.0 dBFS" in _text(render_dashboard(state), 100)


def test_unknown_label_and_narrow_terminal(results: list[Result]) -> None:
    r = results[0]
    probs = {"other": 0.6, **{lab: 0.4 / len(LABELS) for lab in LABELS}}
    odd = Result(r.utterance, Prediction("other", 0.6, probs), rolling={}, processing_ms=1.0, end_of_speech_ms=2.0)
    state = _state(results)
    state.add_result(odd)
    for width in (24, 40, 60):
        text = _text(render_dashboard(state), width)
        _assert_fits(text, width)
    assert "other" in _text(render_dashboard(state), 100)


def test_emotion_colours() -> None:
    canonical = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised", "boredom"]
    assert set(EMOTION_COLORS) == set(canonical)
    colours = [emotion_color(lab) for lab in canonical]
    assert len(set(colours)) == len(canonical), "one colour per canonical label"
    assert emotion_color("fear") == emotion_color("fearful")
    assert emotion_color("pleasant_surprise") == emotion_color("surprised")
    assert emotion_color("Anger") == emotion_color("angry")
    unknown = emotion_color("contempt")
    assert unknown not in colours and unknown == emotion_color("contempt")


def test_live_dashboard_draws_and_limits_its_rate(results: list[Result]) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, height=40, color_system=None)
    state = DashboardState(labels=LABELS, model_name="test-model", source_name="session.wav")
    with LiveDashboard(state, console=console, refresh_per_second=1e-3) as live:  # at most 1 per 1000 s
        first = out.getvalue()
        assert "listening…" in first
        state.add_result(results[0])
        live.refresh()  # too soon: nothing drawn
        assert out.getvalue() == first
        live.refresh(force=True)
        drawn = out.getvalue()[len(first) :]
        assert results[0].label in drawn and "listening…" not in drawn
        for r in results[1:]:
            state.add_result(r)
    final = out.getvalue()
    assert f"#{results[-1].utterance.index}" in final, "the last frame is drawn on exit"


def test_live_dashboard_draws_on_stdout_whatever_richs_global_console(results: list[Result], monkeypatch) -> None:
    """Without a console the dashboard draws on stdout, as documented, even after something
    in the process (``python -m train``'s main, a user's program) pointed rich's global
    console at stderr: it drew on stderr, so ``ser-live`` after ``train`` in one process
    showed nothing on stdout."""
    import rich

    monkeypatch.setattr(rich, "_console", None)  # a fresh global console, dropped after the test
    rich.reconfigure(stderr=True)
    out, err = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    monkeypatch.setattr("sys.stderr", err)
    state = DashboardState(labels=LABELS, model_name="test-model", source_name="session.wav")
    with LiveDashboard(state):
        state.add_result(results[0])
    assert results[0].label in out.getvalue() and err.getvalue() == ""


def test_live_dashboard_redraws_status_less_often_in_silence(results: list[Result]) -> None:
    """A status change (the level meter) is drawn at ``status_per_second`` during speech and
    at ``idle_per_second`` while the segmenter hears silence; a result at once."""
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100, height=40, color_system=None)
    state = DashboardState(labels=LABELS, model_name="test-model", source_name="session.wav")
    with LiveDashboard(state, console=console, refresh_per_second=1e9, status_per_second=1e9,
                       idle_per_second=1e-3) as live:
        n0 = live.n_draws
        state.set_status(RecognizerStatus(level_dbfs=-50.0, stream_s=1.0, vad_state="silence"))
        live.refresh()
        assert live.n_draws == n0, "a silent room's level change waits for the idle rate"
        state.set_status(RecognizerStatus(level_dbfs=-20.0, stream_s=1.0, vad_state="speech"))
        live.refresh()
        assert live.n_draws == n0 + 1, "speech: the status rate"
        state.set_status(RecognizerStatus(level_dbfs=-45.0, stream_s=1.0, vad_state="silence"))
        live.refresh()
        assert live.n_draws == n0 + 1
        state.add_result(results[0])
        live.refresh()
        assert live.n_draws == n0 + 2, "a result is drawn in silence too"
    with pytest.raises(ValueError, match="idle_per_second"):
        LiveDashboard(state, console=console, idle_per_second=0)


# ---------------------------------------------------------------------------- text outputs
def test_format_plain(results: list[Result]) -> None:
    for r in results:
        line = format_plain(r)
        u = r.utterance
        assert "\n" not in line
        assert f"{u.start_s:.2f}" in line and f"{u.end_s:.2f}" in line
        assert f"{r.label} " in line and f"{r.confidence:.2f}" in line
        top = max(r.rolling, key=r.rolling.__getitem__)
        assert f"(rolling: {top} {r.rolling[top]:.2f})" in line
        assert f"proc {r.processing_ms:.1f} ms" in line and f"eos {r.end_of_speech_ms:.1f} ms" in line
        a, v = _circumplex(r.prediction.probabilities)
        assert f"{r.confidence:.2f}  arousal {a:+.2f} valence {v:+.2f}  (rolling" in line
    bare = Result(results[0].utterance, results[0].prediction)
    assert "rolling" not in format_plain(bare)
    odd = Result(results[0].utterance, Prediction("other", 0.6, {"other": 0.6, "angry": 0.4}))
    assert "arousal" not in format_plain(odd) and "other" in format_plain(odd)


def test_json_line_has_exactly_the_issue_keys(results: list[Result]) -> None:
    for r in results:
        line = json_line(r)
        assert "\n" not in line and ", " not in line, "compact, one line"
        record = json.loads(line)
        assert set(record) == JSONL_KEYS
        assert list(record.items()) == list(r.to_json().items())  # the record's own key order, too
        assert record["label"] == r.label
        # arousal and valence read off the unrounded probabilities, rounded like them
        for prefix, p in (("", r.prediction.probabilities), ("rolling_", r.rolling)):
            a, v = _circumplex(p)
            assert record[prefix + "arousal"] == pytest.approx(a, abs=5.1e-5)
            assert record[prefix + "valence"] == pytest.approx(v, abs=5.1e-5)
        assert (r.arousal, r.valence) == pytest.approx(_circumplex(r.prediction.probabilities), abs=1e-12)
        assert set(record["probabilities"]) == set(LABELS)
        assert record["duration_s"] == pytest.approx(r.utterance.duration_s, abs=1e-3)


def test_format_summary_reports_percentiles_of_the_run(results: list[Result]) -> None:
    proc = np.array([r.processing_ms for r in results])
    eos = np.array([r.end_of_speech_ms for r in results])
    counts: dict[str, int] = {}
    for r in results:
        counts[r.label] = counts.get(r.label, 0) + 1

    summary = RunSummary(
        n_utterances=len(results),
        label_counts=counts,
        processing_ms=latency_stats(proc),
        end_of_speech_ms=latency_stats(eos),
        audio_s=results[-1].utterance.end_s + 0.5,
        dropped_samples=4800,
        dropped_s=0.3,
        input_overflows=2,
        dropped_short=3,
        rolling=results[-1].rolling,
    )
    text = format_summary(summary)
    lines = text.splitlines()
    assert re.search(rf"utterances\s+{len(results)}$", text, re.M)
    label_line = next(line for line in lines if line.strip().startswith("labels"))
    for lab, n in counts.items():
        assert f"{lab} {n}" in label_line
    for name, a in (("processing", proc), ("end of speech", eos)):
        line = next(line for line in lines if line.strip().startswith(name))
        p50, p95 = np.percentile(a, [50, 95])
        assert f"p50 {p50:.1f} ms" in line and f"p95 {p95:.1f} ms" in line and f"max {a.max():.1f} ms" in line
    assert f"{summary.audio_s:.1f} s" in text
    assert "4800 samples (0.300 s)" in text
    assert re.search(r"input overflows\s+2$", text, re.M)
    assert re.search(r"short bursts dropped\s+3$", text, re.M)
    top = max(summary.rolling, key=summary.rolling.__getitem__)
    assert f"{top} {summary.rolling[top]:.2f}" in next(line for line in lines if "rolling" in line)
    a, v = _circumplex(summary.rolling)
    assert re.search(rf"rolling affect\s+{re.escape(f'arousal {a:+.2f}, valence {v:+.2f}')}$", text, re.M)
    empty = format_summary(RunSummary())
    assert "n/a" in empty and re.search(r"utterances\s+0$", empty, re.M)


def test_status_shows_noise_floor_and_warns_on_clipping_and_quiet_speech(results: list[Result]) -> None:
    from ser_live.dashboard import CLIPPED_WARN_FRACTION, QUIET_SPEECH_DBFS

    state = _state(results)
    state.set_status(noise_floor_dbfs=-47.3, clipped_fraction=0.0, speech_level_dbfs=-30.0)
    text = _text(render_dashboard(state), 120)
    assert "floor -47 dBFS" in text and "clipped" not in text and "too quiet" not in text
    state.set_status(clipped_fraction=2 * CLIPPED_WARN_FRACTION, speech_level_dbfs=QUIET_SPEECH_DBFS - 5)
    text = _text(render_dashboard(state), 120)
    assert "clipped: 0.2 % of samples at full scale" in text
    assert f"too quiet: speech at {QUIET_SPEECH_DBFS - 5:.0f} dBFS" in text


def _message_lines(text: str, label: str) -> str:
    """The text of a message in the input panel: from its ``label`` line to the next labelled
    line, the panel borders and the label column taken off, joined by spaces."""
    lines = [ln.strip().strip("│").strip() for ln in text.splitlines()]
    out, on = [], False
    for ln in lines:
        body = ln[len(label):].strip() if ln.startswith(label) else ln
        if ln.startswith(label):
            on = True
        elif on and (not ln or re.match(r"^(latency|VAD|input|dropped|warning|alert)\b", ln) or "╰" in ln):
            break
        if on:
            out.append(body)
    return " ".join(out)


@pytest.mark.parametrize("width", (80, 160))
@pytest.mark.parametrize("noise_branch", (False, True))
def test_messages_fit_the_width_without_cutting_a_word(results: list[Result], width: int, noise_branch: bool) -> None:
    """The "noisy room" warning and an alert are shown whole at 80 and 160 columns, wrapped at
    word boundaries (before issue 24 the warning was cut mid-word at 160)."""
    state = _state(results)
    state.noise_branch = noise_branch
    alert = "the microphone stopped delivering audio for 5 s; check that it is plugged in and not muted"
    state.set_status(noise_floor_dbfs=-40.0, speech_level_dbfs=-33.0, alert=alert)
    (warning,) = [w for w in state.input_warnings() if w.startswith("noisy room")]
    text = _text(render_dashboard(state, max_height=40), width)
    _assert_fits(text, width)
    assert _message_lines(text, "warning") == warning
    assert _message_lines(text, "alert") == alert


@pytest.mark.parametrize("width", (80, 160))
def test_80_columns_keep_the_timeline_and_a_one_line_header(results: list[Result], width: int) -> None:
    state = _state(results)
    state.session_norm = True
    state.profile = "anna (12 utt.)"
    text = _text(render_dashboard(state, max_height=24), width)
    _assert_fits(text, width)
    lines = text.rstrip("\n").splitlines()
    assert len(lines) <= 24
    assert "test-model" in lines[0] and "anna (12 utt.)" in lines[0] and "╭" in lines[1]  # one header line
    assert "timeline · last" in text
    right = [ln.split("││")[-1] for ln in lines if "││" in ln]  # the timeline, right of the emotion panel
    head = next(i for i, ln in enumerate(right) if "time s" in ln)
    newest = results[-1].utterance
    assert right[head + 1].strip("│ ").split()[:2] == [str(newest.index), f"{newest.start_s:.2f}–{newest.end_s:.2f}"
                                                        if width >= 100 else f"{newest.start_s:.1f}"]


def test_summary_counts_uncertain_apart_from_the_labels() -> None:
    summary = RunSummary(n_utterances=5, label_counts={"angry": 3, "sad": 2})
    text = format_summary(summary, uncertain={"angry": 1, "sad": 2})
    assert re.search(r"labels\s+angry 2$", text, re.M)  # sad's two were both uncertain
    assert re.search(r"uncertain\s+3$", text, re.M) and re.search(r"utterances\s+5$", text, re.M)
    assert "uncertain" not in format_summary(summary)  # without a rule: no line
    assert re.search(r"uncertain\s+0$", format_summary(summary, uncertain={}), re.M)


@pytest.mark.parametrize(("n_session", "shown"), ((2, "learning your voice: 2 of 5"), (7, "7 utt.")))
def test_header_says_when_the_session_is_still_learning_the_voice(results: list[Result], n_session: int,
                                                                  shown: str) -> None:
    """Until the session normaliser has seen 5 utterances the header says the voice is still
    being learnt (issue 20: live loses to offline on a session's first utterances); after, it
    counts the utterances. At 80 columns the short form stays on one line."""
    import dataclasses

    state = _state(results)
    state.session_norm = True
    state.current = dataclasses.replace(state.current, session_utterances=n_session)
    first = _text(render_dashboard(state, max_height=24), 160).splitlines()[0]
    assert shown in first
    assert ("learning" in first) == (n_session < 5)
    first80 = _text(render_dashboard(state, max_height=24), 80).splitlines()[0]
    assert (f"learning {n_session}/5" in first80) == (n_session < 5)


@pytest.mark.parametrize("width", WIDTHS)
def test_level_and_clock_redrawn_in_place_equal_a_full_render(results: list[Result], width: int,
                                                               monkeypatch) -> None:
    """A status change of the level and the clock alone redraws those cells into the kept
    status lines: the same segments as a fresh render, for levels across the meter's zones
    (and digital silence), clocks of the same and of another width, and after other changes."""
    from ser_live import dashboard
    from ser_live.dashboard import DashboardView

    renders = []
    full_render = dashboard._status_panel
    monkeypatch.setattr(dashboard, "_status_panel", lambda st, **kw: renders.append(1) or full_render(st, **kw))
    state = _state(results)
    kept = DashboardView(state, max_height=40)
    console = Console(width=width, height=40, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    options = console.options.update(width=width)
    steps = [(-59.3, 12.2), (-30.0, 12.9), (-17.9, 13.1), (-6.2, 14.0), (-0.1, 59.5), (-math.inf, 60.2),
             (-45.5, 61.0), (-12.0, 61.9), (-3.0, 600.5), (-44.4, 601.0)]
    for k, (level, stream_s) in enumerate(steps):
        state.set_status(level_dbfs=level, stream_s=stream_s, vad_state="speech" if k % 4 else "silence")
        if k == 7:
            state.set_status(dropped_samples=9600, dropped_s=0.6)
        n = len(renders)
        got = console.render_lines(kept, options)
        kept_renders = len(renders) - n
        assert got == console.render_lines(DashboardView(state, max_height=40), options), (level, stream_s)
        if k in (2, 3, 6):  # only the level and the clock (of the same width) changed
            assert kept_renders == 0, k


def _cells(lines) -> list[list[tuple]]:
    """Each character of rendered lines with what a terminal shows of it: the character, its
    style (a space: only its background)."""
    from rich.style import Style

    out = []
    for line in lines:
        row = []
        for seg in line:
            style = seg.style or Style.null()
            row += [(ch, None if ch == " " else style, style.bgcolor) for ch in seg.text]
        out.append(row)
    return out


@pytest.mark.parametrize("width", [30, 36, 40, 54, 66])
def test_timeline_lines_equal_richs_table(results: list[Result], width: int) -> None:
    """The timeline is drawn without rich's table (``LineTable``), but shows exactly what
    rich's table of the same cells shows: every character in the same style, with speakers,
    an uncertain utterance, arousal/valence columns or none, rows of another width; where
    the cells do not fit, rich's table itself draws them."""
    from dataclasses import replace as dc_replace

    from ser_live.dashboard import _timeline_panel
    from ser_live.widgets import LineTable

    shaken = [dc_replace(r, speaker="AB"[k % 2] if k > 1 else None) for k, r in enumerate(results)]
    low = dc_replace(shaken[-1].prediction, confidence=0.2)  # below the uncertainty rule
    shaken[-1] = dc_replace(shaken[-1], prediction=low)
    console = Console(width=120, height=40, file=io.StringIO(), force_terminal=True, color_system="truecolor")
    quick = 0
    for state in (_state(results), _state(shaken), _state(shaken[:2])):
        for rows in (None, 2):
            table = _timeline_panel(state, width=width, max_rows=rows).renderable
            assert isinstance(table, LineTable)
            options = console.options.update(width=width - 4)  # the panel's borders and padding
            quick += table._widths(width - 4) is not None
            mine = _cells(console.render_lines(table, options, pad=True))
            assert mine == _cells(console.render_lines(table.rich_table(), options, pad=True)), (width, rows)
    # at 30 columns two speakers' labels no longer fit: rich's table draws those (the fallback)
    assert quick == (4 if width == 30 else 6), quick


@pytest.mark.parametrize("width", [30, 40, 80, 100])
def test_every_speakers_estimate_stays_on_screen_when_narrow(results: list[Result], width: int) -> None:
    """``--speakers``: the emotion panel names each speaker's own rolling estimate (label and
    probability). Where one line cannot hold them all (two speakers at 40 columns, or at 80,
    whose left column is 44 wide; four under ``auto``), they go on the next lines: none is cut
    off behind an ellipsis."""
    from dataclasses import replace as dc_replace

    spk = "ABCD"
    state = _state([dc_replace(r, speaker=spk[k % 4], speaker_rolling=dict(r.rolling)) for k, r in enumerate(results)])
    assert len(state.speaker_rolling) == 4
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    for s, est in state.speaker_rolling.items():
        top = max(est, key=est.__getitem__)
        assert re.search(rf"\b{s} {top} {est[top]:.2f}\b", text), (s, top, text)


@pytest.mark.parametrize("width", [30, 40, 60])
def test_provisional_estimate_keeps_its_label_and_probability_when_narrow(results: list[Result], width: int) -> None:
    """``--partial``: the "speaking… (provisional)" line shows the estimate's label and
    probability at any width (on a narrow panel on two lines), not only its own words with
    the label cut off behind an ellipsis."""
    from dataclasses import replace as dc_replace

    state = _state(results[:-1])
    last = results[-1]
    state.add_partial(dc_replace(last, final=False))
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    flat = " ".join(text.replace("│", " ").split())
    assert "speaking… (provisional)" in flat, text
    assert f"(provisional) {last.label} {last.confidence:.2f} {last.utterance.duration_s:.1f} s so far" in flat, text


@pytest.mark.parametrize("width", [30, 34, 40])
def test_latency_figures_are_never_cut_on_a_narrow_panel(results: list[Result], width: int) -> None:
    """On a narrow terminal the input panel's latency table gives up the width of its row names
    ("end of speech" → "end …"), never the digits of a figure: cut, 400.2 ms read "40…"."""
    state = _state(results)
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    for kind in ("processing", "end_of_speech"):
        s = state.latency(kind)
        row = " ".join(f"{s[k]:.1f}" for k in ("last", "p50", "p95"))
        assert re.search(rf"\s{re.escape(row)}\s", " ".join(text.replace("│", " ").split()) + " "), (kind, row, text)


@pytest.mark.parametrize("width", [30, 34, 39, 40, 60])
def test_dropped_rows_wrap_at_word_boundaries_on_a_narrow_panel(results: list[Result], width: int) -> None:
    """Below about 40 columns the noise floor beside the dropped rows left them a column of
    two or three cells, and every word was folded into it ("480" / "0" / "sam" / "ple" /
    "s"): unreadable on a 30-column terminal. Narrow, the dropped rows now take the panel's
    whole width (the floor a line of its own) and wrap at word boundaries; from 40 columns
    on they keep the floor beside them, as before."""
    state = _state(results)
    state.set_status(dropped_utterances=5, noise_floor_dbfs=-61.2)
    text = _text(render_dashboard(state), width)
    _assert_fits(text, width)
    words = " ".join(text.replace("│", " ").split()).split(" ")
    for line in ("dropped 4800 samples (0.300 s)", "2 overflows · 3 short bursts · 5 utterances dropped (worker behind)",
                 "floor -61 dBFS"):
        missing = [w for w in line.split() if w not in words]
        assert not missing, (missing, text)
