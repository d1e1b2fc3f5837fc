"""The one feature extractor, on real corpus speech."""

from __future__ import annotations

import dataclasses

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


# ----------------------------------------------------------------------------- layout: names <-> values
SR = 16000


def _tone(f_hz: float, *, amplitude: float = 0.1, duration_s: float = 2.0) -> np.ndarray:
    t = np.arange(int(duration_s * SR)) / SR
    return (amplitude * np.sin(2 * np.pi * f_hz * t)).astype(np.float32)


@pytest.fixture(scope="module")
def fx_raw() -> FeatureExtractor:
    """No level normalisation: the input's level reaches the energy columns as it is."""
    return FeatureExtractor(FeatureConfig(level_normalize=False))


def test_named_columns_hold_known_properties_of_a_tone(fx_raw):
    """A 220 Hz tone at amplitude 0.1: each named column shows the property its name says."""
    v = dict(zip(fx_raw.feature_names(), fx_raw.extract(_tone(220.0))))
    st_220 = 12 * np.log2(220 / 100)  # semitones re 100 Hz
    assert v["f0_st_p50"] == pytest.approx(st_220, abs=0.1)
    assert v["f0_mean_st"] == pytest.approx(st_220, abs=0.1)
    assert v["voiced_fraction"] > 0.9
    rms_db = 20 * np.log10(0.1 / np.sqrt(2))  # -23.0 dBFS
    assert v["rms_db_p50"] == pytest.approx(rms_db, abs=0.2)
    assert v["rms_db_voiced_mean"] == pytest.approx(rms_db, abs=0.2)
    # the mel band holding 220 Hz is the loudest band on average
    mel = [v[f"mel{i}_mean"] for i in range(fx_raw.config.n_mels)]
    assert mel_filterbank(sample_rate_hz=SR, n_fft=1024, n_mels=64)[:, round(220 / SR * 1024)].argmax() == np.argmax(mel)
    # chroma: A (pitch class 9 counting from C) dominates for A3 = 220 Hz
    chroma = [v[f"chroma{i}_mean"] for i in range(12)]
    assert np.argmax(chroma) == 9


def test_scaling_a_signal_moves_only_level_columns_by_its_gain(fx_raw):
    """A 20 dB quieter tone: RMS percentiles drop by 20 dB, its deltas and pitch do not move."""
    names = fx_raw.feature_names()
    loud, quiet = fx_raw.extract(_tone(300.0, amplitude=0.2)), fx_raw.extract(_tone(300.0, amplitude=0.02))
    col = {n: i for i, n in enumerate(names)}
    for stat in ("p10", "p50", "p90", "mean"):
        assert loud[col[f"rms_db_{stat}"]] - quiet[col[f"rms_db_{stat}"]] == pytest.approx(20.0, abs=0.05)
    assert quiet[col["rms_db_d_p50"]] == pytest.approx(loud[col["rms_db_d_p50"]], abs=1e-3)
    assert quiet[col["f0_st_mean"]] == pytest.approx(loud[col["f0_st_mean"]], abs=1e-3)


def test_chirp_shows_in_slope_and_delta_columns(fx_raw):
    """A linear sweep 500 -> 2500 Hz over 2 s: centroid slope 1000 Hz/s, its delta 10 Hz per frame."""
    t = np.arange(2 * SR) / SR
    y = (0.1 * np.sin(2 * np.pi * (500 * t + 500 * t**2))).astype(np.float32)
    v = dict(zip(fx_raw.feature_names(), fx_raw.extract(y)))
    assert v["centroid_slope"] == pytest.approx(1000.0, rel=0.05)
    hop_s = fx_raw.config.hop_length / SR
    assert v["centroid_d_p50"] == pytest.approx(1000.0 * hop_s, rel=0.05)
    assert abs(v["mfcc1_d_mean"]) < abs(v["centroid_d_mean"])  # the delta block is the centroid's, not another row's


def test_extract_with_frames_hands_over_the_frames_it_pooled(angry_male):
    """``extract_with_frames`` (what ``--speakers N``'s supervector reads): the same feature
    vector as ``extract``, to the bit, for the full extractor and for a shipped model's
    column subset; the MFCCs and voicing of ``framewise`` (one analysis, not two); arrays the
    caller may keep (a second call does not overwrite them)."""
    from ser_live.model import EmotionModel

    for ext in (FeatureExtractor(), EmotionModel.load().extractor):
        x, mfcc, voiced = ext.extract_with_frames(angry_male)
        np.testing.assert_array_equal(x, ext.extract(angry_male))
        fw = ext.framewise(angry_male)
        np.testing.assert_array_equal(mfcc, fw["mfcc"])
        np.testing.assert_array_equal(voiced, fw["pitch"][0] > 0)
        assert mfcc.dtype == np.float32 and voiced.dtype == bool and mfcc.shape[1] == voiced.shape[0]
        assert 0.2 < voiced.mean() < 1.0  # speech: voiced and unvoiced frames
        kept = mfcc.copy()
        ext.extract_with_frames(angry_male[::-1].copy())
        np.testing.assert_array_equal(mfcc, kept)
    with pytest.raises(ValueError, match="shorter"):
        FeatureExtractor().extract_with_frames(angry_male[:100])


