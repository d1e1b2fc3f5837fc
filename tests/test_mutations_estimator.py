"""The numpy scoring path (:func:`ser_live.estimator.compile_head`) on heads no shipped model
has, which the shipped-model comparisons of ``test_fastpath.py`` cannot reach (found by a
mutation audit): a binary logistic regression (``python -m train`` on a two-label corpus) and
an ensemble of temperature-calibrated SVMs. Features of real EmoDB speech."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from ser_live.audiofile import load_audio
from ser_live.estimator import compile_head
from ser_live.features import FeatureExtractor


@pytest.fixture(scope="module")
def emodb_features(emodb_root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Features (float32, (18, n_features)) of six EmoDB utterances each of anger (W),
    neutral (N) and sadness (T), speakers mixed, and their labels 0, 1, 2."""
    files, y = [], []
    for k, code in enumerate("WNT"):
        got = sorted((emodb_root / "wav").glob(f"?????{code}?.flac"))[::7][:6]
        if len(got) < 6:
            pytest.skip("EmoDB files not found")
        files += got
        y += [k] * 6
    ext = FeatureExtractor()
    return np.stack([ext.extract(load_audio(f)) for f in files]), np.array(y)


def test_binary_logistic_regression_scores_as_scikit_learn(emodb_features):
    """Anger against neutral: the compiled head's probabilities are scikit-learn's (the
    positive class's column is not swapped with the negative's)."""
    X, y = emodb_features
    two = y < 2
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=1e-3, max_iter=3000)).fit(X[two], y[two])
    head = compile_head(clf)
    want = clf.predict_proba(X)
    assert head.kind == "logistic" and want.shape == (18, 2)
    np.testing.assert_allclose(head.proba(X), want, rtol=1e-5, atol=1e-7)
    assert (np.argmax(head.proba(X[two]), axis=1) == y[two]).mean() >= 0.75  # it learnt something


def test_ensemble_of_calibrated_svms_averages_to_probabilities(emodb_features):
    """``CalibratedClassifierCV(ensemble=True)``: the compiled head averages the members'
    probabilities, rows summing to 1, as scikit-learn does."""
    X, y = emodb_features
    cal = CalibratedClassifierCV(LinearSVC(C=1e-3), method="temperature", cv=2, ensemble=True)
    clf = make_pipeline(StandardScaler(), cal).fit(X, y)
    assert len(cal.calibrated_classifiers_) == 2
    head = compile_head(clf)
    got = head.proba(X)
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(got, clf.predict_proba(X), rtol=1e-5, atol=1e-7)


def test_score_recalibration_is_the_minimum_of_its_penalised_loss(emodb_features):
    """``fit_score_affine`` (a calibration profile's ``softmax(W s + b)``) returns the minimiser
    of ``CE + reg (||W - I||^2 + ||b||^2)``: every coordinate's numerical slope there is ~0, on
    log-probabilities of real utterances (the ensemble above, scored on its own rows)."""
    from ser_live.estimator import fit_score_affine
    from ser_live.fastpath import softmax

    X, y = emodb_features
    clf = make_pipeline(StandardScaler(), CalibratedClassifierCV(LinearSVC(C=1e-3), method="temperature", cv=2)).fit(X, y)
    S = np.log(np.maximum(clf.predict_proba(X), 1e-12))
    reg = 0.05
    W, b = fit_score_affine(S, y, reg=reg)

    def loss(theta: np.ndarray) -> float:
        Wt, bt = theta[:9].reshape(3, 3), theta[9:]
        P = softmax(S @ Wt.T + bt)
        return float(-np.log(P[np.arange(len(y)), y]).mean() + reg * (np.sum((Wt - np.eye(3)) ** 2) + bt @ bt))

    theta, h = np.concatenate([W.ravel(), b]), 1e-5
    slope = [(loss(theta + h * e) - loss(theta - h * e)) / (2 * h) for e in np.eye(12)]
    assert np.max(np.abs(slope)) < 1e-3, slope
    assert not np.allclose(W, np.eye(3), atol=1e-3)  # the data moved it (so the test can fail)
