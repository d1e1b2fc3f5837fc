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


def test_removing_an_utterance_leaves_the_statistics_of_the_others():
    """SessionState.remove (speaker turns move an utterance to another speaker's session):
    the state is the one built from the utterances left, to rounding, whichever is removed."""
    X, g = _data(3)
    norm = SessionNormalizer(prior_weight=10.0).fit(X, groups=g)
    rows = X[g == "spk1"][:6] * 40.0  # large values: rounding would show
    state = norm.new_session()
    for x in rows:
        state.update(x)
    for gone in (4, 0):  # an inner one, then the first
        state.remove(rows[gone])
    rest = rows[[1, 2, 3, 5]]
    ref = norm.new_session()
    for x in rest:
        ref.update(x)
    assert state.n_utterances == 4
    np.testing.assert_allclose(state.transform(rows[2]), ref.transform(rows[2]), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(state.transform(rows[2]), norm.transform(rest, groups=np.zeros(4))[1], rtol=1e-5, atol=1e-5)
    for x in rest:  # down to none: the prior alone, as a new session
        state.remove(x)
    assert state.n_utterances == 0
    np.testing.assert_array_equal(state.transform(rows[0]), norm.new_session().transform(rows[0]))
    with pytest.raises(ValueError, match="no utterance"):
        state.remove(rows[0])
    assert state.n_utterances == 0


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


def test_session_cap_keeps_a_share_of_the_prior():
    X, g = _data(5)
    norm = SessionNormalizer(prior_weight=4.0, session_cap=4.0).fit(X, groups=g)
    rows = X[g == "spk1"]  # 20 utterances, counted as 4
    m, v = rows.mean(0), rows.var(0)
    mu = (4 * m + 4 * norm.prior_mean_) / 8
    var = (4 * v + 4 * norm.prior_var_) / 8
    z = norm.transform(rows, groups=np.zeros(len(rows)))
    np.testing.assert_allclose(z, (rows - mu) / np.sqrt(var), rtol=1e-5)
    state = norm.new_session()
    for x in rows:
        state.update(x)
    np.testing.assert_allclose(state.transform(rows[0]), z[0], rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_one_emotion_session_is_not_called_neutral(data_root, monkeypatch):
    """An angry caller: a session holding only one held-out speaker's angry utterances.

    A small model of the shipped recipe's normaliser settings (no augmentation, no noise
    branch, one SVM setting, to stay cheap) is trained on the loco fold that holds RAVDESS
    out; each of four RAVDESS actors' angry utterances (8 each, real speech) then form one
    session, normalised together. The session must not come out "neutral" (the failure mode of
    per-session normalisation), and the normaliser must not make it worse than the same
    utterances scored alone.
    """
    import dataclasses

    from ser_live.features import FeatureExtractor
    from train.evaluate import load_protocol_features
    from train.recipe import RecipeClassifier, load_recipe

    if not (data_root / "emotiontts_kor").is_dir():
        pytest.skip("emotiontts_kor not in the data folder")
    monkeypatch.setenv("SER_LIVE_DATA", str(data_root))
    recipe = dataclasses.replace(load_recipe("ser-default"), augmentations=(), noise_branch=None,
                                 grid=("linear C=1e-3",))
    assert recipe.normalizer.enabled
    fs, X, _ = load_protocol_features("loco", labels=recipe.labels, progress=False, config=recipe.feature_config())
    fold = next(f for f in fs.folds if f.name == "ravdess")
    y, g = fs.y, fs.groups
    est = RecipeClassifier(recipe, FeatureExtractor(recipe.feature_config()).feature_names(), n_jobs=1, calibrate=False)
    est.fit(X[fold.train_idx], y[fold.train_idx], groups=g[fold.train_idx])
    neutral, angry = fs.labels.index("neutral"), fs.labels.index("angry")
    for actor in ("ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04"):
        rows = fold.test_idx[(g[fold.test_idx] == actor) & (y[fold.test_idx] == angry)]
        assert len(rows) == 8  # 2 statements x 2 repetitions x 2 intensities
        session = est.predict(X[rows], groups=np.array([actor] * len(rows)))
        counts = np.bincount(session, minlength=len(fs.labels))
        assert counts.argmax() != neutral, (actor, dict(zip(fs.labels, counts)))
        assert counts[neutral] <= len(rows) // 4, (actor, dict(zip(fs.labels, counts)))
