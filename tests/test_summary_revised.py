"""The exit summary says what the dashboard ends at: the labels and rolling estimate as session
revision left them, beside the ones shown at the moment (`--plain`, `--jsonl`)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from ser_live.audio import FileSource
from ser_live.dashboard import DashboardState
from ser_live.model import EmotionModel, default_model_path
from ser_live.plaintext import format_summary
from ser_live.revision import RevisedTally
from ser_live.types import Result, UncertaintyRule

from .test_pipeline import run_recognizer


@pytest.fixture(scope="module")
def demo_run() -> tuple[EmotionModel, list[Result], object]:
    """The bundled demo (eight RAVDESS utterances) through the live worker with the shipped model."""
    from importlib.resources import files

    demo = files("ser_live") / "data" / "demo.wav"
    model = EmotionModel.load(default_model_path())
    rec, results = run_recognizer(FileSource(str(demo), speed=0), model)
    return model, results, rec.summary()


def test_the_summary_gives_the_dashboards_revised_labels_and_estimate(demo_run) -> None:
    model, results, summary = demo_run
    rule = UncertaintyRule.for_labels(len(model.labels))
    state = DashboardState(labels=model.labels, model_name="m", source_name="s", session_norm=True, uncertainty=rule)
    tally = RevisedTally(rule)
    uncertain: dict[str, int] = {}
    for r in results:
        state.add_result(r)
        tally.add(r)
        if rule.applies(r.prediction):
            uncertain[r.label] = uncertain.get(r.label, 0) + 1
    timeline = Counter("uncertain" if state.is_uncertain(r) else r.prediction.label for r in state.results)
    assert len(results) == 8 and sum(timeline.values()) == 8
    # most frequent first, then by name (dicts compare equal in any order: compare the items)
    assert list(tally.label_counts().items()) == sorted(timeline.items(), key=lambda kv: (-kv[1], kv[0]))
    assert tally.rolling == state.rolling
    shown = Counter("uncertain" if rule.applies(r.prediction) else r.label for r in results)
    assert shown != timeline  # the demo's first utterances are revised (else this test shows nothing)
    text = format_summary(summary, uncertain=uncertain, revised=tally)
    revised_line = ", ".join(f"{k} {v}" for k, v in tally.label_counts().items())
    assert f"  labels, revised      {revised_line}" in text.splitlines()
    assert "rolling, revised" in text
    # the lines shown at the moment stay as they were
    assert format_summary(summary, uncertain=uncertain) == "\n".join(
        line for line in text.splitlines() if ", revised" not in line
    )


def test_no_revised_lines_when_revision_changed_nothing(demo_run) -> None:
    model, results, summary = demo_run
    rule = UncertaintyRule.for_labels(len(model.labels))
    tally = RevisedTally(rule)
    uncertain: dict[str, int] = {}
    for r in results:
        tally.add(replace(r, revision=None))
        if rule.applies(r.prediction):
            uncertain[r.label] = uncertain.get(r.label, 0) + 1
    assert ", revised" not in format_summary(summary, uncertain=uncertain, revised=tally)
