"""Model files: round trip, safe loading, refusal of mismatched or foreign files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ser_live.audiofile import load_audio
from ser_live.errors import ModelError
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.model import EmotionModel
from train.corpora import RAVDESS_EMOTIONS


@pytest.fixture(scope="module")
def small_model(ravdess_root) -> tuple[EmotionModel, np.ndarray, list]:
    """A real (tiny) model: Actor_01/02 neutral vs angry, our extractor."""
    fx = FeatureExtractor()
    files = sorted((ravdess_root / "Actor_01").glob("03-01-0[15]-*.flac")) + sorted(
        (ravdess_root / "Actor_02").glob("03-01-0[15]-*.flac")
    )
    X = np.array([fx.extract(load_audio(f)) for f in files])
    y = np.array([0 if f.name.split("-")[2] == "01" else 1 for f in files])
    est = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=2000)).fit(X, y)
    return EmotionModel(est, ["neutral", "angry"], fx.config, name="tiny", metadata={"note": "test"}), X, files


def test_round_trip_gives_identical_probabilities(small_model, tmp_path):
    model, X, files = small_model
    path = model.save(tmp_path / "m.skops")
    loaded = EmotionModel.load(path)
    assert loaded.labels == ["neutral", "angry"]
    assert loaded.name == "tiny"
    assert loaded.metadata == {"note": "test"}
    assert loaded.feature_config == model.feature_config
    assert np.array_equal(loaded.predict_proba(X), model.predict_proba(X))
    pred = loaded.predict_signal(load_audio(files[0]))
    assert set(pred.probabilities) == {"neutral", "angry"}
    assert abs(sum(pred.probabilities.values()) - 1) < 1e-9
    assert pred.confidence == max(pred.probabilities.values())


def test_mismatched_extractor_is_refused_with_advice(small_model, tmp_path):
    model, _X, _files = small_model
    other = EmotionModel(model.estimator, model.labels, FeatureConfig(n_mels=40), name="other")
    path = other.save(tmp_path / "other.skops")
    # simulate a file from another extractor version: same config, different layout
    import skops.io as sio

    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    payload["feature_config"] = FeatureConfig().to_dict()
    sio.dump(payload, tmp_path / "tampered.skops")
    with pytest.raises(ModelError, match="Retrain"):
        EmotionModel.load(tmp_path / "tampered.skops")
    payload["feature_config"] = {**FeatureConfig().to_dict(), "from_the_future": 1}
    sio.dump(payload, tmp_path / "future.skops")
    with pytest.raises(ModelError, match="another feature extractor"):
        EmotionModel.load(tmp_path / "future.skops")
    payload["feature_config"] = FeatureConfig().to_dict()
    payload["format_version"] = 99
    sio.dump(payload, tmp_path / "v99.skops")
    with pytest.raises(ModelError, match="format 99"):
        EmotionModel.load(tmp_path / "v99.skops")


def test_pickle_and_garbage_and_missing_files_are_refused(tmp_path):
    p = tmp_path / "evil.skops"
    p.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(ModelError, match="not a ser-live model"):
        EmotionModel.load(p)
    with pytest.raises(ModelError, match="not found"):
        EmotionModel.load(tmp_path / "nope.skops")


def test_foreign_types_are_refused(small_model, tmp_path):
    """A file holding a type outside scikit-learn/numpy (code that could run) is not loaded."""
    import collections
    import skops.io as sio

    model, _X, _ = small_model
    path = model.save(tmp_path / "m.skops")
    payload = sio.load(path, trusted=sio.get_untrusted_types(file=path))
    payload["metadata"] = collections.Counter(a=1)  # not on the allow-list
    sio.dump(payload, tmp_path / "foreign.skops")
    with pytest.raises(ModelError, match="refusing"):
        EmotionModel.load(tmp_path / "foreign.skops")


@pytest.mark.parametrize("name", ["default", "7class"])
def test_shipped_model_loads_and_classifies(ravdess_root, name):
    from ser_live.model import MODELS_DIR

    path = Path(MODELS_DIR) / f"ser-{name}.skops"
    if not path.exists():
        pytest.skip(f"no shipped model {path} (train one with `python -m train fit`)")
    model = EmotionModel.load(path)
    labels = set(model.labels)
    assert {"neutral", "happy", "sad", "angry"} <= labels
    assert model.normalizer is not None, "the shipped models carry a session normaliser"
    assert "fit" in model.metadata.get("command", "") and model.metadata.get("protocol_scores")
    # two actors' utterances of every emotion the model knows, as one session each: a working
    # model spreads its answers and gets most of them (training utterances: this checks the
    # file, not accuracy)
    hits, seen = 0, set()
    for actor in ("01", "02"):
        files = [f for f in sorted((ravdess_root / f"Actor_{actor}").glob("03-01-0[1-8]-0[12]-01-01-*.flac"))
                 if RAVDESS_EMOTIONS[f.name.split("-")[2]] in labels]
        X = np.stack([model.extractor.extract(load_audio(f)) for f in files])
        proba = model.predict_proba(X, groups=np.zeros(len(files)))
        preds = [model.labels[i] for i in proba.argmax(axis=1)]
        hits += sum(p == RAVDESS_EMOTIONS[f.name.split("-")[2]] for p, f in zip(preds, files))
        seen |= set(preds)
        n_files = len(files)
    assert len(seen) >= len(labels) - 2, seen
    assert hits >= n_files, hits  # at least half of the 2 x n_files utterances
