"""``--denoise`` (ser_live/denoise.py) on corpus speech in noise: it lowers the noise, keeps
the speech, runs the same in ``predict``, the offline Predictor and the live Recognizer, and
says how to install it when ``noisereduce`` is missing."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio, to_int16, write_wav
from ser_live.cli import main
from ser_live.denoise import DenoiseUnavailableError, DenoisingExtractor, denoise, with_denoise
from ser_live.model import EmotionModel
from ser_live.offline import Predictor
from train.conditions import Condition

pytest.importorskip("noisereduce", reason="the denoise extra is not installed (pip install 'ser-live[denoise]')")

SR = 16000
FILES = ["Actor_03/03-01-05-01-01-01-03.flac", "Actor_08/03-01-04-01-02-01-08.flac"]  # angry, sad
LEAD = slice(0, int(0.5 * SR))  # the recordings' silent lead: noise only once noise is added


def _db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, np.float64) ** 2) + 1e-30))


def _speech_db(x: np.ndarray) -> float:
    n = len(x) // 400
    rms = np.sqrt((np.asarray(x[: n * 400], np.float64).reshape(n, 400) ** 2).mean(axis=1))
    return float(20 * np.log10(np.percentile(rms, 90)))


@pytest.fixture(scope="module")
def clean(ravdess_root: Path) -> list[np.ndarray]:
    out = []
    for rel in FILES:
        p = ravdess_root / rel
        if not p.exists():
            pytest.skip(f"{p} not found")
        out.append(load_audio(p))
    return out


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel.load()


@pytest.mark.parametrize("noise", ["white", "pink", "brown"])
def test_denoise_lowers_the_noise_and_keeps_the_speech(clean, noise):
    for i, y in enumerate(clean):
        noisy = Condition("n", noise=noise, snr_db=10.0).apply(y, seed_key=f"dn{i}")
        out = denoise(noisy)
        assert out.dtype == np.float32 and out.shape == noisy.shape
        noise_drop_db = _db(noisy[LEAD]) - _db(out[LEAD])
        speech_drop_db = _speech_db(noisy) - _speech_db(out)
        assert noise_drop_db > 10.0, (noise, i, noise_drop_db)  # 0.8 attenuation gives ~14 dB
        assert speech_drop_db < 6.0, (noise, i, speech_drop_db)  # a quiet sad utterance loses ~4.5 dB
        # measured SNR (speech level over the noise-only lead) rises by at least 6 dB
        assert (_speech_db(out) - _db(out[LEAD])) - (_speech_db(noisy) - _db(noisy[LEAD])) > 6.0


def test_denoise_changes_clean_speech_little(clean):
    for y in clean:
        assert abs(_speech_db(denoise(y)) - _speech_db(y)) < 1.0


def test_denoise_input_checks():
    assert np.array_equal(denoise(np.full(100, 0.1, np.float32)), np.full(100, 0.1, np.float32))  # < one frame
    with pytest.raises(ValueError, match="mono"):
        denoise(np.zeros((2, SR), np.float32))
    ints = (np.random.default_rng(0).standard_normal(SR) * 1000).astype(np.int16)
    assert np.allclose(denoise(ints), denoise(ints.astype(np.float32) / 32768.0))


def test_with_denoise_wraps_a_copy_and_predictor_uses_it(clean, model):
    noisy = Condition("n", noise="pink", snr_db=5.0).apply(clean[0], seed_key="p")
    dm = with_denoise(model)
    assert isinstance(dm.extractor, DenoisingExtractor) and not isinstance(model.extractor, DenoisingExtractor)
    assert dm.extractor.n_features == model.extractor.n_features
    p_plain, p_den = Predictor(model), Predictor(model, denoise=True)
    heard = to_int16(noisy)  # a float signal is taken as a decoded file's samples are
    a, b = p_den._span(heard, what="x")
    expected = model.predict_features(model.extractor.extract(denoise(heard[a:b])))
    got = p_den.process_signal(noisy)
    assert got.label == expected.label
    assert got.probabilities == pytest.approx(expected.probabilities, abs=1e-6)
    assert got.probabilities != p_plain.process_signal(noisy).probabilities


def test_predict_denoise_command(clean, model, tmp_path, capsys):
    noisy = Condition("n", noise="white", snr_db=10.0).apply(clean[1], seed_key="cli")
    f = write_wav(tmp_path / "noisy.wav", noisy)
    rc = main(["predict", "--denoise", str(f)])
    out, err = capsys.readouterr()
    assert rc == 0, err
    rec = json.loads(out)
    assert rec["label"] in model.labels
    assert main(["predict", str(f)]) == 0
    plain = json.loads(capsys.readouterr()[0])
    assert rec["probabilities"] != plain["probabilities"]  # it did denoise
    offline = Predictor(model, denoise=True).process_file(f)
    assert rec["label"] == offline.label


def test_live_denoise_gives_what_offline_segments_give(clean, model, tmp_path):
    from ser_live.audio import FileSource

    from .test_pipeline import run_recognizer

    gap = np.zeros(SR, np.float32)
    y = np.concatenate([gap, clean[0], gap, clean[1], gap])
    noisy = Condition("n", noise="brown", snr_db=20.0).apply(y, seed_key="live")
    f = write_wav(tmp_path / "session.wav", noisy)
    _, live = run_recognizer(FileSource(f, speed=0), model, denoise=True)
    offline = Predictor(model, denoise=True).process_file(f, segments=True)
    assert len(live) == len(offline) >= 1
    for a, b in zip(live, offline):
        assert a.prediction.label == b.prediction.label
        assert a.prediction.probabilities == pytest.approx(b.prediction.probabilities, abs=1e-5)


def test_missing_noisereduce_is_a_clear_error(clean, tmp_path, capsys, monkeypatch):
    f = write_wav(tmp_path / "clip.wav", clean[0])
    monkeypatch.setitem(sys.modules, "noisereduce", None)  # import noisereduce -> ImportError
    for argv in (["predict", "--denoise", str(f)], ["--denoise", "--input", str(f), "--plain", "--speed", "0"]):
        rc = main(argv)
        out, err = capsys.readouterr()
        assert rc == 2, (argv, err)
        assert "pip install 'ser-live[denoise]'" in err and "noisereduce" in err
        assert out == ""  # nothing classified or half-written
    with pytest.raises(DenoiseUnavailableError, match=r"ser-live\[denoise\]"):
        with_denoise(EmotionModel.load())
    assert main(["predict", str(f)]) == 0  # without --denoise nothing needs it
    assert json.loads(capsys.readouterr()[0])["label"]
