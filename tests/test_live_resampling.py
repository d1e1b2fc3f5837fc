"""A microphone that cannot open at 16 kHz (a 44.1/48 kHz-only device) or in mono, on the real
capture path.

The PulseAudio null-sink microphone (``tests/pulse.py``) opens at any rate; here PortAudio's
settings check refuses 16 kHz and/or one channel, as such a device's driver does, so
:class:`MicrophoneSource` opens it at its default rate (44.1 kHz) and resamples on its converter
thread, and/or in stereo, keeping channel 0. Speech played
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


def _refuse(monkeypatch: pytest.MonkeyPatch, *, rate_hz: int | None = None, mono: bool = False) -> None:
    """Make sounddevice's settings check refuse ``rate_hz`` (paInvalidSampleRate, as a
    44.1/48 kHz-only device's driver does) and, with ``mono``, one channel
    (paInvalidChannelCount, as an ALSA ``hw`` device that takes stereo only does)."""
    import sounddevice as sd

    check = sd.check_input_settings

    def refusing(*args, samplerate=None, channels=None, **kwargs):
        if rate_hz is not None and samplerate is not None and int(samplerate) == rate_hz:
            raise sd.PortAudioError("Invalid sample rate", -9997)
        if mono and channels == 1:
            raise sd.PortAudioError("Invalid number of channels", -9998)
        return check(*args, samplerate=samplerate, channels=channels, **kwargs)

    monkeypatch.setattr(sd, "check_input_settings", refusing)


@pytest.fixture
def no_16k(monkeypatch: pytest.MonkeyPatch, pulse_null_sink: PulseNullSink):  # noqa: F811
    """The test microphone, as a device that cannot open at 16 kHz."""
    _refuse(monkeypatch, rate_hz=SAMPLE_RATE_HZ)
    return pulse_null_sink


def _speech_wav(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[float]]:
    """The utterances with 1 s of silence around each, as one WAV; and their lengths (s)."""
    gap = np.zeros(SAMPLE_RATE_HZ, dtype=np.int16)
    parts, lengths_s = [gap], []
    for x in _speech_int16(request, tmp_path, UTTERANCES):
        parts += [x, gap]
        lengths_s.append(len(x) / SAMPLE_RATE_HZ)
    return write_wav(tmp_path / "speech.wav", np.concatenate(parts), sample_rate_hz=SAMPLE_RATE_HZ), lengths_s


@pytest.mark.microphone
@pytest.mark.parametrize("refused", ["16 kHz", "mono", "16 kHz and mono"])
def test_a_device_without_16k_or_mono_is_opened_as_it_can_be_and_heard(
    pulse_null_sink: PulseNullSink, model, request, tmp_path, monkeypatch, refused  # noqa: F811
) -> None:
    """Opened at its own rate (resampled to 16 kHz) and/or in stereo (channel 0 kept): the
    played utterances come out classified. Before, a device refusing mono was not opened
    ("opens neither at 16000 Hz nor at its default ... mono")."""
    _refuse(monkeypatch, rate_hz=SAMPLE_RATE_HZ if "16 kHz" in refused else None, mono="mono" in refused)
    wav, lengths_s = _speech_wav(request, tmp_path)
    src = MicrophoneSource(device=pulse_null_sink.device_name)
    assert src.resampling == ("16 kHz" in refused) and src.channels == (2 if "mono" in refused else 1)
    with Recognizer(src, model) as rec:
        pulse_null_sink.play(wav)
        rec.stop()
    results = []
    while (r := rec.get_result(timeout_s=0)) is not None:
        results.append(r)
    assert rec.error is None and src.error is None
    assert len(results) == len(UTTERANCES), [(r.utterance.start_s, r.utterance.end_s) for r in results]
    # each at the right rate and channel count: no longer than its file (which holds some
    # silence) plus pre-roll and hangover, as a wrong resampling ratio or interleaved stereo
    # read as mono would make it (2.76x or 2x), and not a fragment of it
    for r, length_s in zip(results, lengths_s):
        assert 0.4 * length_s < r.utterance.duration_s < length_s + 0.6, (r.utterance.duration_s, length_s)


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


@pytest.mark.microphone
def test_a_stream_opened_after_the_wait_gave_up_is_closed(pulse_null_sink: PulseNullSink, monkeypatch) -> None:  # noqa: F811
    """An audio server that answers the stream's opening only after ``no_audio_timeout_s``
    (a hung server that recovers): ``start`` gives up with AudioSystemHungError, and the
    stream its opening thread then starts is closed, not left running with a callback nobody
    stops (before: open and active for ever; with resampling, a queue growing without end)."""
    import threading
    import time

    import sounddevice as sd

    from ser_live.audio import AudioSystemHungError
    from ser_live.ringbuffer import RingBuffer

    real, made, answered = sd.InputStream, [], threading.Event()

    class LateStream(real):  # the real stream, opened 1.5 s late
        def __init__(self, *args, **kwargs):
            time.sleep(1.5)
            super().__init__(*args, **kwargs)
            made.append(self)

        def close(self, *args, **kwargs):
            super().close(*args, **kwargs)
            answered.set()

    monkeypatch.setattr(sd, "InputStream", LateStream)
    src = MicrophoneSource(device=pulse_null_sink.device_name, no_audio_timeout_s=0.5)
    with pytest.raises(AudioSystemHungError):
        src.start(RingBuffer(SAMPLE_RATE_HZ * 5, sample_rate_hz=SAMPLE_RATE_HZ))
    assert answered.wait(10), "the late stream was never closed"
    assert len(made) == 1 and made[0].closed and not made[0].active
