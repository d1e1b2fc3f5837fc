"""The deep rows (train/deep.py): log-mel input from the live front end, and a CNN and a
CNN-LSTM that learn emotions of held-out RAVDESS speakers from a few seconds of training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureExtractor
from train.corpora import read_corpus
from train.extract import prepare_utterance

TRAIN_ACTORS = {"ravdess-01", "ravdess-02", "ravdess-03", "ravdess-04", "ravdess-05", "ravdess-06"}
TEST_ACTORS = {"ravdess-07", "ravdess-08"}
#: Far apart in loudness and spectral balance, so a few seconds of training separate them.
CLASSES = ("calm", "angry", "sad", "surprised")


def _torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: pip install '.[deep]' (CI installs it)")


@pytest.fixture(scope="module")
def subset(ravdess_root):
    """RAVDESS actors 1-8 (4 m, 4 f), four emotions: 256 real utterances."""
    recs = read_corpus("ravdess", ravdess_root).records
    return [r for r in recs if r.speaker in TRAIN_ACTORS | TEST_ACTORS and r.label in CLASSES]


@pytest.fixture(scope="module")
def spectrograms(subset, tmp_path_factory):
    from train.deep import load_logmels

    cache = tmp_path_factory.mktemp("logmel-cache")
    X = load_logmels([r.path for r in subset], n_frames=300, cache_dir=cache, progress=False)
    y = np.array([CLASSES.index(r.label) for r in subset])
    g = np.array([r.speaker for r in subset], dtype=object)
    return X, y, g, cache


def test_input_is_the_live_front_ends_log_mel_trimmed_as_training_files(subset, spectrograms):
    from train.deep import fix_length, load_logmels

    X, _y, _g, cache = spectrograms
    assert X.shape == (len(subset), 64, 300) and X.dtype == np.float32 and np.isfinite(X).all()
    y = prepare_utterance(load_audio(subset[0].path))
    m = FeatureExtractor().framewise(y)["logmel"]
    assert m.shape[0] == 64 and abs(m.shape[1] - y.size / 160) <= 3  # 10 ms hop
    assert np.allclose(X[0], fix_length(m, 300))
    # a second run is served from the cache, with identical values, for any length
    X2 = load_logmels([subset[0].path], n_frames=120, cache_dir=cache, progress=False)
    assert np.array_equal(X2[0], fix_length(m, 120))


def test_fix_length_crops_the_middle_and_pads_with_the_band_minimum():
    from train.deep import fix_length

    m = np.arange(2 * 10, dtype=np.float32).reshape(2, 10)
    assert np.array_equal(fix_length(m, 4), m[:, 3:7])
    p = fix_length(m, 14)
    assert np.array_equal(p[:, 2:12], m)
    assert np.array_equal(p[:, :2], np.array([[0, 0], [10, 10]], dtype=np.float32))


def test_unreadable_file_is_named_in_the_error(tmp_path):
    from train.deep import load_logmels

    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really")
    with pytest.raises(ValueError, match="broken.wav"):
        load_logmels([str(bad)], cache_dir=False, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("architecture", ["cnn", "cnn-lstm"])
def test_network_beats_chance_on_held_out_speakers(architecture, spectrograms):
    _torch()
    from sklearn.metrics import balanced_accuracy_score

    from train.deep import DeepClassifier, DeepConfig

    X, y, g, _ = spectrograms
    tr = np.isin(g, list(TRAIN_ACTORS))
    cfg = DeepConfig(architecture=architecture, max_epochs=20, patience_epochs=20, max_train_s=30.0)
    est = DeepClassifier(cfg).fit(X[tr], y[tr], g[tr])
    assert set(np.unique(g[tr])) == TRAIN_ACTORS  # validation speakers came from the training side
    proba = est.predict_proba(X[~tr])
    assert proba.shape == (int((~tr).sum()), 4) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    ua = balanced_accuracy_score(y[~tr], est.predict(X[~tr]))
    # 64 test utterances of 2 unseen speakers, 4 balanced classes: chance UA is 25 %, and
    # 45 % is beyond chance's reach (binomial p < 0.001)
    assert ua > 0.45, (architecture, ua, est.history_)


@pytest.mark.slow
def test_same_seed_same_network_other_seed_other_network(spectrograms):
    _torch()
    from train.deep import DeepClassifier, DeepConfig

    X, y, g, _ = spectrograms
    tr = np.isin(g, list(TRAIN_ACTORS))
    cfg = DeepConfig(architecture="cnn-lstm", max_epochs=2)
    p1, p2 = (DeepClassifier(cfg).fit(X[tr], y[tr], g[tr]).predict_proba(X[~tr]) for _ in range(2))
    p3 = DeepClassifier(DeepConfig(architecture="cnn-lstm", max_epochs=2, seed=1)).fit(X[tr], y[tr], g[tr]).predict_proba(X[~tr])
    assert np.allclose(p1, p2, atol=1e-5)
    assert not np.allclose(p1, p3, atol=1e-3)


@pytest.mark.slow
def test_protocol_run_writes_reports_like_the_other_rows(subset, tmp_path, spectrograms):
    _torch()
    from train.deep import DeepConfig, run_deep_protocol
    from train.evaluate import write_reports

    _X, _y, _g, cache = spectrograms
    # actors 1-6: each of ravdess-6fold's folds tests one of them and trains on the other five
    few = [r for r in subset if r.speaker in TRAIN_ACTORS]
    cfg = DeepConfig(architecture="cnn", max_epochs=1)
    res = run_deep_protocol("ravdess-6fold", config=cfg, source={"ravdess": few}, progress=False, cache_dir=cache)
    assert res.classifier == "CNN (log-mel)"
    assert len(res.extra["fold_train_s"]) == len(res.folds) == 6
    assert res.confusion.sum() == len(few)
    paths = write_reports(res, tmp_path, command="python -m train compare --classifiers cnn")
    data = json.loads(paths["json"].read_text())
    assert data["fold_train_s"] == res.extra["fold_train_s"] and data["deep_config"]["architecture"] == "cnn"
    assert "best epoch" in paths["md"].read_text()
    assert paths["png"].stat().st_size > 1000
