"""Session revision (ser_live/revision.py): a live session's first utterances re-scored as its
statistics settle, on a small synthetic model with a session normaliser (no audio)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ser_live.features import FeatureConfig, FeatureExtractor
from ser_live.model import EmotionModel
from ser_live.normalize import SessionNormalizer
from ser_live.revision import Revision, SessionReviser
from ser_live.rolling import RollingEstimate
from ser_live.types import Result, Utterance

LABELS = ["neutral", "happy", "sad"]


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    d = FeatureExtractor().n_features
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, d)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    X[y == 1, :10] += 2
    X[y == 2, :10] -= 2
    g = np.tile(np.repeat(["a", "b", "c", "d"], 5), 3)
    norm = SessionNormalizer(prior_weight=3.0).fit(X, groups=g)
    est = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(norm.transform(X, groups=g), y)
    return EmotionModel(est, LABELS, FeatureConfig(), name="t", normalizer=norm)


def _rows(n: int, d: int, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 3.0  # a speaker far from the training prior
    X[::3, :10] += 2
    return X


def _live(model: EmotionModel, X: np.ndarray, reviser: SessionReviser) -> list[Result]:
    """Classify rows as the live worker does (update, predict, rolling, revise)."""
    session = model.new_session()
    rolling = RollingEstimate(model.labels)
    out = []
    for i, x in enumerate(X):
        session.update(x)
        pred = model.predict_features(x, session=session)
        utt = Utterance(index=i, samples=np.zeros(0, dtype=np.int16), start_sample=16000 * 2 * i,
                        end_sample=16000 * (2 * i + 1), last_voiced_sample=16000 * (2 * i + 1), sample_rate_hz=16000)
        res = Result(utterance=utt, prediction=pred, session_utterances=session.n_utterances, features=x)
        res.rolling = rolling.update(res)
        res.revision = reviser.add(res, session)
        out.append(res)
    return out


def test_revision_rescores_earlier_utterances_with_the_statistics_so_far(model: EmotionModel) -> None:
    X = _rows(8, model.extractor.n_features)
    results = _live(model, X, SessionReviser(model, until=5))
    assert results[0].revision is None
    for n, res in enumerate(results[:5], start=1):
        if n == 1:
            continue
        rev = res.revision
        assert isinstance(rev, Revision) and rev.index == n - 1 and rev.session_utterances == n
        assert list(rev.predictions) == list(range(n - 1))  # every earlier utterance, in order
        # exactly what the statistics of the first n utterances give those rows
        st = model.new_session()
        for x in X[:n]:
            st.update(x)
        P = model.predict_proba(X[: n - 1], session=st)
        for i, p in rev.predictions.items():
            assert [p.probabilities[k] for k in LABELS] == pytest.approx(P[i])
        # the rolling estimate of the revised predictions and this utterance's own
        r = RollingEstimate(model.labels)
        for i in range(n - 1):
            r.update(rev.predictions[i].probabilities, duration_s=1.0, end_s=2.0 * i + 1)
        r.update(res.prediction.probabilities, duration_s=1.0, end_s=2.0 * (n - 1) + 1)
        assert rev.rolling == pytest.approx(r.estimate)
    assert all(res.revision is None for res in results[5:])  # past the window: nothing revised


def test_revision_never_changes_what_was_shown(model: EmotionModel) -> None:
    X = _rows(6, model.extractor.n_features)
    with_rev = _live(model, X, SessionReviser(model, until=6))
    without = _live(model, X, SessionReviser(model, until=0))
    assert all(r.revision is None for r in without)
    for a, b in zip(with_rev, without):
        assert a.prediction == b.prediction and a.rolling == b.rolling
        assert set(a.to_json()) == set(b.to_json())  # the utterance's record has no revision keys


def test_revision_json_line(model: EmotionModel) -> None:
    X = _rows(3, model.extractor.n_features)
    rev = _live(model, X, SessionReviser(model))[2].revision
    rec = rev.to_json()
    assert rec["kind"] == "revision" and rec["index"] == 2 and rec["session_utterances"] == 3
    assert [r["index"] for r in rec["results"]] == [0, 1]
    for r in rec["results"]:
        assert set(r) == {"index", "label", "confidence", "probabilities", "arousal", "valence"}  # no noise branch
        assert r["label"] == max(r["probabilities"], key=r["probabilities"].get)
        # arousal = P(happy) - P(neutral) - P(sad), valence = P(happy) - P(sad) of the REVISED prediction
        p = rev.predictions[r["index"]].probabilities
        assert r["arousal"] == pytest.approx(p["happy"] - p["neutral"] - p["sad"], abs=5.1e-5)  # rounded to 4
        assert r["valence"] == pytest.approx(p["happy"] - p["sad"], abs=5.1e-5)
    assert sum(rec["rolling"].values()) == pytest.approx(1.0, abs=1e-3)
    ro = rev.rolling
    assert rec["rolling_arousal"] == pytest.approx(ro["happy"] - ro["neutral"] - ro["sad"], abs=5.1e-5)
    assert rec["rolling_valence"] == pytest.approx(ro["happy"] - ro["sad"], abs=5.1e-5)


def test_revision_stops_when_an_utterance_was_missed(model: EmotionModel) -> None:
    X = _rows(4, model.extractor.n_features)
    session = model.new_session()
    reviser = SessionReviser(model)
    session.update(X[0])
    session.update(X[1])  # an utterance the reviser never saw
    utt = Utterance(index=1, samples=np.zeros(0, dtype=np.int16), start_sample=0, end_sample=16000,
                    last_voiced_sample=16000, sample_rate_hz=16000)
    res = Result(utterance=utt, prediction=model.predict_features(X[1], session=session), features=X[1])
    assert reviser.add(res, session) is None and reviser.closed
    with pytest.raises(ValueError):
        SessionReviser(model, until=-1)


def test_jsonl_gets_revision_lines_only_with_revisions(model: EmotionModel, tmp_path) -> None:
    import argparse
    import json

    from ser_live.cli.outputs import _Outputs

    results = _live(model, _rows(4, model.extractor.n_features), SessionReviser(model))
    for flag in (False, True):
        path = tmp_path / f"r{flag}.jsonl"
        args = argparse.Namespace(jsonl=str(path), plain=False, partial=False, revisions=flag)
        out = _Outputs(args, labels=LABELS, model_name="t", source_name="s")
        out.plain_stream = None
        for r in results:
            out.emit(r)
        out.close()
        lines = [json.loads(x) for x in path.read_text().splitlines()]
        utt = [x for x in lines if x["kind"] == "utterance"]
        assert [x["index"] for x in utt] == [0, 1, 2, 3]
        assert utt == [{"kind": "utterance"} | r.to_json() | {"uncertain": x["uncertain"], "wall_time": x["wall_time"]}
                       for r, x in zip(results, utt)]
        revs = [x for x in lines if x.get("kind") == "revision"]
        assert revs == ([r.revision.to_json() for r in results[1:]] if flag else [])
        if flag:  # each revision line follows its utterance's line
            assert [lines.index(x) for x in revs] == [lines.index(u) + 1 for u in utt[1:]]


def test_dashboard_shows_the_revised_timeline_and_rolling(model: EmotionModel) -> None:
    from ser_live.dashboard import DashboardState

    results = _live(model, _rows(4, model.extractor.n_features), SessionReviser(model))
    state = DashboardState(labels=LABELS, model_name="t", source_name="s", session_norm=True)
    for r in results:
        state.add_result(r)
    last = results[-1].revision
    assert [r.prediction for r in state.results] == [last.predictions[0], last.predictions[1], last.predictions[2],
                                                     results[-1].prediction]
    assert state.rolling == last.rolling


def test_recognizer_revises_a_replayed_session(model: EmotionModel, ravdess_root, corpus_session, tmp_path) -> None:
    """End to end on real audio: the live worker's revisions are the earlier utterances
    re-scored with the session's statistics as they stand, and nothing shown changes."""
    from ser_live.audio import FileSource
    from ser_live.audiofile import write_wav
    from ser_live.pipeline import Recognizer

    files = ["Actor_05/03-01-05-02-01-01-05.flac", "Actor_06/03-01-04-02-02-01-06.flac",
             "Actor_09/03-01-03-02-01-02-09.flac", "Actor_10/03-01-02-01-02-01-10.flac"]
    wav = write_wav(tmp_path / "s.wav", corpus_session(ravdess_root, files, tail_s=1.0).samples)

    def run(**kw) -> list[Result]:
        rec = Recognizer(FileSource(wav, speed=0), model, **kw).start()
        out = []
        while not rec.finished:
            r = rec.get_result(timeout_s=0.1)
            if r is not None:
                out.append(r)
        rec.stop()
        return out

    results, plain = run(), run(revise_until=0)
    assert len(results) == len(files) and all(r.revision is None for r in plain)
    assert results[0].revision is None
    X = np.stack([r.features for r in results])
    for n, r in enumerate(results[1:], start=2):
        st = model.new_session()
        for x in X[:n]:
            st.update(x)
        P = model.predict_proba(X[: n - 1], session=st)
        assert r.revision.session_utterances == n
        for i, p in r.revision.predictions.items():
            assert [p.probabilities[k] for k in LABELS] == pytest.approx(P[i], abs=1e-9)
    for a, b in zip(results, plain):
        assert a.prediction == b.prediction and a.rolling == b.rolling
