"""Speaker attribution limits a mutation audit found unguarded, on features of real voices
(EmoDB speaker 03, TESS YAF, RAVDESS actor 01)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureExtractor
from ser_live.model import EmotionModel, default_model_path
from ser_live.speakers import SpeakerAssigner, _split_statistic, _two_means


@pytest.fixture(scope="module")
def voices(data_root: Path) -> tuple[list[str], dict[str, list[np.ndarray]]]:
    """The shipped model's feature names, and raw features of: four neutral utterances of
    EmoDB 03 (male, German), two neutral of TESS YAF (female, English), one of RAVDESS actor
    01 (male, English)."""
    files = {"emodb03": sorted((data_root / "emodb/wav").glob("03*N*.flac"))[:4],
             "yaf": sorted((data_root / "tess/YAF_neutral").glob("*.flac"))[:2],
             "actor01": [data_root / "ravdess/Actor_01/03-01-05-02-01-01-01.flac"]}
    if [len(v) for v in files.values()] != [4, 2, 1] or not files["actor01"][0].exists():
        pytest.skip("EmoDB speaker 03, TESS YAF or RAVDESS actor 01 not found")
    ext = FeatureExtractor(EmotionModel.load(default_model_path()).feature_config)
    return ext.feature_names(), {k: [ext.extract(load_audio(f)) for f in v] for k, v in files.items()}


def test_far_voices_never_open_more_than_max_speakers(voices):
    """``far`` opens a new speaker at once for an utterance unlike every voice so far, but
    never more than ``max_speakers`` (``--speakers``' bound): a third voice goes to the
    nearest of the two. The first utterance is "A" (it was "B", with "A" left empty: no
    speaker had an utterance, every distance was inf, so it counted as far from them)."""
    names, X = voices
    a = SpeakerAssigner(names, max_speakers=2, far=1e-9)  # every voice is "far"
    got = [a.assign(x) for x in (X["emodb03"][0], X["yaf"][0], X["actor01"][0])]
    assert got[:2] == ["A", "B"] and got[2] in ("A", "B"), got
    assert a.counts_[0] >= 1 and a.n_speakers == 2 and sum(a.counts_) == 3 and set(a.revised_) <= {"A", "B"}


def test_a_new_voice_needs_min_part_utterances_before_it_opens(voices):
    """``--speakers auto``: a speaker is split only when each part holds ``min_part`` (2)
    utterances, so one odd utterance does not open a voice (the split that isolates it
    clears the threshold, the part is too small); the second one does."""
    names, X = voices
    a = SpeakerAssigner(names, max_speakers=4, min_utterances=4, min_part=2)  # calibrated threshold
    got = [a.assign(x) for x in X["emodb03"] + X["yaf"]]
    assert got[:5] == ["A"] * 5 and got[5] == "B", got
    assert a.revised_ == ["A"] * 4 + ["B", "B"]


def test_split_statistic_is_calinski_harabasz(voices):
    """The split test's statistic (its threshold is calibrated on it) is the Calinski-Harabasz
    score of the two parts, degrees of freedom included: scikit-learn's, on the embeddings of
    real utterances (four of EmoDB 03, then one of TESS YAF)."""
    from sklearn.metrics import calinski_harabasz_score

    names, X = voices
    a = SpeakerAssigner(names, max_speakers=4)
    Z = np.stack([a.embed(x) for x in X["emodb03"] + X["yaf"][:1]])
    for n in (4, 5):
        g = _two_means(Z[:n])
        assert g is not None
        assert _split_statistic(Z[:n], g) == pytest.approx(calinski_harabasz_score(Z[:n], g.astype(int)), rel=1e-9)


def test_a_new_utterance_is_measured_against_each_speaker_s_centroid(voices):
    """With two speakers open, an utterance goes to the nearest speaker *centroid* (the mean
    of that speaker's kept embeddings), not to the speaker's first utterance."""
    names, X = voices
    a = SpeakerAssigner(names, max_speakers=4, min_utterances=4, min_part=2)
    kept = X["emodb03"] + X["yaf"]
    for x in kept:
        a.assign(x)
    assert a.revised_ == ["A"] * 4 + ["B", "B"]
    Z = np.stack([a.embed(x) for x in kept])
    z = a.embed(X["actor01"][0])
    want = [float(np.mean((z - Z[:4].mean(0)) ** 2)), float(np.mean((z - Z[4:].mean(0)) ** 2))]
    np.testing.assert_allclose(a.distances(z), want, rtol=1e-12)
    assert a.assign(X["actor01"][0]) == "AB"[int(np.argmin(want))]
