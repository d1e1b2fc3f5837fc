"""Level measures that set every SNR of training and evaluation (``speech_rms``,
``speech_level_dbfs``), checked against their definitions on real speech (found by a
mutation audit: a mean absolute value in place of the RMS passed every test)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio, to_int16
from ser_live.levels import MAX_CLIPPED_FRACTION, clipped_fraction, frame_rms, speech_level_dbfs, speech_rms


def test_frame_rms_and_speech_level_are_root_mean_squares(ravdess_root: Path):
    """Per 25 ms frame the root of the mean square (not the mean magnitude, 1-2 dB lower on
    speech); the speech level is the 90th percentile of those, in dBFS."""
    path = ravdess_root / "Actor_02/03-01-03-01-02-01-02.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    y = load_audio(path).astype(np.float64)
    n = len(y) // 400
    frames = y[: n * 400].reshape(n, 400)
    want = np.sqrt((frames**2).mean(axis=1))
    np.testing.assert_allclose(frame_rms(y, frame_length=400), want, rtol=1e-12)
    loud = np.percentile(want, 90)
    assert speech_rms(y) == pytest.approx(loud, rel=1e-12)
    assert speech_level_dbfs(y) == pytest.approx(20 * np.log10(loud), abs=1e-9)
    # the mean magnitude is another, lower value on speech (so this test can fail)
    assert 20 * np.log10(np.percentile(np.abs(frames).mean(axis=1), 90)) < speech_level_dbfs(y) - 0.5


def test_clipped_fraction_counts_both_rails(ravdess_root: Path):
    """A recording made 26 dB too hot clips at +32767 and at -32768: both count (the clipping
    warning of ``ser-live predict`` and the calibration's take check read this share)."""
    path = ravdess_root / "Actor_01/03-01-05-02-01-01-01.flac"
    if not path.exists():
        pytest.skip(f"{path} not found")
    hot = np.clip(load_audio(path).astype(np.float64) * 20.0, -1.0, 1.0).astype(np.float32)
    x = to_int16(hot)
    top, bottom = int(np.sum(x == 32767)), int(np.sum(x == -32768))
    assert top > 100 and bottom > 100
    assert clipped_fraction(x) == pytest.approx((top + bottom) / len(x), rel=1e-12)
    assert clipped_fraction(hot) == clipped_fraction(x) > MAX_CLIPPED_FRACTION
