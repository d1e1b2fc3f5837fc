"""The deep rows (train/deep.py): log-mel input from the live front end, and a CNN and a
CNN-LSTM that learn emotions of held-out EmoDB speakers from seconds of training."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureExtractor
from train.corpora import read_corpus
from train.extract import prepare_utterance

#: EmoDB: eight speakers train (their validation speakers are drawn from them), two unseen
#: speakers (03 male, 16 female) test; four emotions acted far apart.
TRAIN_SPEAKERS = {f"emodb-{n:02d}" for n in range(8, 16)}
TEST_SPEAKERS = {"emodb-03", "emodb-16"}
CLASSES = ("angry", "sad", "neutral", "happy")
#: RAVDESS actors 1-6: each of ravdess-6fold's folds tests one of them.
RAVDESS_ACTORS = {f"ravdess-{n:02d}" for n in range(1, 7)}


def _torch():
    return pytest.importorskip("torch", reason="PyTorch not installed: pip install '.[deep]' (CI installs it)")


@pytest.fixture(scope="module")
def subset(emodb_root):
    """Ten EmoDB speakers, four emotions: 339 real utterances."""
    recs = read_corpus("emodb", emodb_root).records
    return [r for r in recs if r.speaker in TRAIN_SPEAKERS | TEST_SPEAKERS and r.label in CLASSES]


@pytest.fixture(scope="module")
def spectrograms(subset):
    from train.deep import load_logmels

    X = load_logmels([r.path for r in subset], n_frames=300, progress=False)
    y = np.array([CLASSES.index(r.label) for r in subset])
    g = np.array([r.speaker for r in subset], dtype=object)
    return X, y, g


def test_input_is_the_live_front_ends_log_mel_trimmed_as_training_files(subset, tmp_path):
    from train.deep import fix_length, load_logmels

    paths = [r.path for r in subset[:3]]
    X = load_logmels(paths, n_frames=300, cache_dir=tmp_path, progress=False)
    assert X.shape == (3, 64, 300) and X.dtype == np.float32 and np.isfinite(X).all()
    y = prepare_utterance(load_audio(paths[0]))
    m = FeatureExtractor().framewise(y)["logmel"]
    assert m.shape[0] == 64 and abs(m.shape[1] - y.size / 160) <= 3  # 10 ms hop
    assert np.allclose(X[0], fix_length(m, 300))
    # a second run is served from the cache (one file per input), with identical values, for any length
    assert len(list(tmp_path.rglob("*.npy"))) == 3
    X2 = load_logmels(paths[:1], n_frames=120, cache_dir=tmp_path, progress=False)
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

    X, y, g = spectrograms
    tr = np.isin(g, list(TRAIN_SPEAKERS))
    cfg = DeepConfig(architecture=architecture, max_epochs=12, max_train_s=45.0)
    est = DeepClassifier(cfg).fit(X[tr], y[tr], g[tr])
    proba = est.predict_proba(X[~tr])
    assert proba.shape == (int((~tr).sum()), 4) and np.allclose(proba.sum(axis=1), 1, atol=1e-5)
    ua = balanced_accuracy_score(y[~tr], est.predict(X[~tr]))
    # about 60 test utterances of 2 unseen speakers, 4 classes: chance UA is 25 %; 45 % is
    # beyond chance's reach (binomial p < 0.001)
    assert ua > 0.45, (architecture, ua, est.history_)


@pytest.mark.slow
def test_same_seed_same_network_other_seed_other_network(spectrograms):
    _torch()
    from train.deep import DeepClassifier, DeepConfig

    X, y, g = spectrograms
    tr = np.isin(g, list(TRAIN_SPEAKERS))
    cfg = DeepConfig(architecture="cnn-lstm", max_epochs=2)
    p1, p2 = (DeepClassifier(cfg).fit(X[tr], y[tr], g[tr]).predict_proba(X[~tr]) for _ in range(2))
    p3 = DeepClassifier(DeepConfig(architecture="cnn-lstm", max_epochs=2, seed=1)).fit(X[tr], y[tr], g[tr]).predict_proba(X[~tr])
    assert np.allclose(p1, p2, atol=1e-5)
    assert not np.allclose(p1, p3, atol=1e-3)


@pytest.mark.slow
def test_protocol_run_writes_reports_like_the_other_rows(ravdess_root, tmp_path):
    _torch()
    from train.deep import DeepConfig, run_deep_protocol
    from train.evaluate import write_reports

    recs = read_corpus("ravdess", ravdess_root).records
    few = [r for r in recs if r.speaker in RAVDESS_ACTORS and r.label in ("calm", "angry", "sad", "surprised")]
    res = run_deep_protocol("ravdess-6fold", config=DeepConfig(architecture="cnn", max_epochs=1), source={"ravdess": few}, progress=False)
    assert res.classifier == "CNN (log-mel)"
    assert [f.name for f in res.folds] == [f"fold{k}" for k in range(1, 7)]
    assert len(res.extra["fold_train_s"]) == 6 and all(s > 0 for s in res.extra["fold_train_s"])
    assert res.confusion.sum() == len(few)
    paths = write_reports(res, tmp_path, command="python -m train compare --classifiers cnn")
    data = json.loads(paths["json"].read_text())
    assert data["fold_train_s"] == res.extra["fold_train_s"] and data["deep_config"]["architecture"] == "cnn"
    assert "best epoch" in paths["md"].read_text()
    assert paths["png"].stat().st_size > 1000
