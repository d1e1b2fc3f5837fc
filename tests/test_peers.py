"""The openSMILE peers of ``python -m train compare`` (train/peers.py) on real EmoDB speech:
eGeMAPS functionals through the training trim and cache, and a peer row scored with a
recipe's normaliser and SVM."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from train.corpora import read_corpus

opensmile = pytest.importorskip("opensmile", reason="openSMILE peers need the `opensmile` package (extra `peers` / `dev`)")


@pytest.fixture(scope="module")
def emodb_subset(emodb_root):
    """Four EmoDB speakers, four emotions: 50-odd real utterances."""
    recs = read_corpus("emodb", emodb_root).records
    keep = {"emodb-03", "emodb-08", "emodb-09", "emodb-10"}
    return [r for r in recs if r.speaker in keep and r.label in ("angry", "sad", "neutral", "happy")]


def test_egemaps_functionals_of_real_files(emodb_subset, tmp_path):
    from train.extract import extract_features
    from train.peers import peer_feature_names

    by = {lab: next(r for r in emodb_subset if r.speaker == "emodb-03" and r.label == lab) for lab in ("angry", "sad")}
    paths = [by["angry"].path, by["sad"].path]
    X, rep = extract_features(paths, recipe="egemaps", n_jobs=1, cache_dir=tmp_path, progress=False)
    names = peer_feature_names("egemaps")
    assert X.shape == (2, 88) and len(names) == 88, rep
    assert np.isfinite(X).all()
    # the same speaker's anger is louder than their sadness (eGeMAPS loudness, Eyben et al. 2016)
    j = names.index("loudness_sma3_amean")
    assert X[0, j] > X[1, j], (X[0, j], X[1, j])
    X2, rep2 = extract_features(paths, recipe="egemaps", n_jobs=1, cache_dir=tmp_path, progress=False)
    assert rep2.n_cached == 2 and np.array_equal(X, X2)


def test_peer_row_is_speaker_independent_and_beats_chance(emodb_subset):
    from train.evaluate import load_protocol_features
    from train.peers import run_peer
    from train.recipe import NormalizerSpec, Recipe

    recipe = Recipe(
        name="small", corpora=("emodb",), labels=("neutral", "happy", "sad", "angry"),
        normalizer=NormalizerSpec(enabled=True, prior_weight=10.0), grid=("linear C=1e-3",),
        exclude=("mfcc",),  # our column prefixes: a peer row must ignore them
    )
    data = load_protocol_features("emodb-loso", recipe="egemaps", labels=recipe.labels, source={"emodb": emodb_subset},
                                  n_jobs=1, progress=False)
    results = run_peer("emodb-loso", recipe, "egemaps", n_jobs=1, progress=False, data=data)
    res = results["speaker"]
    assert res.classifier == "opensmile-egemaps+small" and res.extra["feature_set"] == "egemaps"
    assert len(res.folds) == 4 and res.confusion.sum() == len(emodb_subset)
    # four emotions, chance 25 %: eGeMAPS with per-speaker normalisation is far above it
    assert res.ua_pct[0] > 45, res.headline()


def test_ser_live_never_imports_opensmile():
    code = "import sys, ser_live, ser_live.cli, ser_live.model, ser_live.pipeline; print('opensmile' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
