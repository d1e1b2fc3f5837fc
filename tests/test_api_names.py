"""What a script catches and annotates comes from ``ser_live`` itself: README says
``NoSpeechError`` and hands out ``Result`` objects, so ``from ser_live import ...`` must give
them. Real corpus audio."""

from __future__ import annotations

import numpy as np
import pytest

import ser_live
from ser_live.audiofile import load_audio

from .test_pipeline import SR, model, test_model_path  # noqa: F401 (fixtures)

CLIP = "Actor_05/03-01-05-02-01-01-05.flac"


def test_errors_and_results_are_caught_and_named_from_the_package(ravdess_root, model, tmp_path):  # noqa: F811
    from ser_live import AudioFileError, ModelError, NoSpeechError, Predictor, Prediction, SerLiveError

    p = Predictor(model)
    y = load_audio(ravdess_root / CLIP)
    assert isinstance(p.process_signal(y), Prediction)
    with pytest.raises(NoSpeechError, match="too short"):
        p.process_signal(y[: SR // 5])  # the file's first 0.2 s: the actor has not spoken yet
    with pytest.raises(ModelError, match="not found"):
        ser_live.EmotionModel.load(tmp_path / "missing.skops")
    with pytest.raises(AudioFileError):
        ser_live.FileSource(tmp_path / "missing.wav")
    assert all(issubclass(e, SerLiveError) for e in (AudioFileError, ModelError, NoSpeechError,
                                                      ser_live.DeviceError, ser_live.CaptureError))
    results = p.process_signal(np.concatenate([y, np.zeros(SR, np.float32), y]), segments=True)
    assert len(results) == 2 and all(isinstance(r, ser_live.Result) for r in results)
    assert {"Result", "Prediction", "SerLiveError", "NoSpeechError"} <= set(dir(ser_live))


def test_a_device_that_will_not_open_tells_a_library_user_the_python_calls():
    """A ``MicrophoneSource`` on a device that does not exist raises ``DeviceError`` whose
    advice names the Python calls (listing devices, ``device=``, ``FileSource``) beside the
    command's flags, so a developer embedding ser-live is not left with CLI flags only."""
    from ser_live.errors import PortAudioMissingError

    try:
        src = ser_live.MicrophoneSource(device="no-such-device-ser-live-test")
        src.start(ser_live_ring())
    except PortAudioMissingError:
        pytest.skip("PortAudio is not installed here")
    except ser_live.DeviceError as exc:
        msg = str(exc)
        assert "list_input_devices()" in msg and "MicrophoneSource(device=" in msg and "FileSource(" in msg
        assert "ser-live devices" in msg and "--device" in msg
        return
    pytest.fail("a device that does not exist opened")


def ser_live_ring():
    """A 16 kHz ring buffer of 1 s for a source's ``start``."""
    from ser_live.ringbuffer import RingBuffer

    return RingBuffer(capacity_samples=16000, sample_rate_hz=16000)
