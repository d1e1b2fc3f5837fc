"""The Python API (README, "Use it from Python") on what a script really passes it: arrays at
another sample rate, int16-range floats, NaN, lists and scalars, silence; a Recognizer whose
file fails mid-way or that was never started; shipped models by name; the extractor a model
needs. Real corpus audio throughout (``$SER_LIVE_DATA``)."""

from __future__ import annotations

import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audio import FileSource
from ser_live.audiofile import decode_audio, load_audio, write_wav
from ser_live.errors import AudioFileError, ModelError, NoSpeechError
from ser_live.features import FeatureExtractor
from ser_live.model import MODELS_DIR, EmotionModel, shipped_model_names
from ser_live.offline import Predictor
from ser_live.pipeline import Recognizer
from ser_live.types import Prediction

from .test_pipeline import SR, model, session, test_model_path  # noqa: F401 (fixtures)

#: A RAVDESS file of one utterance (angry, strong).
CLIP = "Actor_05/03-01-05-02-01-01-05.flac"


@pytest.fixture(scope="module")
def clip(ravdess_root: Path) -> Path:
    return ravdess_root / CLIP


def _mono_original(data_root: Path) -> Path:
    """A 48 kHz RAVDESS original that is mono (two of them are stereo)."""
    files = [f for f in sorted((data_root / "samples" / "ravdess-48k").glob("*.wav")) if sf.info(str(f)).channels == 1]
    if not files:
        pytest.skip("no mono 48 kHz RAVDESS original in samples/ravdess-48k")
    return files[0]


# ---------------------------------------------------------------- signals: rate, range, type
def test_a_signal_at_another_rate_is_resampled_as_its_file_is(data_root, clip, model):
    import soxr

    p = Predictor(model)
    # a 48 kHz original read with soundfile: exactly the file's prediction, whole and cut
    f48 = _mono_original(data_root)
    y48, rate = sf.read(str(f48), dtype="float32")
    assert rate == 48000
    assert p.process_signal(y48, sample_rate_hz=48000) == p.process_file(f48)
    assert [r.prediction for r in p.process_signal(y48, sample_rate_hz=48000, segments=True)] == [
        r.prediction for r in p.process_file(f48, segments=True)]
    assert model.predict_signal(y48, sample_rate_hz=48000) == model.predict_signal(decode_audio(f48))
    # a 44.1 kHz version of a 16 kHz clip: (nearly) the clip's result
    y16 = load_audio(clip)
    y44 = soxr.resample(y16, SR, 44100, quality="HQ")
    ref, got = p.process_file(clip), p.process_signal(y44, sample_rate_hz=44100)
    assert got.label == ref.label
    assert max(abs(got.probabilities[k] - ref.probabilities[k]) for k in ref.probabilities) < 0.05
    for bad in (0, -16000):
        with pytest.raises(ValueError, match="sample_rate_hz"):
            p.process_signal(y16, sample_rate_hz=bad)
        with pytest.raises(ValueError, match="sample_rate_hz"):
            model.predict_signal(y16, sample_rate_hz=bad)


def test_int16_range_floats_are_refused_and_decoder_overshoot_is_not(data_root, clip, model):
    p = Predictor(model)
    y = load_audio(clip)
    for segments in (False, True):
        with pytest.raises(ValueError, match=r"\[-1, 1\].*32768"):
            p.process_signal(y * 32768, segments=segments)
    with pytest.raises(ValueError, match=r"\[-1, 1\].*32768"):
        model.predict_signal(y * 32768)
    # clipped speech decoded from Ogg Opus overshoots full scale (peak 1.11): still audio
    f = data_root / "es_uem" / "data" / "13" / "Ira_7.ogg"
    if not f.exists():
        pytest.skip(f"{f} not found")
    loud = sf.read(str(f), dtype="float32")[0]
    assert 1.05 < np.abs(loud).max() < 1.2
    assert isinstance(p.process_signal(loud), Prediction)
    assert p.process_signal(loud, segments=True)


