"""Saved recordings after a run killed mid-write (found by a mutation audit: not ending the
torn last line of the index passed every test): the next run's lines stay readable. Real
RAVDESS speech through the whole recogniser with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ser_live.audio import FileSource
from ser_live.model import EmotionModel, default_model_path

from .test_pipeline import run_recognizer


def test_a_torn_index_line_left_by_a_killed_run_does_not_swallow_the_next_run_s_first_line(
        ravdess_root: Path, tmp_path: Path, caplog):
    path = ravdess_root / "Actor_01/03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    folder = tmp_path / "saved"
    folder.mkdir()
    earlier = '{"index": 0, "wav": "utt-earlier-0000.wav", "label": "calm"}\n'
    torn = '{"index": 1, "wav": "utt-earlier-0001.wav", "lab'  # the run was killed here
    (folder / "index.jsonl").write_text(earlier + torn)
    _, results = run_recognizer(FileSource(path, speed=0), EmotionModel.load(default_model_path()), save_dir=folder)
    assert [r.utterance.index for r in results if r.final] == [0]
    lines = (folder / "index.jsonl").read_text().split("\n")
    assert lines[:2] == [earlier.rstrip("\n"), torn] and lines[-1] == ""  # nothing cut, the fragment on its own
    (new,) = [json.loads(line) for line in lines[2:-1]]
    assert (folder / new["wav"]).is_file() and new["index"] == 0 and new["label"] == results[0].prediction.label
    assert "partial line" in caplog.text