def test_edge_trim_extracts_the_active_span_only(angry_male):
    """``FeatureConfig(edge_trim=True)`` (the edge-trim experiment): speech with half a second
    of a -60 dBFS floor before and after is extracted as its active span alone
    (:func:`active_span` of the level-normalised audio), which drops that padding; without the
    flag the padding moves the features."""
    from ser_live.features.gating import active_span

    rng = np.random.default_rng(0)
    speech = np.concatenate([np.zeros(8000, np.float32), angry_male, np.zeros(8000, np.float32)])
    y = (speech + 10 ** (-60 / 20) * rng.standard_normal(len(speech))).astype(np.float32)  # a floor under all
    trim = FeatureExtractor(FeatureConfig(edge_trim=True))
    plain = FeatureExtractor()
    prepared = plain._prepare(y)
    start, end = active_span(prepared)
    assert start >= 8000 and end <= len(y) - 8000  # at least the padding goes
    as_prepared = FeatureExtractor(FeatureConfig(level_normalize=False))  # the span is levelled already
    np.testing.assert_array_equal(trim.extract(y), as_prepared.extract(prepared[start:end]))
    assert not np.allclose(plain.extract(y), trim.extract(y))
    assert "edge_trim" in FeatureConfig(edge_trim=True).to_dict() and "edge_trim" not in FeatureConfig().to_dict()


def test_shape_voiced_pools_the_spectral_shape_over_voiced_frames(angry_male):
    """``FeatureConfig(shape_voiced=True)`` (the shape-voiced experiment): the spectral-shape
    columns are the statistics of their contours over the voiced frames, and their deltas those
    of the voiced frames joined; every other column, and every name, stays; a subset extractor
    (what a model reads) gives the same values; and a -60 dBFS white floor under the pauses
    moves the spectral-shape means (summed relative change) less than half as much as when
    every frame is pooled."""
    from ser_live.features.filterbanks import _delta

    cfg = FeatureConfig(voice_quality=True, edge_trim=True)
    plain, voiced = FeatureExtractor(cfg), FeatureExtractor(dataclasses.replace(cfg, shape_voiced=True))
    names = voiced.feature_names()
    assert names == plain.feature_names()
    a, b = plain.extract(angry_male), voiced.extract(angry_male)
    spectral = np.zeros(len(names), bool)
    spectral[voiced.groups()["spectral"]] = spectral[voiced.groups()["spectral_d"]] = True
    np.testing.assert_array_equal(a[~spectral], b[~spectral])
    assert not np.allclose(a[spectral], b[spectral])

    fw = voiced.framewise(angry_male)
    on = fw["pitch"][0] > 0
    assert 0.2 < on.mean() < 0.9
    rows = [n[: -len("_mean")] for n in np.array(names)[voiced.groups()["spectral"]] if n.endswith("_mean")]
    for r in ("centroid", "flatness", "entropy"):
        contour = fw["spectral"][rows.index(r)][on].astype(np.float64)
        got = dict(zip(names, b))
        np.testing.assert_allclose(got[f"{r}_mean"], contour.mean(), rtol=1e-5)
        np.testing.assert_allclose(got[f"{r}_p50"], np.percentile(contour, 50), rtol=1e-5)
        d = _delta(fw["spectral"][rows.index(r)][None, on], cfg.delta_width)[0].astype(np.float64)
        np.testing.assert_allclose(got[f"{r}_d_std"], d.std(), rtol=1e-4, atol=1e-6)

    cols = np.array([i for i, n in enumerate(names) if n.startswith(("centroid", "flatness_d", "mfcc3_", "rms_db"))])
    np.testing.assert_array_equal(FeatureExtractor(voiced.config, columns=cols).extract(angry_male)[cols], b[cols])

    rng = np.random.default_rng(3)
    pad = np.zeros(4000, np.float32)
    clean = np.concatenate([pad, angry_male, pad])
    floored = (clean + 10 ** (-60 / 20) * rng.standard_normal(len(clean))).astype(np.float32)
    means = [names.index(f"{r}_mean") for r in ("centroid", "flatness", "entropy", "slope")]

    def moved(ext):  # relative change of the spectral-shape means under the floor
        c, f = ext.extract(clean)[means], ext.extract(floored)[means]
        return np.abs(f - c) / np.maximum(np.abs(c), 1e-6)

    assert moved(voiced).sum() < 0.5 * moved(plain).sum(), (moved(voiced), moved(plain))
    assert FeatureConfig.from_dict(voiced.config.to_dict()).shape_voiced
    assert "shape_voiced" not in cfg.to_dict()


