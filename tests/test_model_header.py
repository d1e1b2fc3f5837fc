"""A model file's header (labels, feature configuration, metadata) edited or written by someone
else: refused with a ModelError (``ser-live`` exit 5) that says what is wrong, never a
traceback, a gigabyte allocation, or a model that loads and answers with the wrong extractor."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_live.errors import ModelError
from ser_live.features import FEATURE_VERSION, FeatureConfig
from ser_live.model import MODELS_DIR, EmotionModel

REPO_ROOT = Path(__file__).resolve().parents[1]
SRC = MODELS_DIR / "ser-default.npz"


def _with_header(dst: Path, edit) -> Path:  # noqa: ANN001
    """A copy of the shipped arrays file whose JSON header ``edit(header)`` changed."""
    if not SRC.is_file():
        pytest.skip("models/ser-default.npz not exported")
    with np.load(SRC, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(arrays.pop("header").tobytes())
    edit(header)
    with open(dst, "wb") as f:
        np.savez(f, header=np.frombuffer(json.dumps(header).encode(), dtype=np.uint8), **arrays)
    return dst


def _feature_config(**changes):  # noqa: ANN202
    def edit(h: dict) -> None:
        h["feature_config"].update(changes)
    return edit


@pytest.mark.parametrize("changes, message", [
    ({"hop_length": 0}, "hop_length"),            # was ZeroDivisionError while setting up the extractor
    ({"n_fft": 0}, "n_fft"),                      # ZeroDivisionError
    ({"sample_rate_hz": 0}, "sample_rate_hz"),    # ZeroDivisionError
    ({"n_mels": "64"}, "n_mels"),                 # TypeError
    ({"n_fft": 2 ** 34}, "n_fft"),                # tried to allocate 64 GiB
    ({"n_mels": 10 ** 8}, "n_mels"),              # tried to allocate 382 GiB
    ({"n_fft": 512}, "pitch lags"),               # the extractor's own check, a ValueError
    ({"level_normalize": 1}, "level_normalize"),
    ({"f0_min_hz": None}, "f0_min_hz"),
    ({"percentiles": [10.0, 50.0, 90.0, 99.0]}, "percentiles"),
], ids=["hop0", "nfft0", "sr0", "nmels-str", "nfft-huge", "nmels-huge", "nfft-small", "bool-int", "none", "percentiles"])
def test_a_feature_configuration_the_extractor_cannot_take_is_refused(tmp_path, changes, message):
    path = _with_header(tmp_path / "m.npz", _feature_config(**changes))
    with pytest.raises(ModelError, match=f"another feature extractor.*{message}"):
        EmotionModel.load(path)


def test_a_model_of_another_feature_extractor_version_is_refused(tmp_path):
    """Same layout and names, but ``version`` says the computation differs: before, it loaded
    and scored this version's features."""
    path = _with_header(tmp_path / "m.npz", _feature_config(version=FEATURE_VERSION + 1))
    with pytest.raises(ModelError, match=f"version {FEATURE_VERSION + 1}.*retrain"):
        EmotionModel.load(path)


def test_the_shipped_configurations_and_the_default_read_back():
    assert FeatureConfig.from_dict(FeatureConfig().to_dict()) == FeatureConfig()
    assert FeatureConfig.from_dict(FeatureConfig(n_mels=40, voice_quality=True).to_dict()).n_mels == 40
    for p in sorted(MODELS_DIR.glob("*.npz")):
        EmotionModel.load(p)


def test_a_huge_feature_configuration_ends_with_exit_5_not_a_traceback(tmp_path, emodb_root):
    path = _with_header(tmp_path / "m.npz", _feature_config(n_fft=2 ** 34))
    wav = sorted((emodb_root / "wav").glob("03a01*"))[0]
    out = subprocess.run([sys.executable, "-m", "ser_live", "predict", str(wav), "--model", str(path)],
                         capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert out.returncode == 5, out.stderr
    assert "Traceback" not in out.stderr and "n_fft" in out.stderr


def _header(**changes):  # noqa: ANN202
    def edit(h: dict) -> None:
        h.update(changes)
    return edit


@pytest.mark.parametrize("changes, message", [
    ({"labels": ["neutral", "neutral", "sad", "angry"]}, "neutral more than once"),
    ({"labels": ["\x1b]0;pwned\x07neutral", "happy", "sad", "angry"]}, "control characters"),
    ({"labels": ["neutral", "", "sad", "angry"]}, "not a list of label names"),
    ({"metadata": [[]]}, "'metadata' is a list"),
], ids=["label-twice", "label-escape", "label-empty", "metadata-list"])
def test_labels_and_metadata_that_are_not_a_models_are_refused(tmp_path, changes, message):
    """A label twice loaded and collapsed two classes' probabilities into one key (or, from a
    .skops, failed at the first prediction with a traceback); an escape sequence in a label
    was printed to the terminal as it is; a list as metadata was a ValueError traceback."""
    path = _with_header(tmp_path / "m.npz", _header(**changes))
    with pytest.raises(ModelError, match=f"corrupt model file: {message}" if "metadata" in message else message):
        EmotionModel.load(path)


def test_a_label_twice_in_a_skops_file_is_refused(tmp_path):
    import zipfile

    src = MODELS_DIR / "ser-default.skops"
    dst = tmp_path / "m.skops"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        schema = json.loads(zin.read("schema.json"))
        schema["content"]["labels"]["content"][1]["content"] = json.dumps("neutral")
        for info in zin.infolist():
            zout.writestr(info, json.dumps(schema) if info.filename == "schema.json" else zin.read(info))
    with pytest.raises(ModelError, match="neutral more than once"):
        EmotionModel.load(dst)


def test_a_models_name_reaches_the_terminal_without_escape_sequences(tmp_path):
    path = _with_header(tmp_path / "m.npz", _header(name="\x1b[31mEVIL\x1b[0m\x07"))
    assert EmotionModel.load(path).name == "EVIL"
    path = _with_header(tmp_path / "n.npz", _header(name=["not", "a", "name"]))
    assert EmotionModel.load(path).name == "n"


def test_a_folder_fifo_or_device_given_as_the_model_is_refused_at_once(tmp_path, emodb_root):
    """A FIFO blocked the loader for ever (and /dev/zero read until memory ran out: not run
    here); a folder was 'not a ser-live model file (IsADirectoryError ...)'."""
    import os

    with pytest.raises(ModelError, match="is a folder"):
        EmotionModel.load(tmp_path)
    fifo = tmp_path / "m.npz"
    os.mkfifo(fifo)
    wav = sorted((emodb_root / "wav").glob("03a01*"))[0]
    out = subprocess.run([sys.executable, "-m", "ser_live", "predict", str(wav), "--model", str(fifo)],
                         capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert out.returncode == 5 and "not a regular file" in out.stderr, out.stderr


@pytest.mark.parametrize("cap", [-5, 0, True], ids=["negative", "zero", "bool"])
def test_a_session_cap_that_is_not_a_positive_count_is_refused(tmp_path, cap):
    """A negative cap loaded: every session's statistics then weighed less than nothing."""
    def edit(h: dict) -> None:
        h["estimator"]["normalizer"]["session_cap"] = cap
    with pytest.raises(ModelError, match="normaliser settings"):
        EmotionModel.load(_with_header(tmp_path / "m.npz", edit))