def test_a_16k_float_signal_over_full_scale_gives_its_float_files_result(clip, model, tmp_path):
    """A 16 kHz float array with peaks above full scale (1.5: taken, up to MAX_FLOAT_PEAK)
    gives exactly the result of the float WAV holding the same samples, whole and cut, from
    the Predictor and the model alike: the decoder clips the file's samples at full scale
    and rounds them to int16, and the array now goes the same way. Before, at 16 kHz the
    whole-signal verbs passed the unclipped floats to the extractor."""
    y = load_audio(clip)
    y = (y * (1.5 / np.abs(y).max())).astype(np.float32)
    assert np.abs(y).max() > 1.4
    wav = tmp_path / "loud-float.wav"
    sf.write(str(wav), y, SR, subtype="FLOAT")
    assert np.abs(sf.read(str(wav), dtype="float32")[0]).max() > 1.4  # the file holds the overshoot
    p = Predictor(model)
    assert p.process_signal(y) == p.process_file(wav)
    assert [r.prediction for r in p.process_signal(y, segments=True)] == [
        r.prediction for r in p.process_file(wav, segments=True)]
    assert model.predict_signal(y) == model.predict_signal(decode_audio(wav))


def test_nan_samples_are_one_clear_error_whole_or_cut(clip, model):
    p = Predictor(model)
    y = load_audio(clip).copy()
    y[SR] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning on the way
        for segments in (False, True):
            with pytest.raises(ValueError, match="NaN or infinite samples, the first at sample 16000"):
                p.process_signal(y, segments=segments)


def test_array_likes_are_taken_and_scalars_and_2d_refused(clip, model):
    p = Predictor(model)
    y = load_audio(clip)
    assert p.process_signal(y.tolist()) == p.process_signal(y)
    assert [r.prediction for r in p.process_signal(list(y), segments=True)] == [
        r.prediction for r in p.process_signal(y, segments=True)]
    for bad, shape in ((np.float32(0.1), r"\(\)"), (np.stack([y, y], axis=1), r"\(\d+, 2\)")):
        for segments in (False, True):
            with pytest.raises(ValueError, match=rf"mono.*shape {shape}"):
                p.process_signal(bad, segments=segments)


def test_silence_is_no_speech_for_the_predictor(model):
    """``model.predict_signal`` classifies whatever it is given (its docstring says so; a
    benchmark warms a model up on zeros); the Predictor runs the VAD and refuses silence."""
    p = Predictor(model)
    rng = np.random.default_rng(0)
    for y, rate in ((np.zeros(SR, np.float32), SR), (np.zeros(44100, np.int16), 44100),
                    ((1e-4 * rng.standard_normal(2 * SR)).astype(np.float32), SR)):
        with pytest.raises(NoSpeechError, match="no speech detected"):
            p.process_signal(y, sample_rate_hz=rate)
        assert p.process_signal(y, sample_rate_hz=rate, segments=True) == []
    assert "NoSpeechError" in EmotionModel.predict_signal.__doc__


