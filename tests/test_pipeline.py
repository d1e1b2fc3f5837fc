"""The recogniser end to end on real RAVDESS speech, through FileSource and the same
ring -> segmenter thread -> worker thread pipeline a microphone feeds.

The tests need a model only for consistency (parity, behaviour), never for correct labels:
they train a small one on 32 RAVDESS files with the current feature extractor
(:func:`test_model_path`), so they do not depend on the shipped model being up to date.
"""

from __future__ import annotations

import functools
import json
import math
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from ser_live.audio import FileSource
from ser_live.audiofile import SAMPLE_RATE_HZ, decode_audio, load_audio, to_int16, write_wav
from ser_live.errors import AudioFileError, DeviceError, NoSpeechError
from ser_live.model import EmotionModel
from ser_live.offline import Predictor
from ser_live.pipeline import Recognizer, latency_stats
from ser_live.ringbuffer import RingBuffer
from ser_live.rolling import RollingEstimate
from ser_live.types import Prediction, Result, UncertaintyRule, Utterance
from ser_live.vad import VadConfig, segment_signal, speech_span
from train.corpora import RAVDESS_EMOTIONS

SR = SAMPLE_RATE_HZ
#: Samples in one VAD frame of the default configuration.
FRAME_SAMPLES = VadConfig().frame_ms * SR // 1000
#: RAVDESS files of the test session: four actors, both genders, four emotions.
SESSION_FILES = (
    "Actor_05/03-01-05-02-01-01-05.flac",  # angry
    "Actor_06/03-01-04-02-02-01-06.flac",  # sad
    "Actor_09/03-01-03-02-01-02-09.flac",  # happy
    "Actor_10/03-01-02-01-02-01-10.flac",  # calm
)
GAP_S = 1.0


# ---------------------------------------------------------------------------- fixtures
@functools.lru_cache(maxsize=None)
def _train_test_model(ravdess_root: str, base_temp: str) -> Path:
    """A small model for the current extractor: 32 RAVDESS files (actors 1-4, normal
    intensity, statement 1), trimmed like training files, scaler + logistic regression.
    Cached per process (test modules share it); written under pytest's base temporary
    folder, which pytest prunes, so runs leave nothing of their own in /tmp."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from ser_live.features import FeatureConfig, FeatureExtractor

    labels = sorted(RAVDESS_EMOTIONS.values())
    fx = FeatureExtractor(FeatureConfig())
    X, y = [], []
    for actor in (1, 2, 3, 4):
        for f in sorted((Path(ravdess_root) / f"Actor_{actor:02d}").glob("03-01-*-01-01-01-*.flac")):
            s = load_audio(f)
            span = speech_span(s)
            X.append(fx.extract(s[span[0] : span[1]] if span else s))
            y.append(labels.index(RAVDESS_EMOTIONS[f.name.split("-")[2]]))
    assert len(set(y)) == len(labels), "the training files must cover every label"
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    est.fit(np.array(X), np.array(y))
    path = Path(tempfile.mkdtemp(prefix="test-model-", dir=base_temp)) / "test-model.skops"
    EmotionModel(est, labels, FeatureConfig(), name="test-model").save(path)
    return path


@pytest.fixture(scope="session")
def test_model_path(ravdess_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the small test model (see :func:`_train_test_model`)."""
    return _train_test_model(str(ravdess_root), str(tmp_path_factory.getbasetemp()))


@pytest.fixture(scope="session")
def model(test_model_path: Path) -> EmotionModel:
    return EmotionModel.load(test_model_path)


def _need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not found (set SER_LIVE_DATA to the corpora folder)")
    return path


@pytest.fixture(scope="session")
def session(ravdess_root: Path, tmp_path_factory, corpus_session) -> tuple[Path, np.ndarray, list[tuple[int, int]]]:
    """The 4-file session (``GAP_S`` of digital silence after each file) as a 16 kHz WAV:
    (path, int16 samples, file spans)."""
    built = corpus_session(ravdess_root, SESSION_FILES, gap_s=GAP_S, tail_s=GAP_S)
    x, spans = built.samples, built.spans
    path = write_wav(tmp_path_factory.mktemp("session") / "session.wav", x)
    return path, x, spans


