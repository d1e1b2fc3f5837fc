"""The rolling estimate's recency weighting on real predictions (found by a mutation audit:
an estimate that never decays passed every test): the shipped model classifies an angry and
a sad RAVDESS utterance of one actor, heard a minute apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.model import EmotionModel, default_model_path
from ser_live.rolling import RollingEstimate
from ser_live.vad import speech_span

FILES = ("Actor_01/03-01-05-02-01-01-01.flac", "Actor_01/03-01-04-02-01-01-01.flac")  # angry, sad (strong)


@pytest.fixture(scope="module")
def heard(ravdess_root: Path):
    """(model labels, [(probabilities, confidence, duration_s)]) of the two utterances,
    each trimmed to its speech as live cuts it."""
    model = EmotionModel.load(default_model_path())
    out = []
    for rel in FILES:
        path = ravdess_root / rel
        if not path.exists():
            pytest.skip(f"{path} not found")
        y = load_audio(path)
        a, b = speech_span(y)
        p = model.predict_signal(y[a:b])
        out.append((np.array([p.probabilities[lab] for lab in model.labels]), p.confidence, (b - a) / 16000))
    return list(model.labels), out


@pytest.mark.parametrize("gap_s", [0.0, 20.0, 60.0])
def test_an_older_utterance_counts_half_as_much_per_half_life(heard, gap_s):
    """``w_i = d_i c_i 0.5^((e_n - e_i) / h)`` (the class docstring), h = 20 s: heard 60 s
    before the latest, an utterance weighs an eighth of what it did."""
    labels, ((p1, c1, d1), (p2, c2, d2)) = heard
    assert labels[int(np.argmax(p1))] != labels[int(np.argmax(p2))]  # two different results
    est = RollingEstimate(labels, half_life_s=20.0)
    e1 = 10.0
    est.update(dict(zip(labels, p1)), duration_s=d1, confidence=c1, end_s=e1)
    got = est.update(dict(zip(labels, p2)), duration_s=d2, confidence=c2, end_s=e1 + d2 + gap_s)
    w1, w2 = d1 * c1 * 0.5 ** ((d2 + gap_s) / 20.0), d2 * c2
    want = (w1 * p1 + w2 * p2) / (w1 + w2)
    np.testing.assert_allclose([got[lab] for lab in labels], want / want.sum(), rtol=1e-9, atol=1e-12)


def test_the_estimate_follows_a_change_of_mood_as_time_passes(heard):
    """The same two utterances, the second heard later and later: the estimate moves towards
    it (the first fades), and a reset forgets both."""
    labels, ((p1, c1, d1), (p2, c2, d2)) = heard
    second = labels[int(np.argmax(p2))]
    shares = []
    for gap_s in (0.0, 20.0, 60.0, 400.0):
        est = RollingEstimate(labels, half_life_s=20.0)
        est.update(dict(zip(labels, p1)), duration_s=d1, confidence=c1, end_s=d1)
        shares.append(est.update(dict(zip(labels, p2)), duration_s=d2, confidence=c2, end_s=d1 + d2 + gap_s)[second])
    assert shares == sorted(shares) and shares[0] < shares[-1]
    assert shares[-1] == pytest.approx(p2[labels.index(second)] / p2.sum(), abs=1e-6)  # 20 half-lives: forgotten
    est.reset()
    assert est.estimate == {} and est.update(dict(zip(labels, p1)), duration_s=d1, end_s=1.0) == pytest.approx(
        dict(zip(labels, p1 / p1.sum())))