# ---------------------------------------------------------------- Recognizer iteration
def test_iterating_a_failed_replay_raises_its_error_after_its_results(session, model, tmp_path):
    _, x, _ = session
    nan_wav = tmp_path / "nan.wav"
    y = x.astype(np.float32) / 32768
    y[6 * SR] = np.nan
    sf.write(str(nan_wav), y, SR, subtype="FLOAT")
    cut_wav = write_wav(tmp_path / "cut.wav", x)
    data = cut_wav.read_bytes()
    cut_wav.write_bytes(data[: len(data) // 2])  # the header still announces every sample
    for path in (nan_wav, cut_wav):
        results = []
        with Recognizer(FileSource(path, speed=0), model) as rec:
            with pytest.raises(AudioFileError, match=path.name) as caught:
                for r in rec:
                    results.append(r)
        assert caught.value is rec.error  # what `ser-live --input` reports
        assert results and all(r.utterance.end_s <= len(x) / SR / 2 + 0.5 for r in results)


def test_iterating_ends_quietly_at_the_end_or_a_stop(clip, session, model):
    with Recognizer(FileSource(clip, speed=0), model) as rec:
        assert len(list(rec)) == 1 and rec.error is None
    path, x, spans = session
    with Recognizer(FileSource(path, speed=1), model) as rec:  # real time: stopped long before its end
        threading.Timer(2.0, rec.stop).start()
        results = list(rec)
    # (bounds by the session's length, not by the timer's 2 s: a loaded machine may be late)
    assert rec.error is None and rec.processed_samples < len(x) and len(results) < len(spans)


def test_iterating_a_recognizer_never_started_is_refused_not_a_hang(clip, model):
    rec = Recognizer(FileSource(clip, speed=0), model)
    out: dict = {}

    def consume() -> None:
        try:
            out["results"] = list(rec)
        except RuntimeError as exc:
            out["error"] = exc

    t = threading.Thread(target=consume, daemon=True)
    t.start()
    t.join(10.0)
    assert "error" in out, "iterating a Recognizer never started did not fail within 10 s"
    assert "with Recognizer(...) as rec:" in str(out["error"]) and "start()" in str(out["error"])


# ---------------------------------------------------------------- models and extractor
def test_shipped_models_load_by_short_name_and_errors_name_no_cli_flag(tmp_path):
    names = shipped_model_names()
    if "7class" not in names:
        pytest.skip(f"no shipped 7class model in {MODELS_DIR}")
    m = EmotionModel.load("7class")
    assert m.path == MODELS_DIR / "ser-7class.skops" and len(m.labels) == 7
    assert EmotionModel.load("default").path == MODELS_DIR / "ser-default.skops"
    # the full name, as the model card and the dashboard give it ("no model named 'ser-7class'" before)
    assert EmotionModel.load("ser-7class").path == MODELS_DIR / "ser-7class.skops"
    with pytest.raises(ModelError, match="no model named 'ser-nosuch'"):
        EmotionModel.load("ser-nosuch")
    with pytest.raises(ModelError, match="no model named 'nosuch'.*shipped: 7class") as caught:
        EmotionModel.load("nosuch")
    assert "--model" not in str(caught.value)
    with pytest.raises(ModelError, match="not found") as caught:
        EmotionModel.load(tmp_path / "missing.skops")
    assert "--model" not in str(caught.value)


def test_the_extractor_docstring_says_how_to_get_a_models_extractor():
    path = MODELS_DIR / "ser-default.skops"
    if not path.exists():
        pytest.skip(f"no shipped default model at {path}")
    m = EmotionModel.load(path)
    n = m.header()["n_features"]
    assert FeatureExtractor(m.feature_config).n_features == n != FeatureExtractor().n_features
    doc = FeatureExtractor.__doc__
    assert "FeatureExtractor(model.feature_config)" in doc and "model.extractor" in doc
    assert "the default is what the shipped model uses" not in doc


def test_predict_features_says_what_it_takes(model):
    """Its docstring said ValueError for another number of features, but it raises ModelError;
    a (1, n_features) row was read as a 3-D array and refused as 'expects n features, got 1'."""
    n = model.extractor.n_features
    x = np.zeros(n, dtype=np.float32)
    assert model.predict_features(x).label in model.labels
    with pytest.raises(ValueError, match=r"one feature vector of shape \(n_features,\), got shape \(1, %d\).*"
                                         r"predict_proba" % n):
        model.predict_features(x[None, :])
    with pytest.raises(ModelError, match=f"expects {n} features, got 10"):
        model.predict_features(np.zeros(10, dtype=np.float32))
    assert "ModelError" in EmotionModel.predict_features.__doc__
