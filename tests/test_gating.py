"""The pause gate (ser_live/features/gating.py, issue 20): an utterance's features do not depend
on the room floor in its pauses, and noisy utterances are left for the noise branch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from benchmarks.live_offline import floor_noise
from ser_live.audiofile import load_audio
from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.features.gating import gate_pauses
from ser_live.levels import frame_rms, loud_frame_level

SR = 16000


@pytest.fixture(scope="module")
def speech(data_root: Path) -> np.ndarray:
    """An EmoDB sentence (speaker 03, neutral) at a loud-frame level of -20 dBFS, with 0.5 s of
    digital silence before and after (a studio file as the training corpora hold them)."""
    path = data_root / "emodb" / "wav" / "03a01Nc.flac"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    y = load_audio(path)
    y = y[0] if isinstance(y, tuple) else y
    y = y / loud_frame_level(frame_rms(y, frame_length=480)) * 10 ** (-20 / 20)
    pad = np.zeros(SR // 2, np.float32)
    return np.concatenate([pad, y.astype(np.float32), pad])


def _over_floor(y: np.ndarray, floor_dbfs: float, *, noise: str = "pink") -> np.ndarray:
    return (y + floor_noise(noise, y.size, seed=1) * np.float32(10 ** (floor_dbfs / 20))).astype(np.float32)


def test_gate_zeroes_the_floor_not_the_speech(speech: np.ndarray) -> None:
    """Over a -55 dBFS floor (35 dB SNR) the padding is zeroed and the loud speech is kept
    sample for sample."""
    noisy = _over_floor(speech, -55.0)
    g = gate_pauses(noisy, sample_rate_hz=SR)
    assert 30.0 <= g.snr_db <= 40.0
    assert g.floor_dbfs == pytest.approx(-55.0, abs=4.0)
    pad = SR // 2
    # The padding (0.5 s each side) is silence again, bar the blocks that straddle speech.
    assert np.count_nonzero(g.samples[: pad - 480]) == 0
    assert np.count_nonzero(g.samples[-(pad - 480):]) == 0
    assert g.gated_fraction >= 2 * (pad - 480) / speech.size
    # Loud blocks (within 20 dB of the speech level) are untouched.
    blocks = noisy[: noisy.size // 480 * 480].reshape(-1, 480)
    lv = 20 * np.log10(np.sqrt((blocks.astype(np.float64) ** 2).mean(axis=1)) + 1e-12)
    loud = np.repeat(lv > g.speech_dbfs - 20.0, 480)
    assert np.array_equal(g.samples[: loud.size][loud], noisy[: loud.size][loud])


def test_noisy_utterance_is_left_alone(speech: np.ndarray) -> None:
    """At 10 dB SNR the utterance is noise, not a quiet room: nothing is gated, so the noise
    branch hears what it was trained on."""
    noisy = _over_floor(speech, -30.0, noise="white")
    g = gate_pauses(noisy, sample_rate_hz=SR)
    assert g.snr_db < 15.0
    assert g.gated_fraction == 0.0
    assert g.samples is noisy or np.array_equal(g.samples, noisy)


def test_features_do_not_depend_on_the_floor_in_the_pauses(speech: np.ndarray) -> None:
    """With ``pause_gate`` the feature vector of a sentence over a -60 dBFS floor lies much
    closer to the same sentence over digital silence than without the gate (standardised by
    the spread of the columns over the two conditions and a second sentence)."""
    noisy = _over_floor(speech, -60.0)
    dist = {}
    for gate in (False, True):
        fx = FeatureExtractor(FeatureConfig(voice_quality=True, pause_gate=gate))
        a, b = fx.extract(speech), fx.extract(noisy)
        scale = np.abs(a) + np.abs(b) + 1e-3
        dist[gate] = float(np.median(np.abs(a - b) / scale))
    assert dist[True] < 0.5 * dist[False], dist


def test_config_key_changes_only_when_on() -> None:
    """The default configuration's dict and hash are what they were before the field existed
    (caches and model files keep their keys); turning the gate on changes the key."""
    assert "pause_gate" not in FeatureConfig().to_dict()
    assert FeatureConfig(pause_gate=True).config_hash != FeatureConfig().config_hash
    assert FeatureConfig.from_dict(FeatureConfig(pause_gate=True).to_dict()).pause_gate is True


def test_bad_input() -> None:
    with pytest.raises(ValueError, match="mono audio"):
        gate_pauses(np.zeros(0, np.float32), sample_rate_hz=SR)
    with pytest.raises(ValueError, match="mono audio"):
        gate_pauses(np.zeros((2, 100), np.float32), sample_rate_hz=SR)
    with pytest.raises(ValueError, match="shorter than one sample"):
        gate_pauses(np.zeros(100, np.float32), sample_rate_hz=SR, block_s=1e-6)
