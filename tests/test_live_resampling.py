"""A microphone that cannot open at 16 kHz (a 44.1/48 kHz-only device), on the real capture path.

The PulseAudio null-sink microphone (``tests/pulse.py``) opens at any rate; here PortAudio's
settings check refuses 16 kHz, as such a device's driver does, so :class:`MicrophoneSource`
opens it at its default rate (44.1 kHz) and resamples on its converter thread. Speech played
into the sink comes out of the recogniser as utterances; a converter that fails ends the run
with a :class:`CaptureError` instead of leaving it listening for ever to nothing. A device that
is busy (PortAudio's answer for a device another program holds) is said to be busy.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest

from ser_live.audio import MicrophoneSource
from ser_live.audiofile import SAMPLE_RATE_HZ, write_wav
from ser_live.errors import CaptureError, DeviceError
from ser_live.pipeline import Recognizer

from .pulse import PulseNullSink, pulse_null_sink  # noqa: F401  (pytest fixture)
from .test_capture import _speech_int16


@pytest.fixture(scope="module")
def model():
    """The shipped default model (what a user's run loads)."""
    from ser_live.model import EmotionModel

    return EmotionModel.load()


UTTERANCES = ("Actor_01/03-01-05-02-01-01-01.flac", "Actor_02/03-01-04-02-02-02-02.flac")


@pytest.fixture
def no_16k(monkeypatch: pytest.MonkeyPatch, pulse_null_sink: PulseNullSink):  # noqa: F811
    """sounddevice's settings check refuses 16 kHz for every device, as a 44.1/48 kHz-only
    device's driver does."""
    import sounddevice as sd

    check = sd.check_input_settings

    def refuse_16k(*args, samplerate=None, **kwargs):
        if samplerate is not None and int(samplerate) == SAMPLE_RATE_HZ:
            raise sd.PortAudioError("Invalid sample rate [PaErrorCode -9997]")
        return check(*args, samplerate=samplerate, **kwargs)

    monkeypatch.setattr(sd, "check_input_settings", refuse_16k)
    return pulse_null_sink


def _speech_wav(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    gap = np.zeros(SAMPLE_RATE_HZ, dtype=np.int16)
    parts = [gap]
    for x in _speech_int16(request, tmp_path, UTTERANCES):
        parts += [x, gap]
    return write_wav(tmp_path / "speech.wav", np.concatenate(parts), sample_rate_hz=SAMPLE_RATE_HZ)


@pytest.mark.microphone
def test_a_device_without_16k_is_resampled_and_heard(no_16k: PulseNullSink, model, request, tmp_path) -> None:
    """Opened at its own rate, resampled to 16 kHz: the played utterances come out classified."""
    wav = _speech_wav(request, tmp_path)
    src = MicrophoneSource(device=no_16k.device_name)
    assert src.resampling and src.device_sample_rate_hz != SAMPLE_RATE_HZ
    with Recognizer(src, model) as rec:
        no_16k.play(wav)
        rec.stop()
    results = []
    while (r := rec.get_result(timeout_s=0)) is not None:
        results.append(r)
    assert rec.error is None and src.error is None
    assert len(results) == len(UTTERANCES), [(r.utterance.start_s, r.utterance.end_s) for r in results]
    assert all(r.label in model.labels for r in results)


class _FailingResampler:
    """Wraps the real streaming resampler; its third block raises, as a broken one would."""

    def __init__(self, real) -> None:  # noqa: ANN001
        self.real, self.n = real, 0

    def resample_chunk(self, x, last=False):  # noqa: ANN001
        self.n += 1
        if self.n == 3:
            raise RuntimeError("resampler broke")
        return self.real.resample_chunk(x, last=last)


@pytest.mark.microphone
def test_a_failing_resampler_ends_the_run_with_a_capture_error(no_16k: PulseNullSink, model, monkeypatch) -> None:
    """Before: the converter thread died, the callback kept queueing and the run listened to
    nothing for ever (no error, no timeout: PortAudio still delivered)."""
    import ser_live.audiofile as audiofile

    real = audiofile.new_resampler
    monkeypatch.setattr(audiofile, "new_resampler", lambda *a, **k: _FailingResampler(real(*a, **k)))
    src = MicrophoneSource(device=no_16k.device_name)
    rec = Recognizer(src, model).start()
    try:
        ended = rec.done.wait(timeout=30)  # the run's end, not a speed target: it never came before
    finally:
        rec.stop()
    assert ended, "the run went on after the resampler failed"
    assert isinstance(src.error, CaptureError) and "resampling" in str(src.error), src.error
    assert isinstance(rec.error, CaptureError), rec.error


@pytest.mark.microphone
def test_a_busy_device_is_said_busy_not_blamed_on_its_rates(pulse_null_sink: PulseNullSink, monkeypatch) -> None:  # noqa: F811
    """A device another program holds (PortAudio's paDeviceUnavailable, -9985, as ALSA gives
    for a ``hw`` device in use) is said to be busy; before, ser-live tried its default rate
    too and said it "opens neither at 16000 Hz nor at its default" rate."""
    import sounddevice as sd

    def busy(*args, **kwargs):
        raise sd.PortAudioError("Device unavailable", -9985)

    monkeypatch.setattr(sd, "check_input_settings", busy)
    with pytest.raises(DeviceError) as info:
        MicrophoneSource(device=pulse_null_sink.device_name)
    msg = str(info.value)
    assert "busy" in msg and "Device unavailable" in msg and "ser-live devices" in msg, msg
    assert "opens neither" not in msg, msg
