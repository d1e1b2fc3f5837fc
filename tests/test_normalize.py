"""Session normalisation: the shrinkage formula, offline == online at the end of a session,
persistence in the model file, and a one-emotion session that must not become "neutral"."""

from __future__ import annotations

import numpy as np
import pytest

from ser_live.normalize import SessionNormalizer


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # 6 speakers, each with its own offset and scale per feature
    X, g = [], []
    for s in range(6):
        off, sc = rng.normal(0, 5, 4), rng.uniform(0.5, 3, 4)
        X.append(off + sc * rng.normal(size=(20, 4)))
        g += [f"spk{s}"] * 20
    return np.vstack(X), np.array(g)


def test_prior_is_the_mean_over_speakers_and_formula_holds():
    X, g = _data()
    norm = SessionNormalizer(prior_weight=5.0).fit(X, groups=g)
    means = np.array([X[g == s].mean(0) for s in np.unique(g)])
    varis = np.array([X[g == s].var(0) for s in np.unique(g)])
    np.testing.assert_allclose(norm.prior_mean_, means.mean(0))
    np.testing.assert_allclose(norm.prior_var_, varis.mean(0))
    # a new session of 3 utterances: mu = (3 m + 5 mu0) / 8, var = (3 v + 5 var0) / 8
    x = np.array([[1.0, 2, 3, 4], [2, 3, 4, 5], [0, 0, 1, 7]])
    m, v = x.mean(0), x.var(0)
    mu = (3 * m + 5 * norm.prior_mean_) / 8
    var = (3 * v + 5 * norm.prior_var_) / 8
    z = norm.transform(x, groups=np.array(["a"] * 3))
    np.testing.assert_allclose(z, (x - mu) / np.sqrt(var), rtol=1e-5)


def test_weight_zero_is_plain_per_speaker_standardisation():
    X, g = _data(1)
    Z = SessionNormalizer(prior_weight=0.0).fit_transform(X, groups=g)
    for s in np.unique(g):
        np.testing.assert_allclose(Z[g == s].mean(0), 0, atol=1e-5)
        np.testing.assert_allclose(Z[g == s].std(0), 1, atol=1e-4)


def test_online_state_ends_where_offline_is():
    X, g = _data(2)
    norm = SessionNormalizer(prior_weight=10.0).fit(X, groups=g)
    rows = X[g == "spk3"]
    state = norm.new_session()
    assert state.n_utterances == 0
    first = None
    for i, x in enumerate(rows):
        state.update(x)
        if i == 0:
            first = state.transform(x)
    assert state.n_utterances == len(rows)
    offline = norm.transform(rows, groups=np.zeros(len(rows)))
    np.testing.assert_allclose(state.transform(rows[-1]), offline[-1], rtol=1e-5, atol=1e-5)
    # one utterance heard: the same as offline with each row its own session
    np.testing.assert_allclose(first, norm.transform(rows[:1])[0], rtol=1e-5, atol=1e-5)


def test_columns_absolute_and_append_mode():
    X, g = _data(3)
    norm = SessionNormalizer(prior_weight=2.0, columns=np.array([0, 2])).fit(X, groups=g)
    Z = norm.transform(X, groups=g)
    np.testing.assert_array_equal(Z[:, [1, 3]], X[:, [1, 3]].astype(np.float32))
    assert not np.allclose(Z[:, 0], X[:, 0])
    app = SessionNormalizer(prior_weight=2.0, columns=np.array([0, 2]), mode="append").fit(X, groups=g)
    Za = app.transform(X, groups=g)
    assert Za.shape == (len(X), 6) and app.n_features_out == 6
    np.testing.assert_allclose(Za[:, :4], X, rtol=1e-6)
    np.testing.assert_allclose(Za[:, 4:], Z[:, [0, 2]], rtol=1e-5)


def test_bad_input_is_a_clear_error():
    X, g = _data(4)
    with pytest.raises(ValueError, match="groups must have shape"):
        SessionNormalizer().fit(X, groups=g[:-1])
    with pytest.raises(ValueError, match="mode"):
        SessionNormalizer(mode="both").fit(X, groups=g)
    norm = SessionNormalizer().fit(X, groups=g)
    with pytest.raises(ValueError, match="features"):
        norm.transform(X[:, :3])
    bad = X[:2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        norm.transform(bad)
    state = norm.new_session()
    with pytest.raises(ValueError, match="shape"):
        state.update(X[0, :2])
    assert state.n_utterances == 0


def test_saved_in_the_model_file_and_loaded_safely(tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_live.features import FeatureConfig, FeatureExtractor
    from ser_live.model import EmotionModel

    d = FeatureExtractor().n_features
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, d)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    X[y == 1, :10] += 2
    g = np.tile(np.repeat(["a", "b", "c", "d"], 5), 3)
    norm = SessionNormalizer(prior_weight=4.0).fit(X, groups=g)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(norm.transform(X, groups=g), y)
    model = EmotionModel(est, ["neutral", "happy", "sad"], FeatureConfig(), name="t", normalizer=norm)
    path = model.save(tmp_path / "t.skops")
    loaded = EmotionModel.load(path)
    assert isinstance(loaded.normalizer, SessionNormalizer)
    np.testing.assert_allclose(loaded.normalizer.prior_mean_, norm.prior_mean_)
    np.testing.assert_allclose(loaded.predict_proba(X[:5], groups=g[:5]), model.predict_proba(X[:5], groups=g[:5]))
    state = loaded.new_session()
    state.update(X[0])
    p = loaded.predict_features(X[0], session=state)
    assert p.label in {"neutral", "happy", "sad"}
    np.testing.assert_allclose(
        loaded.predict_proba(X[:1], session=state), loaded.predict_proba(X[:1])
    )  # one utterance heard == the utterance alone