def test_active_span_reads_the_levels_of_every_whole_frame(angry_male):
    """``active_span`` frames the squared signal as a strided view; its span is the one a frame
    loop gives (25 ms frames at a 10 ms hop, whole frames only, active more than 10 dB over the
    10th-percentile level, 0.1 s margin), on speech over a floor cut at lengths that leave the
    last frame whole, short by one sample, and in the middle of a hop."""
    from ser_live.features.gating import active_span

    rng = np.random.default_rng(1)
    pad = np.zeros(6000, np.float32)
    y = np.concatenate([pad, angry_male, pad])
    y = (y + 10 ** (-55 / 20) * rng.standard_normal(len(y))).astype(np.float32)

    def by_loop(x):
        x = x.astype(np.float64)
        db = np.array([10 * np.log10(np.mean(x[i:i + 400] ** 2) + 1e-20) for i in range(0, len(x) - 399, 160)])
        on = np.flatnonzero(db > np.percentile(db, 10) + 10)
        return max(0, on[0] * 160 - 1600), min(len(x), on[-1] * 160 + 400 + 1600)

    for n in (len(y), len(y) - 1, 400 + 160 * 500, 400 + 160 * 500 - 1, 400 + 160 * 500 + 80):
        assert active_span(y[:n]) == by_loop(y[:n])
    assert active_span(y[:n])[0] > 4000  # the leading floor is trimmed


def test_pitch_columns_agree_with_framewise_pitch_on_speech(fx, angry_male):
    """Pooled columns of real speech equal the statistics of the framewise contour they name."""
    v = dict(zip(fx.feature_names(), fx.extract(angry_male)))
    f0, _strength, hnr = fx.framewise(angry_male)["pitch"]
    voiced = f0 > 0
    st = 12 * np.log2(f0[voiced].astype(np.float64) / 100)
    assert v["f0_st_p50"] == pytest.approx(np.median(st), abs=1e-3)
    assert v["f0_mean_st"] == pytest.approx(st.mean(), abs=1e-3)
    assert v["hnr_db_p99"] == pytest.approx(np.percentile(hnr[voiced], 99), abs=1e-3)
    assert v["voiced_fraction"] == pytest.approx(voiced.mean(), abs=1e-6)


def test_groups_partition_the_columns_in_layout_order(fx):
    groups = fx.groups()
    cols = np.concatenate(list(groups.values()))
    assert np.array_equal(cols, np.arange(fx.n_features))
    names = fx.feature_names()
    assert [names[i] for i in groups["pitch"]][:2] == ["f0_st_mean", "f0_st_std"]
    assert all(names[i].startswith("mfcc") and "_d_" in names[i] for i in groups["mfcc_d"])
    assert all(names[i].endswith(("_voiced_mean", "_voiced_std")) for i in groups["energy_voiced"])
    for entry in fx.layout:
        assert [names[i] for i in groups[entry.group]] == entry.column_names()


# ----------------------------------------------------------------------------- process tuning


def test_extractor_leaves_the_process_alone_and_tune_process_is_idempotent(monkeypatch, angry_male):
    """Making and using an extractor changes no process-wide setting; the entry points'
    tune_process() applies each setting once however often it is called."""
    from ser_live import runtime

    calls: list[str] = []
    monkeypatch.setattr(runtime, "_allocator_result", None)
    monkeypatch.setattr(runtime, "_blas_result", None)
    monkeypatch.setattr(runtime, "_set_malloc_thresholds", lambda: calls.append("malloc") or True)
    monkeypatch.setattr(runtime, "_set_blas_threads", lambda: calls.append("blas") or True)
    FeatureExtractor().extract(angry_male)
    assert calls == []
    first = runtime.tune_process()
    second = runtime.tune_process()
    assert first == second == runtime.ProcessTuning(allocator=True, blas_one_thread=True)
    assert calls == ["malloc", "blas"]


def test_tune_process_obeys_a_user_thread_count(monkeypatch):
    from ser_live import runtime

    monkeypatch.setattr(runtime, "_blas_result", None)
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert runtime.limit_blas_threads() is False


# ----------------------------------------------------------------------------- voice group (eGeMAPS-like)


@pytest.fixture(scope="module")
def fx_voice() -> FeatureExtractor:
    return FeatureExtractor(FeatureConfig(voice_quality=True))


def test_voice_group_is_off_by_default_and_keeps_the_default_layout(fx, fx_voice, angry_male):
    """The flag adds a trailing group only; the default dict/hash (model files, feature
    caches) and the first 4692 columns are untouched."""
    assert "voice_quality" not in FeatureConfig().to_dict()
    assert "voice" not in fx.groups()
    cfg = FeatureConfig(voice_quality=True)
    assert FeatureConfig.from_dict(cfg.to_dict()) == cfg and cfg.config_hash != FeatureConfig().config_hash
    n = fx.n_features
    assert fx_voice.feature_names()[:n] == fx.feature_names()
    assert np.array_equal(fx_voice.groups()["voice"], np.arange(n, fx_voice.n_features))
    v, v_voice = fx.extract(angry_male), fx_voice.extract(angry_male)
    assert np.array_equal(v_voice[:n], v)
    assert np.isfinite(v_voice).all() and np.isfinite(fx_voice.extract(np.zeros(16000, np.float32))).all()


