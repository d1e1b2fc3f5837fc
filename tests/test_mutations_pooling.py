"""A regression guard on the pooling functionals ``test_features.py``'s named columns do not
reach (found by a mutation audit: a relative position over n instead of n - 1 frames, a
kurtosis that is not excess, voiced runs missing the first, unvoiced means over voiced
frames, jitter and pitch deltas taken over pairs they must skip, loudness peaks per frame, a
loud share at 30 dB all passed every test). One RAVDESS file, untrimmed, with the voice
group; the values are the extractor's at b79a482 (models were trained on them: a change here
changes every model's input, bump FEATURE_VERSION or the config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ser_live.audiofile import load_audio
from ser_live.features import FeatureConfig, FeatureExtractor

EXPECTED = {
    "rms_db_argmax": 0.279412, "f0_st_argmin": 0.982353, "rms_db_kurt": -1.335195,
    "voiced_runs_per_s": 2.200489, "loudness_unvoiced_mean": 1.733443, "unvoiced_segment_mean_s": 0.238,
    "jitter_rel_mean": 0.029042, "loudness_peaks_per_s": 1.711491, "f0_delta_abs_mean_st": 4.16668,
    "rms_db_delta_abs_mean": 1.551412, "loud_fraction": 0.371638,
}


def test_pooled_columns_keep_their_values_on_a_real_file(ravdess_root: Path):
    path = ravdess_root / "Actor_01" / "03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    fx = FeatureExtractor(FeatureConfig(voice_quality=True))
    v = dict(zip(fx.feature_names(), fx.extract(load_audio(path)).tolist()))
    for name, value in EXPECTED.items():
        assert v[name] == pytest.approx(value, rel=1e-4, abs=1e-5), name
    # one second cut from the loudest vowel: it starts voiced, and that first run counts
    a = 18320
    cut = dict(zip(fx.feature_names(), fx.extract(load_audio(path)[a : a + 16000]).tolist()))
    assert cut["voiced_runs_per_s"] == pytest.approx(5.050505, rel=1e-4)
