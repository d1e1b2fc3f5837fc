"""The noise branch (issue 12): a second classifier for utterances heard in noise, chosen per
utterance from the SNR column (``ser_live/route.py``). Real audio: EmoDB utterances, clean and
mixed with pink noise at 10 dB SNR; the live path on the 40-utterance pink-noise session of
``tests/test_vad_noise.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_live.errors import ModelError
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.model import EmotionModel, model_file_types
from ser_live.route import DEFAULT_SNR_COLUMN, NoiseRoute, fit_threshold

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_fit_threshold_separates_and_takes_the_middle_of_a_gap():
    assert fit_threshold(np.array([30.0, 40.0, 25.0]), np.array([10.0, 12.0, 14.0])) == 19.5
    # overlapping: the cut with the best balanced accuracy (one clean row below, none noisy above)
    cut = fit_threshold(np.array([13.0, 30.0, 31.0, 32.0]), np.array([10.0, 11.0, 12.0, 12.5]))
    assert 12.5 < cut < 30.0
    # the count of noisy copies does not weigh: three times as many copies, the same cut
    assert fit_threshold(np.array([20.0, 22.0]), np.repeat([8.0, 21.0], 3)) == fit_threshold(
        np.array([20.0, 22.0]), np.array([8.0, 21.0]))
    with pytest.raises(ValueError, match="needs clean and noisy"):
        fit_threshold(np.array([]), np.array([1.0]))
    with pytest.raises(ValueError, match="non-finite"):
        fit_threshold(np.array([np.nan]), np.array([1.0]))


@pytest.fixture(scope="module")
def emodb_pairs(emodb_root: Path):
    """Features of 12 EmoDB utterances (6 speakers), clean and at 10 dB SNR pink noise, each
    trimmed as training and ``ser-live predict`` trim them."""
    from train.augment import Augmentation
    from train.extract import extract_features

    wavs = sorted((emodb_root / "wav").glob("*.flac"))
    by_speaker: dict[str, list[Path]] = {}
    for p in wavs:
        by_speaker.setdefault(p.name[:2], []).append(p)
    paths = [str(p) for spk in sorted(by_speaker)[:6] for p in by_speaker[spk][:2]]
    assert len(paths) == 12, f"EmoDB under {emodb_root} has fewer than 6 speakers"
    cfg = FeatureConfig(voice_quality=True)
    clean, rep = extract_features(paths, config=cfg, n_jobs=1, progress=False, cache_dir=False)
    noisy, rep_n = extract_features(paths, config=cfg, augmentation=Augmentation(snr_db=10.0, noise="pink"),
                                    n_jobs=1, progress=False, cache_dir=False)
    assert not rep.failures and not rep_n.failures
    return paths, clean, noisy


def test_the_snr_column_reads_the_noise(emodb_pairs):
    _, clean, noisy = emodb_pairs
    col = FeatureExtractor(FeatureConfig(voice_quality=True)).feature_names().index(DEFAULT_SNR_COLUMN)
    # pink noise at 10 dB SNR: the column reads a little above 10 dB (speech peaks over the floor)
    assert np.all((noisy[:, col] > 8.0) & (noisy[:, col] < 19.0)), noisy[:, col]
    assert np.all(clean[:, col] > noisy[:, col] + 10.0), (clean[:, col], noisy[:, col])


def test_shipped_default_sends_noisy_utterances_to_the_noise_branch_only(emodb_pairs):
    model = EmotionModel.load(arrays=False)  # the scikit-learn objects, to take the route apart
    assert model.noise_route is not None and model.noise_route.column_name == DEFAULT_SNR_COLUMN
    _, clean, noisy = emodb_pairs
    assert not model.noise_branch_rows(clean).any()
    assert model.noise_branch_rows(noisy).all()
    # the noisy rows' probabilities are the branch's: without the route they differ
    plain = EmotionModel(model.noise_route.estimator, model.labels, model.feature_config, normalizer=model.normalizer)
    assert np.allclose(model.predict_proba(clean), plain.predict_proba(clean))
    assert not np.allclose(model.predict_proba(noisy), plain.predict_proba(noisy))
    assert [p.noise_branch for p in (model.predict_features(clean[0]), model.predict_features(noisy[0]))] == [False, True]


def _tiny_route_model(clean: np.ndarray, noisy: np.ndarray) -> EmotionModel:
    """The meta-estimator fitted from scratch: main classifier on the clean rows, branch on
    clean and noisy rows, the cut between them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_live.estimator import EmotionEstimator

    y = np.arange(len(clean)) % 2
    names = FeatureExtractor(FeatureConfig(voice_quality=True)).feature_names()
    col = names.index(DEFAULT_SNR_COLUMN)
    route = NoiseRoute(make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)),
                       make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)), column=col)
    est = EmotionEstimator(None, route, n_labels=2).fit(
        np.vstack([clean, noisy]), np.concatenate([y, 1 - y]),
        noise_copy=np.repeat([False, True], [len(clean), len(noisy)]))
    assert noisy[:, col].max() < route.threshold_db_ < clean[:, col].min()
    return EmotionModel(est, ["neutral", "angry"], FeatureConfig(voice_quality=True), name="tiny-route")


