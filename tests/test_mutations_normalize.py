"""Session normaliser contracts the synthetic tests of ``test_normalize.py`` cannot see (found
by a mutation audit), on features of real EmoDB speech: speakers with unequal numbers of
utterances each weigh the same in the prior."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureExtractor
from ser_live.normalize import SessionNormalizer


@pytest.fixture(scope="module")
def unequal_speakers(emodb_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, (8, n_features)) of 6 utterances of EmoDB speaker 03 (male) and 2
    of speaker 08 (female), and the speaker of each row."""
    files = sorted((emodb_root / "wav").glob("03*.flac"))[:6] + sorted((emodb_root / "wav").glob("08*.flac"))[:2]
    if len(files) != 8:
        pytest.skip("EmoDB speakers 03 and 08 not found")
    ext = FeatureExtractor()
    X = np.stack([ext.extract(load_audio(p)) for p in files])
    return X, np.array([p.name[:2] for p in files])


def test_each_training_speaker_weighs_the_same_in_the_prior(unequal_speakers):
    """``prior_mean_`` is the mean over speakers of their mean (docstring): a speaker with
    three times the utterances does not pull the prior towards their voice."""
    X, g = unequal_speakers
    norm = SessionNormalizer().fit(X, groups=g)
    per_speaker = np.stack([X[g == s].astype(np.float64).mean(0) for s in ("03", "08")])
    np.testing.assert_allclose(norm.prior_mean_, per_speaker.mean(0), rtol=1e-9, atol=1e-9)
    # the pooled mean of the rows is another value on these features (so the test can fail)
    assert not np.allclose(norm.prior_mean_, X.astype(np.float64).mean(0), rtol=1e-3)


def test_plain_standardisation_of_a_one_utterance_session_is_finite(unequal_speakers):
    """``prior_weight=0`` (plain per-session standardisation) on a session of one utterance:
    its own variance is 0, yet the features the classifier gets stay finite (the variance
    floor), offline and live."""
    X, g = unequal_speakers
    norm = SessionNormalizer(prior_weight=0.0).fit(X, groups=g)
    with np.errstate(all="raise"):  # a 0/0 would raise here rather than hand on NaN
        z = norm.transform(X[:1])
        state = norm.new_session()
        state.update(X[0])
        live = state.transform(X[0])
    assert np.isfinite(z).all() and np.isfinite(live).all()
    np.testing.assert_array_equal(z[0], 0.0)