def test_voice_columns_hold_known_properties_of_tones(fx_voice):
    names = fx_voice.feature_names()
    low, high = (dict(zip(names, fx_voice.extract(_tone(f)))) for f in (220.0, 3000.0))
    # all energy below 1 kHz (alpha ratio, Hammarberg index high) or above it (low)
    assert low["alpha_ratio_db_mean"] > 30 and high["alpha_ratio_db_mean"] < -30
    assert low["hammarberg_db_mean"] > 30 and high["hammarberg_db_mean"] < -30
    # a pure tone has no second harmonic, a steady period and level, one voiced segment
    assert low["h1_h2_db_voiced_mean"] > 30
    assert low["jitter_rel_mean"] < 1e-3 and low["shimmer_db_mean"] < 0.05
    assert low["voiced_segment_mean_s"] == pytest.approx(2.0, abs=0.05)
    assert low["unvoiced_segment_mean_s"] == 0.0
    # 5 loudness bursts per second (amplitude-modulated tone) -> about 5 peaks per second
    t = np.arange(2 * SR) / SR
    y = (_tone(220.0) * (0.55 + 0.45 * np.sin(2 * np.pi * 5 * t))).astype(np.float32)
    am = dict(zip(names, fx_voice.extract(y)))
    assert am["loudness_peaks_per_s"] == pytest.approx(5.0, abs=0.6)
    assert am["loudness_voiced_std"] > 5 * low["loudness_voiced_std"]


def test_voice_columns_separate_anger_from_sadness_on_speech(fx_voice, ravdess_root):
    """Anger has a flatter spectrum than sadness (Eyben et al. 2016; Banse & Scherer 1996):
    lower Hammarberg index and alpha ratio, on RAVDESS actors 1-4 (strong intensity)."""
    names = fx_voice.feature_names()
    def mean_of(code, name):
        files = sorted(ravdess_root.glob(f"Actor_0[1-4]/03-01-{code}-02-*.flac"))
        return np.mean([fx_voice.extract(load_audio(f))[names.index(name)] for f in files])
    for name in ("hammarberg_db_voiced_mean", "alpha_ratio_db_voiced_mean"):
        assert mean_of("05", name) < mean_of("04", name) - 3, name  # dB


def test_named_columns_keep_their_values_on_a_real_file(ravdess_root):
    """A regression guard on the extractor's arithmetic (issue 19 split ser_live/features.py
    into a package; its output was checked bit-identical on 20 corpus files then): a handful
    of named columns of one RAVDESS file, untrimmed, with the voice group, as computed before
    the split. A change here changes every model's input: bump FEATURE_VERSION or the config."""
    y = load_audio(ravdess_root / "Actor_01" / "03-01-05-02-01-01-01.flac")
    fx = FeatureExtractor(FeatureConfig(voice_quality=True))
    v = dict(zip(fx.feature_names(), fx.extract(y).tolist()))
    expected = {
        "rms_db_p5_95": 81.5567, "rms_db_p50": -55.2735, "f0_st_p50": 20.0713, "mfcc1_mean": 27.7609,
        "mfcc3_p90": 22.7109, "centroid_mean": 2387.204, "hnr_db_mean": 9.76395, "zcr_mean": 0.164427,
        "mel10_mean": -48.3848, "chroma3_mean": 0.0846464, "alpha_ratio_db_mean": 1.67133,
        "hammarberg_db_mean": 11.3471,
    }
    assert len(v) == 4729
    for name, value in expected.items():
        assert v[name] == pytest.approx(value, rel=1e-4, abs=1e-4), name


