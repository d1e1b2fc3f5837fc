"""Re-use as a developer tries it on the first day: a Recognizer started again after its
run, a source handed to a second Recognizer (a voice assistant making one recogniser per
wake word around one microphone), one model shared by recognisers on several threads, a
Predictor called from several threads. Each works or says what to do. Real RAVDESS speech
(the microphone: a PulseAudio null sink, ``tests/pulse.py``)."""

from __future__ import annotations

import threading

import pytest

from ser_live import FileSource, MicrophoneSource, Predictor, PushSource, Recognizer
from ser_live.audiofile import load_audio

from .pulse import pulse_null_sink  # noqa: F401 (fixture)
from .test_pipeline import model, session, test_model_path  # noqa: F401 (fixtures)


def _run(source, model) -> list:  # noqa: F811
    with Recognizer(source, model) as rec:
        return [(r.utterance.start_sample, r.prediction) for r in rec]


def test_a_recognizer_or_file_source_started_again_says_to_make_a_new_one(session, model):  # noqa: F811
    path, _, _ = session
    source = FileSource(path, speed=0)
    rec = Recognizer(source, model)
    with rec:
        first = list(rec)
    assert len(first) == 4
    with pytest.raises(RuntimeError, match="runs once; make a new Recognizer"):
        rec.start()
    with pytest.raises(RuntimeError, match=r"FileSource was already started.*make a new FileSource\(path\)"):
        Recognizer(source, model).start()


def test_a_microphone_source_used_for_a_second_run_is_refused(pulse_null_sink, model):  # noqa: F811
    """Before, the second run opened the device again with the first run's stop flag set:
    no watchdog, so a muted microphone never hit the no-audio timeout."""
    mic = MicrophoneSource(device=pulse_null_sink.device_name)
    with Recognizer(mic, model) as rec:
        rec.stop()
    with pytest.raises(RuntimeError, match=r"MicrophoneSource was already started.*make a new MicrophoneSource"):
        Recognizer(mic, model).start()


def _on_threads(call, n: int) -> list:
    """``call()`` on ``n`` threads at once; their returns in thread order."""
    out: dict[int, object] = {}
    threads = [threading.Thread(target=lambda i=i: out.__setitem__(i, call())) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    return [out.get(i) for i in range(n)]


def test_one_model_serves_recognisers_on_several_threads(session, model):  # noqa: F811
    path, _, _ = session
    alone = _run(FileSource(path, speed=0), model)
    assert len(alone) == 4 and _on_threads(lambda: _run(FileSource(path, speed=0), model), 3) == [alone] * 3


def test_one_predictor_serves_several_threads(session, model):  # noqa: F811
    path, _, _ = session
    p = Predictor(model)
    y = load_audio(path)

    def predictions() -> list:
        return [r.prediction for r in p.process_signal(y, segments=True)]

    alone = predictions()
    assert len(alone) == 4 and _on_threads(predictions, 4) == [alone] * 4


def test_a_push_source_serves_one_run(session, model):  # noqa: F811
    _, x, _ = session
    src = PushSource()
    with Recognizer(src, model) as rec:
        src.push(x)
        src.close()
        assert len(list(rec)) == 4
    with pytest.raises(RuntimeError, match="make a new PushSource"):
        Recognizer(src, model).start()


def _live_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ser-live-") and t.is_alive()]


def test_a_recognizer_stopped_before_it_started_refuses_to_start(session, model):  # noqa: F811
    """Before, stop() before start() marked the run stopped and done, and start() then
    started the threads and the source anyway: iteration ended at once with no result (the
    audio pushed was silently lost), and stop() (idempotent) no longer stopped anything, so
    the segmenter thread waited on the ring for ever and a microphone stayed open."""
    _, x, _ = session
    src = PushSource()
    rec = Recognizer(src, model)
    rec.stop()
    with pytest.raises(RuntimeError, match="stopped before it started.*make a new Recognizer"):
        rec.start()
    with pytest.raises(RuntimeError, match="stopped before it started"):
        with rec:
            pass
    assert _live_threads() == []
    assert list(rec) == []  # its (empty) run is over
    with pytest.raises(RuntimeError, match="before the recogniser started it"):
        src.push(x)  # the source was never started: it may serve a new Recognizer
    with Recognizer(src, model) as rec2:
        src.push(x)
        src.close()
        assert len(list(rec2)) == 4
    assert _live_threads() == []