def run_recognizer(source, model: EmotionModel, **kwargs) -> tuple[Recognizer, list[Result]]:
    """Start a Recognizer, drain its results until the source ends, stop it."""
    rec = Recognizer(source, model, **kwargs)
    rec.start()
    results = []
    try:
        while not rec.finished:
            r = rec.get_result(timeout_s=0.1)
            if r is not None:
                results.append(r)
    finally:
        rec.stop()
    while (r := rec.get_result(timeout_s=0)) is not None:
        results.append(r)
    return rec, results


@pytest.fixture(scope="module")
def live_run(session, model, tmp_path_factory):
    """The session replayed as fast as possible (no loss), utterances saved."""
    path, x, spans = session
    save_dir = tmp_path_factory.mktemp("saved")
    rec, results = run_recognizer(FileSource(path, speed=0), model, save_dir=save_dir)
    return rec, results, save_dir


def _tolerance_samples(cfg: VadConfig) -> tuple[int, int]:
    frame = SR * cfg.frame_ms // 1000
    return SR * cfg.preroll_ms // 1000 + frame, SR * cfg.hangover_ms // 1000 + frame


# ---------------------------------------------------------------------------- session
def test_session_of_n_files_gives_n_utterances_each_within_its_file(session, live_run):
    path, x, spans = session
    rec, results, _ = live_run
    assert len(results) == len(SESSION_FILES)
    before, after = _tolerance_samples(VadConfig())
    for r, (s, e) in zip(results, spans):
        u = r.utterance
        assert s - before <= u.start_sample < u.end_sample <= e + after, (u.start_sample, u.end_sample, s, e)
        assert u.start_sample < (s + e) // 2 < u.end_sample  # it is this file's speech
        np.testing.assert_array_equal(u.samples, x[u.start_sample : u.end_sample])
    assert [r.utterance.index for r in results] == list(range(len(results)))
    summary = rec.summary()
    assert summary.n_utterances == len(results)
    assert sum(summary.label_counts.values()) == len(results)
    assert summary.audio_s == pytest.approx(len(x) / SR, abs=0.03)  # the last partial frame is not read
    assert summary.dropped_samples == 0 and summary.dropped_s == 0
    for key in ("processing_ms", "end_of_speech_ms"):
        stats = getattr(summary, key)
        assert set(stats) == {"p50", "p95", "max"}
        assert 0 <= stats["p50"] <= stats["p95"] <= stats["max"]
    assert rec.error is None and rec.n_errors == 0


def test_results_carry_labels_probabilities_latencies_and_rolling(live_run, model):
    _, results, _ = live_run
    for r in results:
        p = r.prediction.probabilities
        assert list(p) == model.labels
        assert sum(p.values()) == pytest.approx(1.0)
        assert r.label == max(p, key=p.get) and r.confidence == p[r.label]
        # processing: closed -> ready; end of speech: last voiced frame entered -> ready
        u = r.utterance
        assert r.processing_ms == pytest.approx((r.ready_time - u.closed_time) * 1000)
        assert r.end_of_speech_ms == pytest.approx((r.ready_time - u.last_voiced_time) * 1000)
        assert 0 < r.processing_ms <= r.end_of_speech_ms
        assert list(r.rolling) == model.labels and sum(r.rolling.values()) == pytest.approx(1.0)
        assert set(r.to_json()) == {"index", "start_s", "end_s", "duration_s", "label", "confidence",
                                    "probabilities", "arousal", "valence", "rolling", "rolling_arousal",
                                    "rolling_valence", "processing_ms", "end_of_speech_ms"}
    assert results[0].rolling == pytest.approx(results[0].prediction.probabilities)


# ---------------------------------------------------------------------------- parity
def _same(a: Result, b: Result) -> None:
    ua, ub = a.utterance, b.utterance
    assert (ua.index, ua.start_sample, ua.end_sample, ua.last_voiced_sample, ua.cut_at_max) == (
        ub.index, ub.start_sample, ub.end_sample, ub.last_voiced_sample, ub.cut_at_max)
    np.testing.assert_array_equal(ua.samples, ub.samples)
    assert a.prediction == b.prediction  # label, confidence, every probability: exactly
    assert a.rolling == b.rolling


