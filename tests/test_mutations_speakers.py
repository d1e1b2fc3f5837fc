"""Speaker attribution limits a mutation audit found unguarded, on features of real voices
(EmoDB speaker 03, TESS YAF, RAVDESS actor 01)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureExtractor
from ser_live.model import EmotionModel, default_model_path
from ser_live.speakers import SpeakerAssigner


def test_far_voices_never_open_more_than_max_speakers(data_root: Path):
    """``far`` opens a new speaker at once for an utterance unlike every voice so far, but
    never more than ``max_speakers`` (``--speakers``' bound): a third voice goes to the
    nearest of the two. The first utterance is "A" (it was "B", with "A" left empty: no
    speaker had an utterance, every distance was inf, so it counted as far from them)."""
    files = [data_root / "emodb/wav/03a01Fa.flac", data_root / "tess/YAF_angry/YAF_back_angry.flac",
             data_root / "ravdess/Actor_01/03-01-05-02-01-01-01.flac"]
    for f in files:
        if not f.exists():
            pytest.skip(f"{f} not found")
    model = EmotionModel.load(default_model_path())
    ext = FeatureExtractor(model.feature_config)
    X = [ext.extract(load_audio(f)) for f in files]
    a = SpeakerAssigner(ext.feature_names(), max_speakers=2, far=1e-9)  # every voice is "far"
    got = [a.assign(x) for x in X]
    assert got[:2] == ["A", "B"] and got[2] in ("A", "B"), got
    assert a.counts_[0] >= 1 and a.n_speakers == 2 and sum(a.counts_) == 3 and set(a.revised_) <= {"A", "B"}


def test_a_new_voice_needs_min_part_utterances_before_it_opens(data_root: Path):
    """``--speakers auto``: a speaker is split only when each part holds ``min_part`` (2)
    utterances, so one odd utterance does not open a voice (the split that isolates it
    clears the threshold, the part is too small); the second one does."""
    a_files = sorted((data_root / "emodb/wav").glob("03*N*.flac"))[:4]  # neutral, as YAF's
    b_files = sorted((data_root / "tess/YAF_neutral").glob("*.flac"))[:2]
    if len(a_files) < 4 or len(b_files) < 2:
        pytest.skip("EmoDB speaker 03 or TESS YAF not found")
    model = EmotionModel.load(default_model_path())
    ext = FeatureExtractor(model.feature_config)
    X = [ext.extract(load_audio(f)) for f in [*a_files, *b_files]]
    a = SpeakerAssigner(ext.feature_names(), max_speakers=4, min_utterances=4, min_part=2)  # calibrated threshold
    got = [a.assign(x) for x in X]
    assert got[:5] == ["A"] * 5 and got[5] == "B", got
    assert a.revised_ == ["A"] * 4 + ["B", "B"]
