"""PushSource: audio an application pushes into a Recognizer from its own engine (a websocket,
WebRTC, a game audio callback) at its own rate and channel count. Pushed block by block, real
corpus speech gives the results of replaying the same audio as a file; a full buffer drops
and counts, never waits; misuse raises at the call that made it."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import ser_live
from ser_live import FileSource, PushSource, Recognizer

from .test_pipeline import SR, model, session, test_model_path  # noqa: F401 (fixtures)


def _results(rec: Recognizer) -> list[tuple]:
    """What a run gave, in order: boundaries (16 kHz samples), label, probabilities."""
    return [(r.utterance.start_sample, r.utterance.end_sample, r.label, r.prediction.probabilities) for r in rec]


def _replayed(path: Path, model) -> list[tuple]:  # noqa: F811
    with Recognizer(FileSource(path, speed=0), model) as rec:
        return _results(rec)


def _pushed(blocks, model, *, sample_rate_hz: int, channels: int, channel: int | None = None,  # noqa: F811
            ) -> tuple[list[tuple], PushSource]:
    """Push ``blocks`` from another thread (as an engine's callback would), then close."""
    src = PushSource(sample_rate_hz=sample_rate_hz, channels=channels, channel=channel)
    failed: list[BaseException] = []
    with Recognizer(src, model) as rec:
        def feed() -> None:
            try:
                for b in blocks:
                    src.push(b)
            except BaseException as exc:  # the test fails with it, not hangs
                failed.append(exc)
            finally:
                src.close()

        threading.Thread(target=feed, daemon=True).start()
        got = _results(rec)
    if failed:
        raise failed[0]
    return got, src


@pytest.fixture(scope="module")
def session_48k_stereo(session, tmp_path_factory) -> tuple[Path, Path]:
    """The 4-utterance RAVDESS session as a 48 kHz stereo call (second channel 6 dB lower),
    written as float32 and as 16-bit WAV."""
    import soxr

    _, x, _ = session
    y = soxr.resample(x.astype(np.float32) / 32768, SR, 48000, quality="HQ")
    stereo = np.stack([y, 0.5 * y], axis=1).astype(np.float32)
    folder = tmp_path_factory.mktemp("push")
    f32, i16 = folder / "call-f32.wav", folder / "call-i16.wav"
    sf.write(str(f32), stereo, 48000, subtype="FLOAT")
    sf.write(str(i16), stereo, 48000, subtype="PCM_16")
    return f32, i16


def test_pushed_48k_stereo_blocks_give_the_results_of_the_replayed_file(session_48k_stereo, model):  # noqa: F811
    f32, i16 = session_48k_stereo
    # float32 (n, 2) blocks of 10 ms, as WebRTC or a game audio callback delivers them
    y, rate = sf.read(str(f32), dtype="float32", always_2d=True)
    ref = _replayed(f32, model)
    assert len(ref) == 4
    got, src = _pushed([y[i : i + 480] for i in range(0, len(y), 480)], model, sample_rate_hz=rate, channels=2)
    assert got == ref
    assert src.dropped_samples == 0 and src.samples_pushed == len(y)
    # interleaved 16-bit PCM bytes of 20 ms, as a websocket carries them
    data = sf.read(str(i16), dtype="int16")[0].tobytes()
    step = 960 * 2 * 2
    got, _ = _pushed([data[i : i + step] for i in range(0, len(data), step)], model, sample_rate_hz=rate, channels=2)
    assert got == _replayed(i16, model)
    # WebRTC frames as aiortc hands them over: PyAV's AudioFrame.to_ndarray() of packed s16,
    # one row of interleaved samples, shape (1, 960 * 2) for 20 ms
    packed = np.frombuffer(data, dtype="<i2").reshape(1, -1)
    got, _ = _pushed([packed[:, i : i + 1920] for i in range(0, packed.shape[1], 1920)], model, sample_rate_hz=rate,
                     channels=2)
    assert got == _replayed(i16, model)


def test_memoryviews_of_int16_pcm_are_read_by_their_bytes(session_48k_stereo, model):  # noqa: F811
    """A C engine's callback buffer reaches Python as a memoryview of int16 samples, in blocks
    of any frame count (here 441). Before, its length in samples was taken for bytes: a block
    of an odd number of stereo frames was refused as "not whole frames". A memoryview of
    float32 samples is not 16-bit PCM: refused, not read as noise."""
    _, i16 = session_48k_stereo
    y, rate = sf.read(str(i16), dtype="int16")
    flat = y.reshape(-1)
    step = 441 * 2
    got, src = _pushed([memoryview(flat[i : i + step]) for i in range(0, len(flat), step)], model,
                       sample_rate_hz=rate, channels=2)
    assert got == _replayed(i16, model) and src.samples_pushed == len(y)
    src = PushSource(sample_rate_hz=rate, channels=2)
    with Recognizer(src, model):
        with pytest.raises(ValueError, match="memoryview of format 'f' is not 16-bit PCM"):
            src.push(memoryview(y[:480].astype(np.float32).reshape(-1) / 32768))
        src.close()


def test_one_side_of_a_stereo_call_is_recognised_alone(session, ravdess_root, corpus_session, model,  # noqa: F811
                                                        tmp_path, caplog):
    """A call-centre tool: the agent on channel 0, the caller on channel 1, both real speech;
    ``channel=1`` gives what the caller's side alone, replayed as a file, gives. Pushed at
    8 kHz, it warns as Predictor does."""
    import soxr

    _, agent, _ = session
    caller = corpus_session(ravdess_root, ("Actor_11/03-01-05-02-02-02-11.flac", "Actor_12/03-01-03-02-01-01-12.flac"),
                            gap_s=1.5, pause_first=True, tail_s=1.0).samples
    n = max(len(agent), len(caller))
    call = np.zeros((n, 2), np.float32)
    call[: len(agent), 0] = agent / 32768
    call[: len(caller), 1] = caller / 32768
    call8k = soxr.resample(call, SR, 8000, quality="HQ").astype(np.float32)
    side = tmp_path / "caller-8k.wav"
    sf.write(str(side), call8k[:, 1], 8000, subtype="FLOAT")
    caplog.set_level("WARNING", logger="ser_live")
    got, _ = _pushed([call8k[i : i + 160] for i in range(0, len(call8k), 160)], model, sample_rate_hz=8000,
                     channels=2, channel=1)
    assert "PushSource: recorded at 8000 Hz" in caplog.text
    assert got == _replayed(side, model) and len(got) == 2
    both, _ = _pushed([call8k[i : i + 160] for i in range(0, len(call8k), 160)], model, sample_rate_hz=8000,
                      channels=2)
    assert len(both) > len(got)  # the mix hears the agent too
    with pytest.raises(ValueError, match="channel must be None or 0..1"):
        PushSource(channels=2, channel=2)


def test_pushed_16k_int16_is_the_file_bit_for_bit(session, model):  # noqa: F811
    path, x, _ = session
    got, src = _pushed([x[i : i + 320] for i in range(0, len(x), 320)], model, sample_rate_hz=SR, channels=1)
    assert got == _replayed(path, model) and len(got) == 4


def test_a_full_buffer_drops_and_counts_and_the_pusher_never_waits(session, model, caplog):  # noqa: F811
    """The whole session pushed in one go into a 1 s buffer: what does not fit is dropped,
    said by push's return value, the source and the recogniser alike; stream time still
    counts every sample."""
    _, x, _ = session
    src = PushSource(sample_rate_hz=SR)
    with Recognizer(src, model, ring_capacity_s=1.0) as rec:
        dropped = src.push(x)
        src.close()
        list(rec)
    assert dropped > 0 and dropped == src.dropped_samples == rec.status().dropped_samples
    assert rec.ring.written_samples == len(x)
    # said, not only counted: a script without a dashboard learns it from the log
    assert caplog.text.count("PushSource: the recogniser's buffer (1.0 s) is full") == 1


def test_pushes_after_max_duration_are_ignored_not_dropped(session, model, caplog):  # noqa: F811
    """Once ``max_duration_s`` has ended the run, an engine that keeps pushing until it calls
    ``stop()`` is told nothing is taken (push returns 0), and nothing is counted or logged as
    dropped. Before, the audio after the limit filled the buffer, was counted as dropped and
    drew the "cannot keep up" warning, though the run had simply ended."""
    _, x, _ = session
    src = PushSource(sample_rate_hz=SR)
    rec = Recognizer(src, model, ring_capacity_s=1.0, max_duration_s=0.5).start()
    try:
        assert src.push(x[: SR]) == 0  # 1 s: the limit is inside this block, the buffer holds it
        assert rec.done.wait(30)  # a hang guard, not a timing
        assert rec.reached_max_duration
        returned = [src.push(x[i : i + 320]) for i in range(SR, len(x), 320)]  # more than 1 s more
    finally:
        rec.stop()
    assert returned and not any(returned)
    assert src.dropped_samples == rec.status().dropped_samples == 0
    assert "is full" not in caplog.text


def test_a_log_handler_may_end_the_stream_on_the_drop_warning(session, model):  # noqa: F811
    """An application that ends the call when the recogniser cannot keep up does it from a
    logging handler, on the pushing thread. Before, the warning was logged with the source's
    lock held, and close() waited for that lock for ever."""
    import logging

    _, x, _ = session
    src = PushSource(sample_rate_hz=SR)

    class EndTheCall(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if "buffer" in record.getMessage():
                src.close()

    handler = EndTheCall(logging.WARNING)
    logging.getLogger("ser_live.audio").addHandler(handler)
    try:
        rec = Recognizer(src, model, ring_capacity_s=1.0).start()
        pusher = threading.Thread(target=src.push, args=(x,), daemon=True)
        pusher.start()
        pusher.join(60)  # a deadlock guard, not a timing
        # (not stopped on failure: stop() would wait for the same lock)
        assert not pusher.is_alive(), "push() deadlocked on the source's own lock"
        assert src.finished.is_set() and src.dropped_samples > 0
        list(rec)
        rec.stop()
    finally:
        logging.getLogger("ser_live.audio").removeHandler(handler)


def test_misuse_raises_at_the_call_that_made_it(session, model):  # noqa: F811
    _, x, _ = session
    y = x[: SR].astype(np.float32) / 32768
    src = PushSource(sample_rate_hz=48000, channels=2)
    with pytest.raises(RuntimeError, match="before the recogniser started it"):
        src.push(np.zeros((480, 2), np.float32))
    rec = Recognizer(src, model).start()
    try:
        cases = [
            (np.stack([y, y]), r"shape \(2, 16000\) for 2 channel.*block\.T"),  # channels first
            (np.zeros((480, 3), np.float32), r"expected \(n_frames, 2\)"),
            (y[:-1], "15999 interleaved samples are not whole frames of 2 channels"),
            (b"\x00" * 6, "not whole frames of 2 16-bit"),
            (np.stack([y, y], 1) * 32768, r"\[-1, 1\].*32768"),  # int16-range floats
            (np.full((10, 2), np.nan, np.float32), "NaN or infinite"),
            (np.zeros((10, 2), np.int32), "float32 in \\[-1, 1\\] or int16, got int32"),
        ]
        for block, message in cases:
            with pytest.raises(ValueError, match=message):
                src.push(block)
        assert src.samples_pushed == 0
    finally:
        rec.stop()
    assert src.push(np.zeros((480, 2), np.float32)) == 0  # after the end: ignored, no error
    with pytest.raises(RuntimeError, match="make a new PushSource"):
        Recognizer(src, model).start()
    for kwargs in ({"sample_rate_hz": 0}, {"sample_rate_hz": float("nan")}, {"channels": 0}):
        with pytest.raises(ValueError):
            PushSource(**kwargs)


def test_stop_from_another_thread_ends_the_loop_while_the_engine_keeps_pushing(session, model):  # noqa: F811
    _, x, _ = session
    src = PushSource(sample_rate_hz=SR)
    pushing = threading.Event()
    ignored: list[int] = []

    def engine() -> None:  # pushes 20 ms blocks for ever, as a game's audio thread would
        i = 0
        while not src.finished.is_set():
            src.push(x[i : i + 320])
            i = (i + 320) % len(x)
            pushing.set()
        ignored.append(src.push(x[:320]))

    with Recognizer(src, model) as rec:
        t = threading.Thread(target=engine, daemon=True)
        t.start()
        assert pushing.wait(10.0)
        rec.stop()  # e.g. from a UI thread
        list(rec)
    t.join(10.0)
    assert not t.is_alive() and ignored == [0] and rec.error is None


def test_push_source_is_exported_and_documented():
    assert "PushSource" in ser_live.__all__ and ser_live.PushSource is PushSource
    doc = PushSource.push.__doc__
    for word in ("(n_frames, channels)", "int16", "never waits", "Raises", "little-endian"):
        assert word in doc


def _readme_push_example() -> str:
    """The ```python block of README's "Use it from Python" that uses PushSource."""
    text = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Use it from Python"):]
    blocks = [b.split("```", 1)[0] for b in section.split("```python\n")[1:]]
    return next(b for b in blocks if "PushSource(" in b)


def test_the_readme_example_runs_as_written_and_prints_the_replays_results(session_48k_stereo, capsys):
    from ser_live import EmotionModel

    f32, _ = session_48k_stereo
    code = _readme_push_example()
    assert '"call.wav"' in code and "sample_rate_hz=48000, channels=2" in code
    exec(compile(code.replace('"call.wav"', repr(str(f32))), "README.md", "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    with Recognizer(FileSource(f32, speed=0), EmotionModel.load()) as rec:
        expected = [f"{r.utterance.start_s:.2f} s  {r.label}" for r in rec]
    assert printed == expected and len(expected) == 4