def test_live_results_equal_offline_segments(session, live_run, model):
    path, x, _ = session
    _, results, _ = live_run
    offline = Predictor(model).process_signal(x, segments=True)
    assert len(offline) == len(results)
    for a, b in zip(results, offline):
        _same(a, b)
    # The float file, decoded as a replay decodes it, gives the same.
    np.testing.assert_array_equal(decode_audio(path), x)


def test_live_results_equal_ser_live_predict_segments(session, live_run, test_model_path, tmp_path):
    from ser_live.cli import main

    path, _, _ = session
    _, results, _ = live_run
    out = tmp_path / "predict.jsonl"
    rc = main(["predict", str(path), "--segments", "--model", str(test_model_path), "--output", str(out)])
    assert rc == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(results)
    rule = UncertaintyRule.for_labels(len(results[0].prediction.probabilities))  # the default, live and predict
    for rec, r in zip(records, results):
        j = r.to_json()
        assert rec == {"path": str(path), "start_s": j["start_s"], "end_s": j["end_s"], "label": j["label"],
                       "confidence": j["confidence"], "probabilities": j["probabilities"],
                       "arousal": j["arousal"], "valence": j["valence"], "uncertain": rule.applies(r.prediction),
                       "error": None}


def test_saved_utterances_equal_the_input_and_classify_identically(session, live_run, model):
    path, x, _ = session
    rec, results, save_dir = live_run
    wavs = sorted(save_dir.glob("utt-*.wav"))
    index = [json.loads(line) for line in (save_dir / "index.jsonl").read_text().splitlines()]
    assert len(wavs) == len(index) == len(results)
    for r, line, wav in zip(results, index, wavs):
        assert line["wav"] == wav.name == f"utt-{rec.session}-{r.utterance.index:04d}.wav"
        assert line["source"] == path.name
        assert {k: v for k, v in line.items() if k not in ("wav", "source", "kind", "wall_time")} == r.to_json()
        assert line["kind"] == "utterance"
        y = to_int16(load_audio(wav))
        u = r.utterance
        np.testing.assert_array_equal(y, x[u.start_sample : u.end_sample])
        assert model.predict_signal(y) == r.prediction


def test_parity_holds_at_real_time_multiples(session, live_run, model):
    """A paced replay (the timing a microphone has) cuts and labels exactly alike."""
    path, _, _ = session
    _, fast, _ = live_run
    rec, paced = run_recognizer(FileSource(path, speed=10.0), model)
    assert rec.summary().dropped_samples == 0
    assert len(paced) == len(fast)
    for a, b in zip(paced, fast):
        _same(a, b)


def test_continuous_speech_is_cut_into_segments_of_at_most_the_maximum(session, model):
    path, x, spans = session
    cfg = VadConfig(max_utterance_s=1.2, min_utterance_s=0.2)
    rec, results = run_recognizer(FileSource(path, speed=0), model, vad_config=cfg)
    offline = Predictor(model, vad_config=cfg).process_signal(x, segments=True)
    assert len(results) == len(offline) > len(SESSION_FILES)
    for a, b in zip(results, offline):
        _same(a, b)
    max_samples = int(cfg.max_utterance_s * SR) // 480 * 480
    cut = [r for r in results if r.utterance.cut_at_max]
    assert cut, "no utterance reached the maximum length"
    assert all(r.utterance.end_sample - r.utterance.start_sample == max_samples for r in cut)
    assert all(r.utterance.end_sample - r.utterance.start_sample <= max_samples for r in results)
    # A cut continues at the very next sample: consecutive segments of one file touch.
    touching = [(a, b) for a, b in zip(results, results[1:]) if a.utterance.cut_at_max]
    assert any(b.utterance.start_sample == a.utterance.end_sample for a, b in touching)
    for r in results:  # every segment lies in one file
        assert any(s - SR // 3 <= r.utterance.start_sample and r.utterance.end_sample <= e + SR // 2
                   for s, e in spans)


