"""A Recognizer used as a library: a result callback instead of iteration (a voice
assistant's or a game's event), a callback that stops the run, one model shared by
recognisers on several threads, a source given to a second run. Real RAVDESS speech."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from ser_live import EmotionModel, FileSource, PushSource, Recognizer

from .test_pipeline import model, session, test_model_path  # noqa: F401 (fixtures)


def _iterated(path, model) -> list:  # noqa: F811
    with Recognizer(FileSource(path, speed=0), model) as rec:
        return [(r.utterance.start_sample, r.prediction) for r in rec]


def test_on_result_gets_every_result_and_nothing_piles_up_on_the_queue(session, model):  # noqa: F811
    """README: "Instead of iterating, pass on_result=callback". A run that only calls back
    must neither keep every Result (samples and features) on `rec.results` for ever nor
    leave `rec.finished` false, so that `while not rec.finished` ends."""
    path, _, _ = session
    got, threads = [], set()

    def on_result(r) -> None:
        got.append((r.utterance.start_sample, r.prediction))
        threads.add(threading.current_thread().name)

    with Recognizer(FileSource(path, speed=0), model, on_result=on_result) as rec:
        assert rec.done.wait(120)
        assert rec.results.empty() and rec.finished
        assert list(rec) == []  # iterating waits for the end, yields nothing
    assert got == _iterated(path, model) and len(got) == 4
    assert threads == {"ser-live-worker"}


def test_on_result_may_stop_the_run(session, model, caplog):  # noqa: F811
    """A voice assistant that stops listening on the first angry utterance calls
    rec.stop() in its callback, on the worker thread."""
    path, _, _ = session
    got = []

    def on_result(r) -> None:
        got.append(r)
        rec.stop()

    caplog.set_level(logging.WARNING, logger="ser_live")
    rec = Recognizer(FileSource(path, speed=0), model, on_result=on_result)
    with rec:
        assert rec.done.wait(120)
    assert got and rec.error is None and rec.done.is_set()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    assert not any(t.name.startswith("ser-live-") and t.is_alive() for t in threading.enumerate())


def test_a_callback_that_stops_a_run_with_utterances_queued_saves_them_without_waiting(session, model, tmp_path,  # noqa: F811
                                                                                    caplog):
    """stop() on the worker thread, with the segmenter waiting for room in the queue (a queue
    of one, the session's four utterances already in the ring): before, stop() waited 30 s
    for a segmenter only the blocked worker could unblock, then aborted it ("still
    draining"), and closed the recordings index before the queued utterances the callback
    still got were saved."""
    path, _, _ = session
    got, cut_at_stop = [], []

    def on_result(r) -> None:
        got.append(r)
        if len(got) == 1:
            # the state the test is about: one utterance in this callback, one queued, the
            # segmenter holding a third and waiting for room (without this wait, a loaded machine
            # could reach stop() before the second was cut, and the test failed on len(got) == 1)
            deadline = time.monotonic() + 30
            while rec.segmenter.n_utterances < 3 and time.monotonic() < deadline:
                time.sleep(0.005)
            cut_at_stop.append(rec.segmenter.n_utterances)
            rec.stop()

    caplog.set_level(logging.WARNING, logger="ser_live")
    rec = Recognizer(FileSource(path, speed=0), model, on_result=on_result, max_queued_utterances=1,
                     save_dir=tmp_path / "rec")
    with rec:
        assert rec.done.wait(120)
    assert "still draining" not in caplog.text and rec.error is None
    assert cut_at_stop[0] >= 3, cut_at_stop  # (a callback's own error would only be logged)
    index = (tmp_path / "rec" / "index.jsonl").read_text().splitlines()
    assert len(got) >= 2 and len(index) == len(got) == rec.recordings.n_saved, (len(got), len(index))
    assert not any(t.name.startswith("ser-live-") and t.is_alive() for t in threading.enumerate())


def test_a_failing_callback_is_logged_and_the_run_goes_on(session, model, caplog):  # noqa: F811
    path, _, _ = session
    calls = []

    def on_result(r) -> None:
        calls.append(r)
        raise KeyError("app bug")

    with Recognizer(FileSource(path, speed=0), model, on_result=on_result) as rec:
        assert rec.done.wait(120)
    assert len(calls) == 4 and rec.error is None
    assert caplog.text.count("on_result callback failed") == 4 and "app bug" in caplog.text


def test_with_on_result_provisional_results_go_to_the_callback_too(session, model):  # noqa: F811
    """With ``partial``, a provisional estimate of the utterance in progress is given to the
    callback like a final one (``final=False``), not left on ``rec.results`` undrained."""
    from ser_live.vad import PartialConfig, Segmenter

    path, x, spans = session
    got = []
    rec = Recognizer(FileSource(path, speed=0), model, partial=PartialConfig(), on_result=got.append)
    seg = Segmenter()
    start, end = spans[0]
    for i in range(0, (start + end) // 2, seg.frame_length):  # half-way through the first utterance
        seg.process_frame(x[i : i + seg.frame_length], i)
    snap = seg.in_progress()
    assert snap is not None
    rec._partial_slot = snap
    rec._run_partial()  # the worker's step when idle
    assert [r.final for r in got] == [False] and got[0].utterance is snap
    assert rec.results.empty() and rec.n_provisional == 1


def _in_thread(call, wait_s: float = 120.0):
    """``call()`` on a daemon thread; its return, or AssertionError if it is still waiting
    after ``wait_s`` (the test fails rather than hangs)."""
    out: list = []
    t = threading.Thread(target=lambda: out.append(call()), daemon=True)
    t.start()
    t.join(wait_s)
    assert not t.is_alive(), f"{call} still waiting after {wait_s} s"
    return out[0]


def test_get_result_without_a_timeout_ends_with_the_run(session, model):  # noqa: F811
    """Before, get_result() (timeout None: "forever") took the file's 4 results and then
    waited for ever for a fifth, so `while (r := rec.get_result()) is not None` never ended;
    with on_result it waited for ever at once. None now comes once the run is finished."""
    path, _, _ = session
    iterated = _iterated(path, model)
    with Recognizer(FileSource(path, speed=0), model) as rec:
        def drain() -> list:
            got = []
            while (r := rec.get_result()) is not None:
                got.append((r.utterance.start_sample, r.prediction))
            return got

        assert _in_thread(drain) == iterated and len(iterated) == 4
        assert rec.finished
        t0 = time.monotonic()
        assert rec.get_result(timeout_s=600) is None  # over: no waiting out the timeout
        assert time.monotonic() - t0 < 60
    called = []
    with Recognizer(FileSource(path, speed=0), model, on_result=called.append) as rec:
        assert _in_thread(rec.get_result) is None
    assert len(called) == 4


def test_a_bad_revise_until_with_speaker_turns_is_refused_when_made(session):  # noqa: F811
    """Before, Recognizer(speakers=2, revise_until=-1) was accepted (the check ran only for
    the run's one session) and the first speaker's reviser raised on the worker thread at the
    first utterance: the worker died, every result was lost and iteration ended with that
    ValueError. It is now refused where the argument was given, as without speakers. (The
    shipped model: it has the session normaliser that revision needs.)"""
    path, _, _ = session
    model = EmotionModel.load()
    assert model.new_session() is not None
    for speakers in (1, 2, "auto"):
        with pytest.raises(ValueError, match="until must be >= 0"):
            Recognizer(FileSource(path, speed=0), model, speakers=speakers, revise_until=-1)
    with Recognizer(FileSource(path, speed=0), model, speakers=2, revise_until=0) as rec:
        got = list(rec)  # 0: revise nothing, a valid choice
    assert len(got) == 4 and rec.error is None and all(r.speaker in ("A", "B") for r in got)
    assert all(r.revision is None for r in got)


def test_a_callback_calling_sys_exit_is_logged_and_the_run_goes_on(session, model, caplog):  # noqa: F811
    """Before, SystemExit (sys.exit() in the callback, not an Exception) escaped the
    callback's guard and killed the worker: the first result only, the other utterances lost
    without a count, rec.error = SystemExit re-raised by iteration in the main thread (ending
    the program), and a longer file left the segmenter waiting for room until stop() gave up
    after 30 s."""
    path, _, _ = session
    calls = []

    def on_result(r) -> None:
        calls.append((r.utterance.start_sample, r.prediction))
        raise SystemExit(0)

    with Recognizer(FileSource(path, speed=0), model, on_result=on_result) as rec:
        assert rec.done.wait(120)
        assert list(rec) == []  # ends, raising nothing
    assert calls == _iterated(path, model) and len(calls) == 4
    assert rec.error is None and rec.n_errors == 0
    assert caplog.text.count("on_result callback failed") == 4 and "worker thread failed" not in caplog.text


def test_stop_while_another_thread_stops_waits_for_the_last_result(session, model, tmp_path):  # noqa: F811
    """Before, a second stop() (the main thread leaving `with` while a UI thread's stop()
    drained) returned at once with the run's results still being classified: a program
    ending there lost them, unsaved. It now returns with every result published and saved."""
    _, x, _ = session
    src = PushSource()
    got = []
    first_stop_began = threading.Event()

    def on_result(r) -> None:
        first_stop_began.wait(60)
        time.sleep(0.2)  # a slow consumer: the drain takes a while
        got.append((r.utterance.start_sample, r.prediction))

    rec = Recognizer(src, model, on_result=on_result, save_dir=tmp_path / "saved").start()
    try:
        src.push(x)  # the whole session, then stop while it is being classified
        stopper = threading.Thread(target=rec.stop, daemon=True)
        stopper.start()
        assert src.finished.wait(60)  # the other thread's stop() is under way: it closed the source
        first_stop_began.set()
        rec.stop()
        assert rec.done.is_set() and len(got) == 4 and rec.summary().n_utterances == 4
        assert rec.recordings.n_saved == 4
    finally:
        first_stop_began.set()
        rec.stop()
    stopper.join(60)
    assert not stopper.is_alive()
    with Recognizer(FileSource(session[0], speed=0), model) as ref:
        assert got == [(r.utterance.start_sample, r.prediction) for r in ref]


def test_a_worker_that_fails_ends_the_run_instead_of_leaving_it_waiting(session, model, tmp_path, caplog):  # noqa: F811
    """A bug in the worker's bookkeeping after classification (here the rolling estimate
    raises) killed the worker while it held its publish lock, and the segmenter then waited
    for room in the full utterance queue until stop() gave up after its 30 s timeout (and
    quit() waited 10 s on the lock). Now the lock is released, the segmenter stops reading
    by itself once nothing takes its utterances (counted as dropped), and stop() returns at
    once, with the worker's error on rec.error."""
    import numpy as np

    from ser_live.audiofile import write_wav

    _, x, _ = session
    long = write_wav(tmp_path / "three.wav", np.concatenate([x, x, x]))  # 12 utterances
    rec = Recognizer(FileSource(long, speed=0), model, max_queued_utterances=1)

    def broken(_res):
        raise RuntimeError("a bug in the rolling estimate")

    rec.rolling.update = broken
    rec.start()
    try:
        assert rec.done.wait(120)
        # the segmenter stops reading by itself once nothing takes its utterances (before,
        # it waited for queue room until stop() told it to)
        rec._segmenter_thread.join(10.0)
        assert not rec._segmenter_thread.is_alive()
        t0 = time.monotonic()
        rec.stop(timeout_s=30.0)
        stop_s = time.monotonic() - t0
        t0 = time.monotonic()
        rec.quit()
        quit_s = time.monotonic() - t0
    finally:
        rec.stop()
    assert isinstance(rec.error, RuntimeError) and "worker thread failed" in caplog.text
    assert stop_s < 10.0 and quit_s < 5.0, (stop_s, quit_s)
    assert rec.dropped_utterances >= 1
