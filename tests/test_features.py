"""The one feature extractor, on real corpus speech."""

from __future__ import annotations

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.features import (
    FeatureConfig,
    FeatureExtractor,
    chroma_filterbank,
    framewise_descriptors,
    mel_filterbank,
)


@pytest.fixture(scope="module")
def fx() -> FeatureExtractor:
    return FeatureExtractor()


@pytest.fixture(scope="module")
def angry_male(ravdess_root) -> np.ndarray:
    return load_audio(ravdess_root / "Actor_01" / "03-01-05-02-01-01-01.flac")


@pytest.fixture(scope="module")
def neutral_female(ravdess_root) -> np.ndarray:
    return load_audio(ravdess_root / "Actor_02" / "03-01-01-01-01-01-02.flac")


def test_shape_names_dtype(fx, angry_male):
    v = fx.extract(angry_male)
    names = fx.feature_names()
    assert v.dtype == np.float32
    assert v.shape == (fx.n_features,) == (len(names),)
    assert len(set(names)) == len(names), "feature names must be unique"
    assert np.isfinite(v).all()
    # the card's descriptors are all present
    for prefix in ("mfcc0_", "mfcc3_d_", "mel10_", "chroma5_", "centroid_", "zcr_", "f0_st_", "hnr_db_"):
        assert any(n.startswith(prefix) for n in names), prefix


def test_deterministic_and_int16_equivalent(fx, angry_male):
    a = fx.extract(angry_male)
    b = fx.extract(angry_male.copy())
    assert np.array_equal(a, b)
    as_int16 = np.clip(np.rint(angry_male * 32768), -32768, 32767).astype(np.int16)
    c = fx.extract(as_int16)
    assert np.allclose(a, c, rtol=1e-3, atol=1e-3)


def test_level_normalisation_makes_gain_irrelevant(fx, neutral_female):
    a = fx.extract(neutral_female)
    b = fx.extract(neutral_female * np.float32(0.25))  # 12 dB quieter microphone
    assert np.allclose(a, b, rtol=1e-3, atol=1e-2)


def test_filterbanks_equal_librosa():
    librosa = pytest.importorskip("librosa")
    m = mel_filterbank(sample_rate_hz=16000, n_fft=1024, n_mels=64, fmax_hz=8000)
    assert np.allclose(m, librosa.filters.mel(sr=16000, n_fft=1024, n_mels=64, fmax=8000), atol=1e-7)
    c = chroma_filterbank(sample_rate_hz=16000, n_fft=1024)
    assert np.allclose(c, librosa.filters.chroma(sr=16000, n_fft=1024), atol=1e-7)


def test_mfcc_matches_librosa_from_same_power_spectrum(fx, angry_male):
    """Our MFCC = DCT-II (ortho) of the dB mel spectrum, as librosa.feature.mfcc computes it."""
    librosa = pytest.importorskip("librosa")
    cfg = fx.config
    d = fx.framewise(angry_male)
    # rebuild the same power spectrogram (level-normalised input) and let librosa take it from there
    y = fx._prepare(angry_male)
    n = d["mfcc"].shape[1]
    y = np.concatenate([y, np.zeros(cfg.win_length, np.float32)])  # the extractor zero-pads the tail
    frames = np.lib.stride_tricks.sliding_window_view(y, cfg.win_length)[:: cfg.hop_length][:n]
    spec = np.fft.rfft(frames * fx._analysis.window, n=cfg.n_fft, axis=1)
    S = (np.abs(spec) ** 2).T
    mel = librosa.feature.melspectrogram(S=S, sr=cfg.sample_rate_hz, n_mels=cfg.n_mels, fmax=cfg.fmax_hz)
    ref = librosa.feature.mfcc(S=10 * np.log10(np.maximum(mel, 1e-10)), n_mfcc=cfg.n_mfcc)
    assert np.allclose(d["mfcc"], ref, atol=2e-2 * np.abs(ref).max())


def test_pitch_tracks_speaker_register(fx, angry_male, neutral_female, ravdess_root):
    """Median f0 of a neutral male voice sits far below a neutral female one (RAVDESS 01 vs 02)."""
    male = fx.framewise(load_audio(ravdess_root / "Actor_01" / "03-01-01-01-01-01-01.flac"))["pitch"][0]
    female = fx.framewise(neutral_female)["pitch"][0]
    m, f = np.median(male[male > 0]), np.median(female[female > 0])
    assert 80 < m < 160, m
    assert 160 < f < 300, f
    # shouted anger is higher than the same speaker's neutral
    angry = fx.framewise(angry_male)["pitch"][0]
    assert np.median(angry[angry > 0]) > 1.5 * m


def test_framewise_layout(fx, angry_male):
    d = fx.framewise(angry_male)
    n_frames = d["mfcc"].shape[1]
    expect_frames = 1 + int(np.ceil((angry_male.size - 400) / 160))
    assert n_frames == expect_frames
    assert d["mfcc"].shape == (20, n_frames)
    assert d["logmel"].shape == (64, n_frames)
    assert d["chroma"].shape == (12, n_frames)
    sums = d["chroma"].sum(axis=0)
    audible = d["energy"][0] > -90  # RMS dBFS; RAVDESS files end in digital silence
    assert np.allclose(sums[audible], 1.0, atol=1e-4)
    assert np.all(sums[~audible] <= 1.0 + 1e-4)
    assert all(v.dtype == np.float32 for v in d.values())


def test_silence_gives_defined_finite_features(fx):
    v = fx.extract(np.zeros(16000, dtype=np.float32))
    assert np.isfinite(v).all()
    names = fx.feature_names()
    assert v[names.index("voiced_fraction")] == 0.0
    assert v[names.index("f0_st_mean")] == 0.0


def test_too_short_or_bad_input_is_a_clear_error(fx):
    with pytest.raises(ValueError, match="shorter than"):
        fx.extract(np.zeros(500, dtype=np.float32))
    with pytest.raises(ValueError, match="mono"):
        fx.extract(np.zeros((2, 16000), dtype=np.float32))
    bad = np.zeros(16000, dtype=np.float32)
    bad[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fx.extract(bad)


def test_config_hash_changes_with_config():
    a = FeatureConfig()
    b = FeatureConfig(n_mels=40)
    assert a.config_hash != b.config_hash
    assert FeatureConfig.from_dict(a.to_dict()) == a
    assert FeatureExtractor(b).n_features != FeatureExtractor(a).n_features


def test_emotion_separates_on_real_speech(fx, ravdess_root):
    """Loud-frame level is measured after normalisation, so use f0 and spectral tilt:
    across Actor_01's files, angry (05, strong) has higher f0 and centroid than sad (04)."""
    names = fx.feature_names()
    def feats(code):
        files = sorted((ravdess_root / "Actor_01").glob(f"03-01-{code}-02-*-*-01.flac"))
        return np.array([fx.extract(load_audio(f)) for f in files])
    angry, sad = feats("05"), feats("04")
    j = names.index("f0_st_p50")
    assert angry[:, j].mean() > sad[:, j].mean() + 3  # semitones
    k = names.index("centroid_mean")
    assert angry[:, k].mean() > sad[:, k].mean()