# ---------------------------------------------------------------------------- overrun, shutdown
class ScriptedSource:
    """A test source writing a real recording into the ring, in 20 ms blocks.

    Outside ``burst`` it waits for room (nothing lost, like ``FileSource(speed=0)``); inside
    ``burst = (start, end)`` it writes every block at once and never waits, as a capture
    callback does, then sets ``burst_done`` and waits for ``resume``. With ``hold_at`` it
    writes up to that sample and then waits, still "capturing", until stopped.
    """

    def __init__(self, x: np.ndarray, *, burst: tuple[int, int] | None = None,
                 hold_at: int | None = None, block: int = 320) -> None:
        self.x, self.burst, self.hold_at, self.block = x, burst, hold_at, block
        self.finished = threading.Event()
        self.burst_done = threading.Event()
        self.resume = threading.Event()
        self.holding = threading.Event()
        self._stop = threading.Event()
        self.input_overflows = 0
        self.error = None
        self._thread: threading.Thread | None = None

    def start(self, ring: RingBuffer) -> None:
        self._thread = threading.Thread(target=self._run, args=(ring,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.resume.set()

    def join(self, timeout_s: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout_s)
        return self.finished.is_set()

    def _run(self, ring: RingBuffer) -> None:
        try:
            end = len(self.x) if self.hold_at is None else self.hold_at
            i = 0
            while i < end and not self._stop.is_set():
                j = min(i + self.block, end)
                if self.burst is not None and self.burst[0] <= i < self.burst[1]:
                    if i == self.burst[0]:
                        # The burst starts once two VAD frames fit, so its first frame reaches
                        # the consumer: on a loaded machine the ring could be full here and
                        # the whole burst dropped, and a consumer meant to stall inside it
                        # would then never get there.
                        while not ring.wait_for_room(2 * FRAME_SAMPLES + self.block, timeout_s=0.1):
                            if self._stop.is_set():
                                return
                    ring.write(self.x[i:j])  # never waits for room
                    if j >= self.burst[1]:
                        self.burst_done.set()
                        self.resume.wait()
                else:
                    while not ring.wait_for_room(j - i, timeout_s=0.1):
                        if self._stop.is_set():
                            return
                    ring.write(self.x[i:j])
                i = j
            if self.hold_at is not None:
                self.holding.set()
                self._stop.wait()
        finally:
            ring.close()
            self.finished.set()


def test_overrun_of_a_stalled_segmenter_is_counted_producer_never_blocks(session, model):
    _, x, spans = session
    block = 320
    s0 = (spans[0][1] + SR // 2) // block * block  # in the gap after file 1
    s1 = s0 + 2 * SR  # 2 s written at once while the segmenter is stalled
    src = ScriptedSource(x, burst=(s0, s1), block=block)
    rec = Recognizer(src, model, ring_capacity_s=0.5)
    stalled, release = threading.Event(), threading.Event()
    process = rec.segmenter.process_frame

    def stalling_process_frame(frame, start_sample, *, arrival_time=None):
        if start_sample >= s0 and not release.is_set():
            stalled.set()
            release.wait()
        return process(frame, start_sample, arrival_time=arrival_time)

    rec.segmenter.process_frame = stalling_process_frame  # the consumer stalls at s0
    rec.start()
    try:
        # The producer writes its whole burst (4x the ring) while the consumer is stuck.
        assert src.burst_done.wait(30), "the producer blocked on a stalled consumer"
        assert stalled.wait(30)
        assert rec.ring.overrun_samples > 0
        release.set()
        src.resume.set()
        results = []
        while not rec.finished:
            r = rec.get_result(timeout_s=0.1)
            if r is not None:
                results.append(r)
    finally:
        release.set()
        src.resume.set()
        rec.stop()
    summary = rec.summary()
    ring = rec.ring
    assert summary.dropped_samples == ring.overrun_samples > SR  # at least 1 s lost
    assert summary.dropped_s == pytest.approx(ring.overrun_samples / SR)
    assert ring.written_samples == len(x) and summary.audio_s == pytest.approx(len(x) / SR, abs=0.03)
    # Lost audio never ends up inside an utterance: every one is a contiguous piece of x.
    for r in results:
        u = r.utterance
        np.testing.assert_array_equal(u.samples, x[u.start_sample : u.end_sample])
    # The files before and after the overrun are each recognised once, within their spans.
    before, after = _tolerance_samples(VadConfig())
    for k in (0, 2, 3):
        s, e = spans[k]
        inside = [r for r in results if s - before <= r.utterance.start_sample and r.utterance.end_sample <= e + after]
        assert len(inside) == 1, (k, [(r.utterance.start_sample, r.utterance.end_sample) for r in results])
    assert all(r.label in model.labels for r in results)


def test_stop_mid_utterance_classifies_and_saves_it(session, model, tmp_path):
    _, x, spans = session
    s, e = spans[1]
    hold = (s + e) // 2 // 320 * 320  # inside file 2's speech
    src = ScriptedSource(x, hold_at=hold)
    rec = Recognizer(src, model, save_dir=tmp_path)
    rec.start()
    results = []
    try:
        assert src.holding.wait(30)
        while len(results) < 1:  # file 1's utterance
            r = rec.get_result(timeout_s=30)
            assert r is not None
            results.append(r)
        # Wait until the segmenter has consumed everything written, then "Ctrl-C".
        for _ in range(3000):
            if rec.ring.available < rec.segmenter.frame_length and rec.segmenter.n_frames == hold // 480:
                break
            threading.Event().wait(0.01)
        assert rec.segmenter.state == "speech" and rec.segmenter.n_frames == hold // 480
    finally:
        rec.stop()
        rec.stop()  # idempotent
    while (r := rec.get_result(timeout_s=0)) is not None:
        results.append(r)
    assert len(results) == 2
    last = results[1].utterance
    assert s - SR // 3 <= last.start_sample < hold
    assert last.end_sample == hold // rec.segmenter.frame_length * rec.segmenter.frame_length
    assert not last.cut_at_max
    np.testing.assert_array_equal(last.samples, x[last.start_sample : last.end_sample])
    index = (tmp_path / "index.jsonl").read_text().splitlines()
    assert len(index) == 2 and len(list(tmp_path.glob("utt-*.wav"))) == 2
    assert json.loads(index[1])["end_s"] == pytest.approx(last.end_s, abs=1e-3)
    assert rec.done.is_set() and rec.finished


def test_max_duration_stops_at_that_stream_time_whatever_the_speed(session, model):
    path, x, spans = session
    s, e = spans[1]
    limit_s = (s + e) / 2 / SR  # inside file 2's speech
    rec, results = run_recognizer(FileSource(path, speed=0), model, max_duration_s=limit_s)
    assert rec.reached_max_duration
    fl = rec.segmenter.frame_length
    limit = round(limit_s * SR)
    assert rec.processed_samples == -(-limit // fl) * fl  # frames starting before the limit
    assert rec.summary().audio_s == pytest.approx(rec.processed_samples / SR)
    assert len(results) == 2  # file 1, and file 2 flushed at the limit
    assert results[1].utterance.end_sample == rec.processed_samples
    offline = Predictor(model).process_signal(x[: rec.processed_samples], segments=True)
    for a, b in zip(results, offline):
        _same(a, b)


def test_status_reports_stream_state(session, live_run):
    rec, _, _ = live_run
    st = rec.status()
    _, x, _ = session
    assert st.stream_s == pytest.approx(len(x) / SR)
    assert st.vad_state == "silence"  # the session ends with a gap
    assert st.level_dbfs == -100.0  # digital silence
    assert st.dropped_samples == 0 and st.input_overflows == 0 and st.dropped_short >= 0


def test_start_twice_is_refused_and_stop_before_start_is_harmless(session, model):
    path, _, _ = session
    rec = Recognizer(FileSource(path, speed=0), model)
    rec.stop()
    assert rec.done.is_set()
    rec2 = Recognizer(FileSource(path, speed=0), model)
    rec2.start()
    try:
        with pytest.raises(RuntimeError):
            rec2.start()
    finally:
        rec2.stop()


def test_source_error_mid_file_is_reported_and_pipeline_drains(session, model, monkeypatch):
    path, x, _ = session
    import ser_live.audio as audio_mod

    def broken(p, *, block_s, sample_rate_hz):
        yield x[: 5 * SR].astype(np.float32) / 32768.0
        raise AudioFileError(f"{p}: decoding failed (simulated)")

    monkeypatch.setattr(audio_mod, "iter_audio_blocks", broken)
    rec, results = run_recognizer(FileSource(path, speed=0), model)
    assert isinstance(rec.error, AudioFileError)
    assert len(results) >= 1  # the first file's utterance was still classified


# ---------------------------------------------------------------------------- offline
def test_predict_file_trims_like_training(ravdess_root, model):
    f = _need(ravdess_root / SESSION_FILES[0])
    y = load_audio(f)
    s, e = speech_span(y)
    assert Predictor(model).process_file(f) == model.predict_signal(y[s:e])


def test_predict_file_refuses_long_and_silent_files(tmp_path, model, ravdess_root):
    silent = write_wav(tmp_path / "silent.wav", np.zeros(2 * SR, np.int16))
    with pytest.raises(NoSpeechError, match="no speech detected"):
        Predictor(model).process_file(silent)
    y = load_audio(_need(ravdess_root / SESSION_FILES[0]))
    long = write_wav(tmp_path / "long.wav", np.concatenate([np.zeros(61 * SR, np.float32), y]))
    with pytest.raises(AudioFileError, match="--segments"):
        Predictor(model).process_file(long)


def test_segment_signal_and_offline_segments_agree(session, model):
    _, x, _ = session
    utts = segment_signal(x)
    res = Predictor(model).process_signal(x.astype(np.float32) / 32768.0, segments=True)  # float input: same cut
    assert [(u.start_sample, u.end_sample) for u in utts] == [
        (r.utterance.start_sample, r.utterance.end_sample) for r in res]


# ---------------------------------------------------------------------------- rolling estimate
LABELS = ["angry", "happy", "sad"]


def _probs(a: float, h: float, s: float) -> dict[str, float]:
    return {"angry": a, "happy": h, "sad": s}


def test_rolling_first_update_is_the_utterance_itself():
    r = RollingEstimate(LABELS, half_life_s=10)
    p = _probs(0.7, 0.2, 0.1)
    assert r.update(p, duration_s=2.0, end_s=3.0) == pytest.approx(p)
    assert r.estimate == pytest.approx(p)


def test_rolling_follows_the_documented_formula():
    r = RollingEstimate(LABELS, half_life_s=10)
    items = [(_probs(0.8, 0.1, 0.1), 2.0, 0.8, 5.0), (_probs(0.1, 0.6, 0.3), 3.0, 0.6, 15.0),
             (_probs(0.2, 0.2, 0.6), 1.0, 0.6, 25.0)]
    for p, d, c, e in items:
        est = r.update(p, duration_s=d, confidence=c, end_s=e)
    w = np.array([d * c * 0.5 ** ((25.0 - e) / 10) for _p, d, c, e in items])
    P = np.array([[p[k] for k in LABELS] for p, *_ in items])
    expected = w @ P / w.sum()
    assert [est[k] for k in LABELS] == pytest.approx(expected.tolist())
    assert sum(est.values()) == pytest.approx(1.0)


def test_rolling_resists_one_odd_utterance_and_follows_a_change_of_mood():
    r = RollingEstimate(LABELS, half_life_s=20)
    t = 0.0
    for _ in range(4):
        t += 3.0
        r.update(_probs(0.8, 0.1, 0.1), duration_s=2.5, end_s=t)
    t += 3.0
    est = r.update(_probs(0.1, 0.8, 0.1), duration_s=2.5, end_s=t)  # one odd utterance
    assert max(est, key=est.get) == "angry"
    n = 0
    while max(est, key=est.get) != "happy":
        t += 3.0
        n += 1
        est = r.update(_probs(0.1, 0.8, 0.1), duration_s=2.5, end_s=t)
        assert n <= 5, "a lasting change of mood must show within a few utterances"


def test_rolling_half_life_and_confidence_weighting():
    # Equal duration and confidence, one half-life apart: weights 1/2 and 1.
    r = RollingEstimate(LABELS, half_life_s=10)
    r.update(_probs(1.0, 0.0, 0.0), duration_s=1, confidence=1, end_s=0.0)
    est = r.update(_probs(0.0, 1.0, 0.0), duration_s=1, confidence=1, end_s=10.0)
    assert est["angry"] == pytest.approx(1 / 3) and est["happy"] == pytest.approx(2 / 3)
    # Infinite half-life: only duration x confidence matter.
    r = RollingEstimate(LABELS, half_life_s=math.inf)
    r.update(_probs(1.0, 0.0, 0.0), duration_s=3, confidence=1, end_s=0.0)
    est = r.update(_probs(0.0, 1.0, 0.0), duration_s=1, confidence=1, end_s=1000.0)
    assert est["angry"] == pytest.approx(0.75)
    # Old utterances are forgotten (bounded memory).
    r = RollingEstimate(LABELS, half_life_s=1)
    r.update(_probs(1.0, 0.0, 0.0), duration_s=1, end_s=0.0)
    est = r.update(_probs(0.0, 0.0, 1.0), duration_s=1, end_s=100.0)
    assert est["sad"] == pytest.approx(1.0) and len(r._items) == 1
    r.reset()
    assert r.estimate == {}


def test_rolling_accepts_results_and_rejects_bad_input():
    utt = Utterance(index=0, samples=np.zeros(SR, np.int16), start_sample=0, end_sample=SR,
                    last_voiced_sample=SR, sample_rate_hz=SR)
    res = Result(utterance=utt, prediction=Prediction("sad", 0.6, _probs(0.1, 0.3, 0.6)))
    r = RollingEstimate(LABELS)
    assert r.update(res) == pytest.approx(_probs(0.1, 0.3, 0.6))
    with pytest.raises(ValueError):
        r.update(_probs(0.1, 0.3, 0.6))  # bare probabilities need duration and end
    with pytest.raises(ValueError):
        r.update({"bored": 1.0}, duration_s=1, end_s=1)
    with pytest.raises(ValueError):
        RollingEstimate(LABELS, half_life_s=0)
    with pytest.raises(ValueError):
        RollingEstimate([])


def test_latency_stats():
    assert latency_stats([]) == {}
    s = latency_stats([float(v) for v in range(1, 101)])
    assert s == {"p50": pytest.approx(50.5), "p95": pytest.approx(95.05), "max": 100.0}


# ---------------------------------------------------------------------------- bounded queue
class _StalledModel:
    """The model, but every utterance's classification (``predict_features``, what the
    worker calls; not the recogniser's warm-up, ``predict_signal``) waits until ``release``
    is set."""

    def __init__(self, model: EmotionModel, release: threading.Event) -> None:
        self._model, self.release = model, release
        self.labels, self.name, self.extractor = model.labels, model.name, model.extractor
        self.new_session = model.new_session
        self.predict_signal = model.predict_signal

    def predict_features(self, x, *, session=None, route_db=None):
        assert self.release.wait(60), "never released"
        return self._model.predict_features(x, session=session, route_db=route_db)


def _release_and_drain(rec: Recognizer, release: threading.Event) -> list[Result]:
    """Let a stalled worker go on, take every result until the run ends, stop."""
    release.set()
    results = []
    try:
        while not rec.finished:
            if (r := rec.get_result(timeout_s=0.1)) is not None:
                results.append(r)
    finally:
        rec.stop()
    while (r := rec.get_result(timeout_s=0)) is not None:
        results.append(r)
    return results


def _wait_until(cond, timeout_s: float = 30.0) -> bool:
    ev = threading.Event()
    for _ in range(int(timeout_s / 0.01)):
        if cond():
            return True
        ev.wait(0.01)
    return cond()


def test_file_replay_waits_for_a_stalled_worker_and_loses_nothing(session, model):
    path, x, spans = session
    release = threading.Event()
    src = FileSource(path, speed=0)
    rec = Recognizer(src, _StalledModel(model, release), ring_capacity_s=2.0, max_queued_utterances=1)
    assert rec.queue_full == "wait"
    rec.start()
    try:
        # Worker holds utterance 0, the queue holds 1: the segmenter waits with utterance 2
        # (it has read up to that utterance's end and no further), the ring fills and the
        # replay waits for room.
        u2_end = segment_signal(x)[2].end_sample
        assert _wait_until(lambda: rec.processed_samples >= u2_end)
        threading.Event().wait(0.5)
        assert rec.processed_samples == u2_end < len(x) and not src.finished.is_set()
        assert rec.ring.available > rec.ring.capacity_samples - 2000  # the ring is full
        assert rec._utterances.qsize() == 1  # the bound holds
    finally:
        results = _release_and_drain(rec, release)
    assert len(results) == len(spans)
    st = rec.status()
    assert st.dropped_utterances == 0 and st.dropped_samples == 0 and rec.summary().dropped_utterances == 0
    for a, b in zip(results, Predictor(model).process_signal(x, segments=True)):  # as an unhurried run
        _same(a, b)


def test_live_source_drops_utterances_when_the_worker_falls_behind_and_counts_them(session, model):
    from ser_live.plaintext import format_summary

    _, x, spans = session
    release = threading.Event()
    src = ScriptedSource(x)  # not a file replay: the default is to drop, as for a microphone
    rec = Recognizer(src, _StalledModel(model, release), max_queued_utterances=1)
    assert rec.queue_full == "drop"
    rec.start()
    try:
        # One utterance in the worker, one queued, two dropped (which ones depends on when
        # the worker takes the first off the queue); the segmenter never waits.
        assert _wait_until(lambda: rec.dropped_utterances == 2 and src.finished.is_set())
        assert rec.status().dropped_utterances == 2
    finally:
        results = _release_and_drain(rec, release)
    idx = [r.utterance.index for r in results]
    assert len(idx) == 2 and idx[0] == 0 and idx == sorted(set(idx))
    summary = rec.summary()
    assert summary.dropped_utterances == 2 and summary.n_utterances == 2
    assert "utterances dropped   2" in format_summary(summary)
    assert rec.ring.overrun_samples == 0  # the audio itself was all read


def test_queue_options_are_checked(session, model):
    path, _, _ = session
    with pytest.raises(ValueError):
        Recognizer(FileSource(path), model, max_queued_utterances=0)
    with pytest.raises(ValueError):
        Recognizer(FileSource(path), model, queue_full="block")
    assert Recognizer(FileSource(path), model, queue_full="drop").queue_full == "drop"


def test_a_ctrl_c_inside_start_leaves_a_recognizer_that_stops_cleanly(session, model, tmp_path, monkeypatch):
    """Ctrl-C while start() starts its threads (the segmenter's start interrupted): stop()
    ends the run without "cannot join thread before it is started" (ser-live printed that
    traceback, exit 1, for a Ctrl-C at that moment). Real speech, a recordings folder."""
    path, _x, _spans = session
    real_start = threading.Thread.start

    def start(self):
        if self.name == "ser-live-segmenter":
            raise KeyboardInterrupt
        return real_start(self)

    rec = Recognizer(FileSource(path, speed=0), model, save_dir=tmp_path / "saved")
    monkeypatch.setattr(threading.Thread, "start", start)
    with pytest.raises(KeyboardInterrupt):
        rec.start()
    monkeypatch.setattr(threading.Thread, "start", real_start)
    rec.stop(timeout_s=5.0)  # raised RuntimeError
    rec.quit(timeout_s=1.0)
    assert rec.get_result(timeout_s=0) is None


@pytest.mark.parametrize("failure", [KeyboardInterrupt, DeviceError], ids=["ctrl-c", "device-error"])
def test_stop_after_a_source_that_failed_to_start_returns_at_once(session, model, monkeypatch, failure):
    """The source's start() fails (a Ctrl-C while the microphone opens, a device that will
    not open): start() stops the threads and re-raises, and a stop() after it (what the
    CLI's ``finally`` does) returns at once. It used to wait its whole timeout, 30 s, for a
    stop that never ran: ``python -m benchmarks.interrupts --microphone`` found ser-live
    hung 30 s after a Ctrl-C in 1 of 300 runs."""
    path, _x, _spans = session
    rec = Recognizer(FileSource(path, speed=0), model)

    def start(ring):
        raise failure("the device would not open") if failure is DeviceError else failure()

    monkeypatch.setattr(rec.source, "start", start)
    with pytest.raises(failure):
        rec.start()
    stopper = threading.Thread(target=rec.stop, kwargs={"timeout_s": 30.0}, daemon=True)
    stopper.start()
    stopper.join(5.0)
    assert not stopper.is_alive(), "stop() after a failed start waited for a stop that never ran"
    assert rec.get_result(timeout_s=0) is None
