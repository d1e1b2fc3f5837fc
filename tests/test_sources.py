"""Audio sources on real speech: FileSource -> RingBuffer -> Segmenter gives the boundaries of
segment_signal; any rate and channel count replays; pacing; overruns keep stream time;
errors surface; microphone import and device errors map to ser-live errors."""

from __future__ import annotations

import ctypes.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ser_live.audio import FileSource, MicrophoneSource, list_input_devices
from ser_live.audiofile import load_audio, write_wav
from ser_live.errors import AudioFileError, DeviceError, PortAudioMissingError
from ser_live.ringbuffer import RingBuffer
from ser_live.vad import FRAMES_PER_WAKE, Segmenter, VadConfig, iter_utterances, segment_signal

SR = 16000
SESSION_FILES = [
    "Actor_01/03-01-01-01-01-01-01.flac",
    "Actor_01/03-01-05-02-01-01-01.flac",
    "Actor_02/03-01-03-01-02-01-02.flac",
    "Actor_02/03-01-04-02-02-02-02.flac",
]
STEREO_48K = ["03-01-02-01-01-02-01.wav", "03-01-08-01-02-02-01.wav"]


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found (set SER_LIVE_DATA to the corpora folder)")
    return path


@pytest.fixture(scope="module")
def session_wav(ravdess_root: Path, tmp_path_factory, corpus_session) -> tuple[Path, np.ndarray]:
    """4 RAVDESS files joined by 1 s of digital silence, written as a 16-bit WAV."""
    x = corpus_session(ravdess_root, SESSION_FILES, gap_s=1.0).samples
    path = write_wav(tmp_path_factory.mktemp("session") / "session.wav", x)
    return path, x


def replay(path: Path, *, capacity_s: float = 0.5, config: VadConfig | None = None, speed: float = 0.0):
    """The live path: FileSource thread -> RingBuffer -> iter_utterances in this thread."""
    ring = RingBuffer(int(capacity_s * SR), sample_rate_hz=SR)
    src = FileSource(path, speed=speed)
    seg = Segmenter(config)
    src.start(ring)
    utts = list(iter_utterances(ring, seg, timeout_s=0.05))
    assert src.join(10)
    return utts, ring, src, seg


def test_replayed_file_is_cut_exactly_like_segment_signal(session_wav):
    path, x = session_wav
    utts, ring, src, seg = replay(path)  # a 0.5 s ring for a 16 s file: the source waits
    ref = segment_signal(x)
    assert len(ref) == len(SESSION_FILES)
    assert [(u.start_sample, u.end_sample, u.last_voiced_sample, u.cut_at_max) for u in utts] == [
        (u.start_sample, u.end_sample, u.last_voiced_sample, u.cut_at_max) for u in ref
    ]
    for u, r in zip(utts, ref):
        np.testing.assert_array_equal(u.samples, r.samples)
        assert u.last_voiced_time <= u.closed_time
    assert ring.overrun_samples == 0 and ring.skipped_samples == 0
    assert ring.written_samples == src.samples_written == len(x)
    assert seg.n_frames == len(x) // seg.frame_length
    assert src.finished.is_set() and src.error is None and ring.eof


def test_a_ring_smaller_than_a_wake_up_s_frames_still_cuts_exactly(session_wav):
    """iter_utterances waits for up to FRAMES_PER_WAKE frames at once; a ring that cannot
    hold them (70 ms: two 30 ms frames) still gives the frame-by-frame loop's utterances."""
    path, x = session_wav
    utts, ring, _, _ = replay(path, capacity_s=0.07)
    assert ring.capacity_samples < FRAMES_PER_WAKE * 480  # 30 ms frames
    assert [(u.start_sample, u.end_sample, u.last_voiced_sample) for u in utts] == [
        (u.start_sample, u.end_sample, u.last_voiced_sample) for u in segment_signal(x)]


def test_max_length_cuts_are_identical_live_and_offline(session_wav):
    path, x = session_wav
    cfg = VadConfig(max_utterance_s=1.2, min_utterance_s=0.2)
    utts, *_ = replay(path, config=cfg)
    ref = segment_signal(x, config=cfg)
    assert any(u.cut_at_max for u in ref)
    assert [(u.start_sample, u.end_sample, u.cut_at_max) for u in utts] == [
        (u.start_sample, u.end_sample, u.cut_at_max) for u in ref
    ]