def test_cumulative_power_sums_bins_as_cumsum_does_to_the_bit():
    """The extractor's partial cumulative sums (``_CumulativePower``, used when no roll-off
    is read) equal ``np.cumsum(power, axis=1)`` bit for bit, for one frame and many."""
    from ser_live.features.framewise import _CumulativePower

    rng = np.random.default_rng(0)
    for n_t in (1, 2, 3, 5, 17, 398, 1001):
        for n_bins in (1, 2, 9, 513):
            power = rng.standard_normal((n_t, n_bins)).astype(np.float32) ** 2
            power *= rng.uniform(1e-6, 1e3, size=(n_t, 1)).astype(np.float32)
            cum, lazy = np.cumsum(power, axis=1), _CumulativePower(power)
            for i in (0, n_bins // 3, n_bins // 2, n_bins - 1, -1):
                assert np.array_equal(lazy[:, i], cum[:, i]), (n_t, n_bins, i)
            assert lazy[:, -1:].shape == (n_t, 1) and np.array_equal(lazy[:, -1:], cum[:, -1:])
            if n_bins > 1:
                with pytest.raises(IndexError):
                    lazy[:, 0:2]


def test_reused_scratch_buffers_leave_no_trace(angry_male, neutral_female):
    """The per-thread FFT buffers are reused between utterances of any length and between
    configurations: every extraction equals the one of a fresh process state."""
    from ser_live.features import framewise

    configs = [FeatureConfig(), FeatureConfig(win_length=320, voice_quality=True)]
    inputs = [angry_male, neutral_female[:8000], angry_male[:30000]]
    fresh = {}
    for ci, cfg in enumerate(configs):
        for yi, y in enumerate(inputs):
            framewise._SCRATCH.__dict__.clear()
            fresh[ci, yi] = FeatureExtractor(cfg).extract(y)
    for _ in range(2):
        for ci, cfg in enumerate(configs):
            for yi, y in enumerate(inputs):
                assert np.array_equal(FeatureExtractor(cfg).extract(y), fresh[ci, yi]), (ci, yi)


def test_subsets_without_roll_offs_keep_their_values_to_the_bit(angry_male, neutral_female):
    """Column subsets whose spectral rows need no roll-off take the partial cumulative sums
    (band energies, entropy, the voice group's alpha ratio): the same values as the full
    extraction, for the band-energy, entropy and voice columns alone and together."""
    full = FeatureExtractor(FeatureConfig(voice_quality=True))
    names = full.feature_names()
    pick = lambda *prefixes: np.array([i for i, n in enumerate(names) if n.startswith(prefixes)])
    subsets = [pick("band250_650_db", "band1000_4000_db"), pick("entropy"), pick("alpha_ratio", "hammarberg"),
               pick("band1000_4000_db_d", "centroid", "alpha_ratio_db_voiced", "jitter")]
    for y in (angry_male, neutral_female, neutral_female[:3000]):
        want = full.extract(y)
        for cols in subsets:
            got = full.for_columns(cols).extract(y)
            assert np.array_equal(got[cols], want[cols])


def test_loud_frame_level_equals_numpy_percentile_to_the_bit():
    """The loud-frame level's own linear percentile (the extractor's level normalisation and
    the segmenter's speech level) gives ``np.percentile``'s float to the bit, for float32
    and float64 frames of every length, ties, tiny and huge values, and other percentiles."""
    from ser_live.levels import _linear_percentile, loud_frame_level

    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        for n in [*range(1, 40), 399, 400, 1001]:
            for kind in range(3):
                x = [rng.standard_normal(n) * 10 ** rng.uniform(-6, 3), rng.integers(0, 4, n).astype(float),
                     rng.exponential(1e-3, n)][kind].astype(dtype)
                for q in (90.0, 10.0, 50.0, 0.0, 100.0, 33.3):
                    assert _linear_percentile(x, q) == float(np.percentile(x, q)), (dtype, n, kind, q)
                assert loud_frame_level(x) == float(np.percentile(x, 90.0))
    assert loud_frame_level([-30.5, -20.25, -12.0]) == float(np.percentile([-30.5, -20.25, -12.0], 90.0))
    assert loud_frame_level(np.arange(10)) == float(np.percentile(np.arange(10), 90.0))  # integers: numpy's own


def _functionals_in_float64(x, q, frame_s):
    """The functionals as they were computed before the float32 sort: every step in float64."""
    x = x.astype(np.float64)
    n = x.shape[1]
    mean = x.mean(axis=1)
    c = x - mean[:, None]
    c2 = c * c
    std = np.sqrt(c2.mean(axis=1))
    flat = std <= 1e-8
    safe = np.where(flat, 1.0, std)
    skew = np.where(flat, 0.0, (c2 * c).mean(axis=1) / safe**3)
    kurt = np.where(flat, 0.0, (c2 * c2).mean(axis=1) / safe**4 - 3.0)
    pos = np.asarray(q, dtype=np.float64) / 100.0 * (n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    xs = np.sort(x, axis=1)
    perc = xs[:, lo] * (1.0 - (pos - lo)) + xs[:, hi] * (pos - lo)
    qi = {v: i for i, v in enumerate(q)}
    t = (np.arange(n) - (n - 1) / 2.0) * frame_s
    tt = float(t @ t)
    slope = (c @ t) / tt if tt > 0 else np.zeros(x.shape[0])
    resid = np.sqrt(np.maximum(std**2 - slope**2 * (tt / n), 0.0))
    d = max(n - 1, 1)
    return np.column_stack([mean, std, skew, kurt, perc, perc[:, qi[75.0]] - perc[:, qi[25.0]],
                            perc[:, qi[95.0]] - perc[:, qi[5.0]], slope, resid,
                            np.argmax(x, axis=1) / d, np.argmin(x, axis=1) / d])


def test_functionals_of_float32_contours_equal_the_float64_ones_to_the_bit():
    """The functionals sort (and find the extremes of) float32 contours in float32: the same
    bits as in float64 for rows of every length, with ties, zeros of both signs, infinities
    and NaN."""
    from ser_live.features.pooling import _functionals

    q = FeatureConfig().percentiles
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7, 64, 401):
        rows = [rng.standard_normal(n), np.round(rng.standard_normal(n)), np.zeros(n), np.full(n, 2.5),
                np.where(rng.random(n) < 0.5, 0.0, -0.0), np.where(rng.random(n) < 0.3, 0.0, rng.standard_normal(n)),
                np.where(rng.random(n) < 0.2, np.inf, rng.standard_normal(n)),
                np.where(rng.random(n) < 0.2, np.nan, rng.standard_normal(n))]
        x = np.asarray(rows, dtype=np.float32)
        with np.errstate(invalid="ignore"):
            assert _same_bits(_functionals(x, q, 0.01), _functionals_in_float64(x, q, 0.01)), n
            for i in range(x.shape[0]):  # each row alone (no -0.0 in the others) as well
                assert _same_bits(_functionals(x[i:i + 1], q, 0.01), _functionals_in_float64(x[i:i + 1], q, 0.01)), (n, i)


def _same_bits(a, b):
    """Equal to the bit (the sign of zeros included), NaN where the other is NaN."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    nan = np.isnan(a)
    return a.shape == b.shape and np.array_equal(nan, np.isnan(b)) and \
        np.array_equal(a[~nan].view(np.uint64), b[~nan].view(np.uint64))


def test_mean_std_and_run_counts_equal_numpys_to_the_bit():
    """The pooling's shared mean and deviation equal ``np.mean`` and ``np.std`` to the bit,
    for rows and single contours of every length; its run count is the number of runs."""
    from ser_live.features.pooling import _mean_std, _voiced_runs

    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 9, 130, 1001):
        for x in (rng.standard_normal((4, n)) * 1e3, np.round(rng.standard_normal((3, n)), 1), np.zeros((2, n))):
            m, s = _mean_std(x)
            assert _same_bits(m, x.mean(axis=1)) and _same_bits(s, x.std(axis=1)), n
            m1, s1 = _mean_std(x[0])
            assert _same_bits(m1, x[0].mean()) and _same_bits(s1, x[0].std()), n
        for p in (0.0, 0.3, 0.9, 1.0):
            mask = rng.random(n) < p
            edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
            assert _voiced_runs(mask) == np.count_nonzero(edges == 1), (n, p)
    assert _voiced_runs(np.zeros(0, bool)) == 0


def _sign_changes_by_search(y, n_t, win, hop):
    """The zero-crossing counts as the extractor found them before ``_sign_changes``: the
    changes along the zero-padded signal, counted between each frame's first and last sample."""
    signs = np.zeros((n_t - 1) * hop + win, dtype=bool)
    np.signbit(y, out=signs[: y.shape[0]])
    changes_at = np.flatnonzero(signs[1:] != signs[:-1])
    starts = np.arange(n_t) * hop
    return np.searchsorted(changes_at, starts + win - 1) - np.searchsorted(changes_at, starts)


def test_sign_changes_by_blocks_equal_the_searched_counts_to_the_bit(angry_male, neutral_female):
    """The zero crossings counted by blocks of hops (``_sign_changes``) equal the changes
    found along the signal and counted per frame by binary search, and so does the zcr
    row, on speech of every length mod the hop, for other windows and hops, with zeros of
    both signs and a signal that fills its last frame exactly."""
    from ser_live.features.framewise import _Analysis, _frames, _sign_changes

    rng = np.random.default_rng(7)
    signed_zeros = np.where(rng.random(3000) < 0.5, np.float32(0.0), np.float32(-0.0)).astype(np.float32)
    for cfg in (FeatureConfig(), FeatureConfig(win_length=320), FeatureConfig(win_length=480, hop_length=240),
                FeatureConfig(win_length=400, hop_length=100), FeatureConfig(win_length=321, hop_length=160)):
        analysis = _Analysis(cfg)
        ys = [angry_male, neutral_female, signed_zeros, np.zeros(2000, np.float32),
              angry_male[: cfg.win_length + 4 * cfg.hop_length]]  # exactly five frames, no padding
        ys += [neutral_female[: 16000 + k] for k in rng.integers(0, cfg.hop_length, 6)]
        for y in ys:
            y = np.ascontiguousarray(y, dtype=np.float32)
            n_t = _frames(y, cfg.win_length, cfg.hop_length).shape[0]
            want = _sign_changes_by_search(y, n_t, cfg.win_length, cfg.hop_length)
            got = _sign_changes(y, n_t, analysis)
            assert got.dtype == np.float64 and np.array_equal(got, want), (cfg, y.shape)
            w = np.float32(cfg.win_length - 1)
            assert np.array_equal((got / w).view(np.uint64), (want / w).view(np.uint64))
        d = framewise_descriptors(np.ascontiguousarray(angry_male, dtype=np.float32), analysis)
        n_t = d["energy"].shape[1]
        zcr = _sign_changes_by_search(angry_male, n_t, cfg.win_length, cfg.hop_length) / np.float32(cfg.win_length - 1)
        assert np.array_equal(d["energy"][1].view(np.uint32), zcr.astype(np.float32).view(np.uint32))


def test_cumulative_power_chained_from_lower_bins_equals_cumsum_to_the_bit(angry_male):
    """Bin sums continued from a lower bin's sum (``_CumulativePower(power, bins)``, in any
    order of reading) equal ``np.cumsum(power, axis=1)`` bit for bit, on the power spectrum
    of speech and on random spectra, and leave the rows of ``by_bin`` as they were."""
    from ser_live.features.framewise import _Analysis, _CumulativePower, _frames, _rfft

    analysis = _Analysis(FeatureConfig(voice_quality=True))
    cfg = analysis.cfg
    frames = _frames(np.ascontiguousarray(angry_male, dtype=np.float32), cfg.win_length, cfg.hop_length)
    padded = np.zeros((frames.shape[0], cfg.n_fft), np.float32)
    padded[:, : cfg.win_length] = frames * analysis.window
    spec = _rfft(padded)
    speech = (spec.real * spec.real + spec.imag * spec.imag).astype(np.float32)
    rng = np.random.default_rng(11)
    spectra = [speech, speech[:1], speech[:2]]
    spectra += [(rng.standard_normal((n_t, 513)).astype(np.float32) ** 2) * np.float32(10.0 ** rng.uniform(-8, 3))
                for n_t in (3, 398)]
    for power in spectra:
        cum = np.cumsum(power, axis=1)
        for bins in ((3, 63, 319, 512), (512, 63, 3, 319), (-1, 0), (), (100, 100, 7)):
            lazy = _CumulativePower(power, bins)
            for i in (512, 63, 3, 319, 0, 1, 200, 64, 511, -1):
                assert np.array_equal(lazy[:, i].view(np.uint32), cum[:, i].view(np.uint32)), (power.shape, bins, i)
            assert np.array_equal(lazy.by_bin, power.T)


def test_band_means_and_flux_as_numpys_calls_to_the_bit(fx, angry_male, neutral_female):
    """The spectral flatness's band means and the flux, written as the calls ``ndarray.mean``
    and ``np.diff`` / ``** 2`` make (sum, then true_divide by the np.intp count; subtract of
    shifted slices, square), equal the wrappers' results bit for bit on speech's mel spectra;
    and the framing view equals ``sliding_window_view``'s."""
    from ser_live.features.framewise import _frames

    for y in (angry_male, neutral_female, neutral_female[:3000]):
        logmel = fx.framewise(y)["logmel"]
        mel = (10.0 ** (logmel / np.float32(10.0))).astype(np.float32)
        for x in (logmel, mel, logmel * np.float32(np.log(10.0) / 10.0)):
            s = np.add.reduce(x, axis=0)
            np.true_divide(s, np.intp(x.shape[0]), out=s, casting="unsafe")
            assert s.dtype == np.float32 and np.array_equal(s.view(np.uint32), x.mean(axis=0).view(np.uint32))
        root = np.sqrt(mel / np.maximum(mel.sum(axis=0, keepdims=True), np.float32(1e-10)))
        step = np.subtract(root[:, 1:], root[:, :-1])
        np.square(step, out=step)
        want = (np.diff(root, axis=1) ** 2).sum(axis=0)
        assert np.array_equal(np.add.reduce(step, axis=0).view(np.uint32), want.view(np.uint32))
        y32 = np.ascontiguousarray(y, dtype=np.float32)
        for z in (y32, y32[::2], y32[: fx.config.win_length + 4 * fx.config.hop_length]):
            got = _frames(z, 400, 160)
            n = got.shape[0]
            pad = np.concatenate([z, np.zeros(400, np.float32)])
            want_frames = np.lib.stride_tricks.sliding_window_view(pad, 400)[::160][:n]
            assert np.array_equal(got, want_frames) and not got.flags.writeable


def test_count_peaks_walk_equals_the_builtin_max_min_walk():
    """``_count_peaks`` keeps its running extremes by comparisons: the counts of the walk with
    ``max``/``min`` on contours with plateaus, NaN and a high start."""
    from ser_live.features.pooling import _count_peaks

    def reference(x, ratio, floor):
        slope = np.diff(x)
        turns = np.flatnonzero(slope[1:] * slope[:-1] <= 0) + 1
        peaks, hi, lo, looking = 0, -np.inf, np.inf, True
        for v in x[np.concatenate([[0], turns, [x.shape[0] - 1]])].tolist() if x.shape[0] else []:
            hi, lo = max(hi, v), min(lo, v)
            if looking and v * ratio < hi:
                peaks += hi > floor and hi > 0
                looking, lo = False, v
            elif not looking and v > lo * ratio:
                looking, hi = True, v
        return int(peaks)

    rng = np.random.default_rng(2)
    for n in (0, 1, 2, 5, 50, 400):
        for x in (rng.random(n), np.round(rng.random(n), 1), np.linspace(1, 0, n),
                  np.where(rng.random(n) < 0.1, np.nan, rng.random(n))):
            x = np.convolve(x, np.full(7, 1 / 7), mode="same") if n >= 7 else x
            for floor in (0.0, 0.05, 0.3):
                with np.errstate(invalid="ignore"):
                    assert _count_peaks(x, ratio=1.3, floor=floor) == reference(x, 1.3, floor)


def test_pitch_rows_from_the_flat_autocorrelation_equal_the_pairwise_indexed_ones(angry_male, neutral_female):
    """The pitch search reads each frame's lags from the flat normalised autocorrelation: the
    pitch, voicing and HNR rows equal those of the search indexed by (frame, lag) pairs with
    np.clip, to the bit, on speech and on silence."""
    from ser_live.features.framewise import _Analysis, _frames, _irfft, _rfft

    for cfg in (FeatureConfig(), FeatureConfig(win_length=320, voice_quality=True)):
        analysis = _Analysis(cfg)
        for y in (angry_male, neutral_female, neutral_female[:3000], np.zeros(8000, np.float32)):
            y = np.ascontiguousarray(y, dtype=np.float32)
            d = framewise_descriptors(y, analysis)
            frames = _frames(y, cfg.win_length, cfg.hop_length)
            padded = np.zeros((frames.shape[0], cfg.n_fft), np.float32)
            np.multiply(frames, analysis.window, out=padded[:, : cfg.win_length])
            ri = _rfft(padded).view(np.float32)
            ri *= ri
            power = np.add(ri[:, 0::2], ri[:, 1::2])
            ac = _irfft(power.astype(np.complex64), cfg.n_fft)[:, : analysis.lag_max + 2]
            nac = ac / np.maximum(ac[:, :1], np.float32(1e-10))
            nac *= analysis.inv_window_ac
            lo, hi = analysis.lag_min, analysis.lag_max
            rows = np.arange(nac.shape[0])
            best = np.argmax(nac[:, lo : hi + 1], axis=1) + lo
            strength = nac[rows, best]
            for div in (2, 3):
                cand = np.rint(best / div).astype(np.int64)
                ok = (cand >= lo) & (nac[rows, np.clip(cand, 0, nac.shape[1] - 1)] >= 0.9 * strength)
                best = np.where(ok, cand, best)
            val, left = nac[rows, best], nac[rows, best - 1]
            right = nac[rows, np.minimum(best + 1, nac.shape[1] - 1)]
            denom = left - 2.0 * val + right
            safe = np.where(np.abs(denom) > 1e-6, denom, 1.0)
            shift = np.clip(np.where(np.abs(denom) > 1e-6, 0.5 * (left - right) / safe, 0.0), -0.5, 0.5)
            f0 = cfg.sample_rate_hz / (best + shift)
            voiced = d["pitch"][0] > 0
            assert np.array_equal(d["pitch"][0][voiced].view(np.uint32), f0[voiced].astype(np.float32).view(np.uint32))
            assert np.array_equal(d["pitch"][1].view(np.uint32), np.clip(strength, 0.0, 1.0).view(np.uint32))
            r = np.clip(strength, 1e-3, 1.0 - 1e-3)
            assert np.array_equal(d["pitch"][2].view(np.uint32), (10.0 * np.log10(r / (1.0 - r))).view(np.uint32))


def test_frames_view_equals_sliding_window_view():
    """``_frames`` (the ndarray constructor on a contiguous signal, as_strided otherwise) is
    the read-only view ``sliding_window_view`` gives of the zero-padded signal, for
    contiguous, strided, offset and read-only signals, with and without padding."""
    from ser_live.features.framewise import _frames

    rng = np.random.default_rng(11)
    big = rng.standard_normal(40000).astype(np.float32)
    read_only = np.frombuffer(big.tobytes(), dtype=np.float32)
    for y in (big, big[::2], big[3:31000], read_only, big[:1040], big[: 400 + 3 * 160]):
        f = _frames(y, 400, 160)
        padded = np.concatenate([y, np.zeros(400, np.float32)])
        want = np.lib.stride_tricks.sliding_window_view(padded, 400)[::160][: f.shape[0]]
        assert f.shape == (1 + max(0, -(-(y.shape[0] - 400) // 160)), 400), y.shape
        assert np.array_equal(f.view(np.uint32), want.view(np.uint32)) and not f.flags.writeable, y.shape