def test_a_noise_branch_survives_save_and_load_and_is_checked(emodb_pairs, tmp_path):
    _, clean, noisy = emodb_pairs
    model = _tiny_route_model(clean, noisy)
    path = model.save(tmp_path / "tiny.skops")
    assert "ser_live.route.NoiseRoute" in model_file_types(path)
    back = EmotionModel.load(path)
    X = np.vstack([clean, noisy])
    assert np.allclose(back.predict_proba(X), model.predict_proba(X))
    assert back.noise_branch_rows(X).tolist() == [False] * len(clean) + [True] * len(noisy)
    # a route naming a column the extractor has elsewhere is refused, not silently misread
    model.noise_route.column_name = "rms_db_p50"
    with pytest.raises(ModelError, match="noise_route"):
        EmotionModel.load(model.save(tmp_path / "bad.skops"))


def test_recipe_with_a_noise_branch_fits_the_cut_between_clean_and_noisy_rows(emodb_pairs):
    from train.augment import Augmentation
    from train.recipe import NoiseBranchSpec, Recipe, RecipeClassifier

    _, clean, noisy = emodb_pairs
    y = np.arange(len(clean)) % 2
    groups = np.array([f"emodb-{i // 2}" for i in range(len(clean))], dtype=object)
    names = FeatureExtractor(FeatureConfig(voice_quality=True)).feature_names()
    recipe = Recipe(name="t", corpora=("emodb",), labels=("neutral", "angry"), voice_quality=True,
                    noise_branch=NoiseBranchSpec(augmentations=(Augmentation(snr_db=10.0, noise="pink"),)),
                    grid=("linear C=1e-3",), inner_splits=2, calibration="none")
    with pytest.raises(ValueError, match="needs 1 augmented"):
        RecipeClassifier(recipe, names, n_jobs=1).fit(clean, y, groups=groups)
    est = RecipeClassifier(recipe, names, n_jobs=1).fit(clean, y, groups=groups, augmented=[noisy])
    col = names.index(DEFAULT_SNR_COLUMN)
    assert noisy[:, col].max() < est.route_.threshold_db_ < clean[:, col].min()
    dec = est.decision_function(np.vstack([clean, noisy]))
    Z = est.estimator_.normalize(noisy)
    assert np.allclose(dec[len(clean):], est.route_.branch.decision_function(Z)[:, None] * [-1, 1])
    assert np.allclose(dec[: len(clean)], est.pipeline_.decision_function(est.estimator_.normalize(clean))[:, None] * [-1, 1])
    assert est.estimator_.classifier is est.route_  # the stored object is the scored one


def test_predict_records_say_which_branch_classified(emodb_pairs, tmp_path):
    from train.augment import Augmentation, apply_augmentation
    from ser_live.audiofile import load_audio, write_wav

    paths = emodb_pairs[0][:3]
    files = []
    for i, p in enumerate(paths):
        y = load_audio(p)
        files.append(write_wav(tmp_path / f"clean{i}.wav", y))  # (the corpus files are FLAC)
        noisy = apply_augmentation(y, Augmentation(snr_db=10.0, noise="pink"), seed_key=str(i))
        files.append(write_wav(tmp_path / f"noisy{i}.wav", noisy))
    out = subprocess.run([sys.executable, "-m", "ser_live", "predict", *map(str, files), "--format", "jsonl"],
                         capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    assert out.returncode == 0, out.stderr
    recs = {Path(r["path"]).stem: r for r in map(json.loads, out.stdout.splitlines())}
    assert {k: v["noise_branch"] for k, v in recs.items()} == {
        f"{kind}{i}": kind == "noisy" for i in range(3) for kind in ("clean", "noisy")}