@pytest.mark.parametrize("name", STEREO_48K)
def test_48k_stereo_original_replays_like_the_16k_corpus_file(data_root, ravdess_root, name):
    original = _need(data_root / "samples" / "ravdess-48k" / name)
    info = sf.info(str(original))
    assert info.channels == 2 and info.samplerate == 48000
    utts, ring, src, _ = replay(original)
    n_expected = info.frames * SR / 48000
    assert abs(ring.written_samples - n_expected) <= 2
    (u,) = utts
    # The corpus copy of the same recording (16 kHz mono FLAC) is cut at the same place.
    (r,) = segment_signal(load_audio(_need(ravdess_root / "Actor_01" / name.replace(".wav", ".flac"))))
    assert u.start_s == pytest.approx(r.start_s, abs=0.1)
    assert u.end_s == pytest.approx(r.end_s, abs=0.1)


def test_8khz_file_replays(ravdess_root, tmp_path):
    soxr = pytest.importorskip("soxr")  # what librosa.resample(res_type="soxr_hq") runs
    y16 = load_audio(_need(ravdess_root / SESSION_FILES[0]))
    y8 = soxr.resample(y16, SR, 8000, quality="HQ")
    path = tmp_path / "eight_khz.wav"
    sf.write(str(path), y8, 8000, subtype="PCM_16")
    utts, ring, src, _ = replay(path)
    assert abs(ring.written_samples - len(y8) * 2) <= 2
    (u,) = utts
    (r,) = segment_signal(y16)
    assert u.start_s == pytest.approx(r.start_s, abs=0.1)
    assert u.end_s == pytest.approx(r.end_s, abs=0.1)


def test_real_time_pace(ravdess_root, tmp_path):
    y = load_audio(_need(ravdess_root / SESSION_FILES[0]))[: SR]  # 1.0 s
    path = write_wav(tmp_path / "one_second.wav", y)
    for speed in (1.0, 4.0):
        ring = RingBuffer(2 * SR, sample_rate_hz=SR)
        src = FileSource(path, speed=speed, block_ms=20)
        t0 = time.perf_counter()
        src.start(ring)
        assert src.join(10)
        elapsed = time.perf_counter() - t0
        assert elapsed >= 0.8 * 1.0 / speed  # paced, not dumped at once
        assert src.samples_written == ring.written_samples == SR
        # Arrival stamps follow the pace: the last block arrived ~1/speed s after the first.
        spread = ring.arrival_time_of(SR - 1) - ring.arrival_time_of(0)
        assert spread >= 0.8 * (1.0 - 0.02) / speed


def test_real_time_replay_overruns_a_stalled_consumer_but_keeps_stream_time(session_wav):
    path, x = session_wav
    capacity = SR // 4
    ring = RingBuffer(capacity, sample_rate_hz=SR)
    src = FileSource(path, speed=50.0)  # paced (like a microphone), never waits for room
    src.start(ring)
    assert src.join(30)
    # Nobody read: exactly the first capacity samples are kept, the rest counted as lost.
    assert ring.written_samples == len(x)
    assert ring.stored_samples == capacity
    assert ring.overrun_samples == len(x) - capacity
    assert ring.overrun_s == pytest.approx((len(x) - capacity) / SR)
    assert ring.overrun_events == 1
    start, frame = ring.read(480, timeout_s=0)
    assert start == 0
    np.testing.assert_array_equal(frame, x[:480])


def test_stop_ends_the_replay_and_closes_the_ring(session_wav):
    path, x = session_wav
    ring = RingBuffer(20 * SR, sample_rate_hz=SR)
    src = FileSource(path, speed=1.0)
    src.start(ring)
    time.sleep(0.1)
    src.stop()
    assert src.join(5)
    assert ring.closed
    assert 0 < src.samples_written < len(x)
    with pytest.raises(RuntimeError):
        src.start(ring)


def test_bad_files_fail_at_construction(tmp_path):
    with pytest.raises(AudioFileError, match="no such file"):
        FileSource(tmp_path / "missing.wav")
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    with pytest.raises(AudioFileError):
        FileSource(junk)


def test_bad_arguments(session_wav):
    path, _ = session_wav
    with pytest.raises(ValueError):
        FileSource(path, speed=-1)
    with pytest.raises(ValueError):
        FileSource(path, block_ms=0)
    with pytest.raises(ValueError):
        FileSource(path).start(RingBuffer(SR, sample_rate_hz=8000))


def test_read_error_mid_file_surfaces(session_wav, monkeypatch):
    path, x = session_wav
    import ser_live.audio as audio_mod

    def broken(p, *, block_s, sample_rate_hz):
        yield np.zeros(8000, np.float32)
        raise AudioFileError(f"{p}: decoding failed (simulated)")

    monkeypatch.setattr(audio_mod, "iter_audio_blocks", broken)
    ring = RingBuffer(SR, sample_rate_hz=SR)
    src = FileSource(path, speed=0)
    src.start(ring)
    with pytest.raises(AudioFileError, match="simulated"):
        src.join(5)
    assert isinstance(src.error, AudioFileError)
    assert src.finished.is_set() and ring.closed
    assert src.samples_written == 8000



@pytest.mark.parametrize("fmt", ["WAV", "FLAC"])
def test_a_file_cut_short_while_replayed_ends_with_an_error_saying_how_much_was_read(session_wav, tmp_path, fmt):
    """The file shrinks on disk mid-replay (a recorder cut off, a copy overwritten): every
    sample it still holds is written, then the replay ends with an AudioFileError naming the
    file and the seconds read, WAV and FLAC alike (a WAV used to end as if it were whole)."""
    _, x = session_wav
    path = tmp_path / f"talk.{fmt.lower()}"
    sf.write(path, x, SR, format=fmt, subtype="PCM_16")
    ring = RingBuffer(SR // 2, sample_rate_hz=SR)  # at speed 0 the source waits for this reader
    src = FileSource(path, speed=0)
    src.start(ring)
    got, cut = [], False
    while (chunk := ring.read(1600, timeout_s=10)) is not None:
        got.append(chunk[1])
        if not cut and sum(map(len, got)) >= 3 * SR:  # the source is at most ~1 s ahead
            os.truncate(path, path.stat().st_size * 2 // 3)
            cut = True
    heard = np.concatenate(got)
    with pytest.raises(AudioFileError) as caught:
        src.join(10)
    np.testing.assert_array_equal(heard, x[: len(heard)])  # what was read was heard
    assert 4 * SR < src.samples_written < len(x) * 3 // 4 and len(heard) > src.samples_written - 1600
    msg = str(caught.value)
    assert msg.startswith(f"{path}: ") and f"{src.samples_written / SR:.2f} s" in msg, msg
    assert f"{len(x) / SR:.2f} s" in msg, msg  # of how much the header announced

# ---------------------------------------------------------------------- microphone
def test_module_imports_without_sounddevice():
    code = (
        "import sys; import ser_live.audio, ser_live.vad, ser_live.ringbuffer; "
        "assert 'sounddevice' not in sys.modules, 'sounddevice imported eagerly'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_missing_portaudio_maps_to_portaudio_missing_error(monkeypatch):
    # What sounddevice really does when libportaudio is absent: find_library finds
    # nothing and the import raises OSError.
    monkeypatch.delitem(sys.modules, "sounddevice", raising=False)
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(PortAudioMissingError) as info:
        MicrophoneSource()
    msg = str(info.value)
    assert "apt-get install libportaudio2" in msg and "brew install portaudio" in msg
    assert info.value.exit_code == PortAudioMissingError.exit_code
    with pytest.raises(PortAudioMissingError):
        list_input_devices()


@pytest.mark.parametrize("device", ["no-such-device-ser-live-test", 9999])
def test_unknown_device_is_a_device_error_with_advice(device):
    with pytest.raises(DeviceError) as info:
        MicrophoneSource(device=device)
    if not isinstance(info.value, PortAudioMissingError):
        assert "ser-live devices" in str(info.value) and "--input FILE" in str(info.value)
