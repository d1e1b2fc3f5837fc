"""The noise route reads its SNR over the stretch of speech an utterance ends (issue 20,
``ser_live.offline.SpeechStretch``): a piece of a sentence the segmenter split at a pause is
routed with the rest of its sentence. Real audio: EmoDB sentences at -30 dBFS over a white
-50 dBFS floor (20 dB SNR), the condition where live routed split pieces to the noise branch
and offline, scoring the whole sentence, did not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ser_live.audiofile import load_audio
from ser_live.model import EmotionModel
from ser_live.offline import JOIN_PAUSE_S, Predictor, SpeechStretch, classify_utterance
from ser_live.revision import SessionReviser
from ser_live.types import Result, Utterance

SR = 16000


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    m = EmotionModel.load()  # the shipped default: it has a noise route
    assert m.noise_route is not None
    return m


@pytest.fixture(scope="module")
def emodb_files(emodb_root: Path) -> list[Path]:
    files = sorted((emodb_root / "wav").glob("03a0*.flac"))[:6]
    assert len(files) == 6
    return files


def _over_floor(y: np.ndarray, *, level_dbfs: float = -30.0, floor_dbfs: float = -50.0, seed: int = 0) -> np.ndarray:
    """``y`` scaled to ``level_dbfs`` RMS over white noise at ``floor_dbfs`` RMS, int16."""
    y = y / np.sqrt(np.mean(y.astype(np.float64) ** 2)) * 10 ** (level_dbfs / 20)
    noise = np.random.default_rng(seed).standard_normal(len(y)) * 10 ** (floor_dbfs / 20)
    return np.clip(np.round((y + noise) * 32768), -32768, 32767).astype(np.int16)


def _utt(index: int, samples: np.ndarray, start: int) -> Utterance:
    return Utterance(index=index, samples=samples, start_sample=start, end_sample=start + len(samples),
                     last_voiced_sample=start + len(samples), sample_rate_hz=SR)


def test_level_spread_is_the_route_column_exactly(model, emodb_files, es_uem_root) -> None:
    fx = model.extractor
    col = model.noise_route.column
    files = [*emodb_files, *sorted(es_uem_root.rglob("*.ogg"))[:3]]
    for f in files:
        y = load_audio(str(f))
        for v in (y, _over_floor(y)):  # float and int16, clean and over a floor
            assert fx.level_spread_db(v) == float(fx.extract(v)[col]), f
    with pytest.raises(ValueError, match="shorter"):
        fx.level_spread_db(np.zeros(100, np.float32))


def test_a_stretch_joins_utterances_after_short_pauses_only(model, emodb_files) -> None:
    y = _over_floor(load_audio(str(emodb_files[0])))
    half = len(y) // 2
    a, b = y[:half], y[half:]
    gap = int(0.3 * SR)
    st = SpeechStretch(model)
    assert st.route_db(_utt(0, a, 0)) is None  # the first utterance is read alone
    joined = st.route_db(_utt(1, b, half + gap))
    assert joined == model.extractor.level_spread_db(np.concatenate([a, b]))
    # a pause just under JOIN_PAUSE_S still joins; one just over starts the stretch again
    end = half + gap + len(b)
    near = end + int((JOIN_PAUSE_S - 0.05) * SR)
    assert st.route_db(_utt(2, a, near)) == model.extractor.level_spread_db(np.concatenate([a, b, a]))
    later = near + len(a) + int((JOIN_PAUSE_S + 0.05) * SR)
    assert st.route_db(_utt(3, b, later)) is None
    # the stretch keeps at most max_s of audio: the oldest pieces drop out first
    short = SpeechStretch(model, max_s=(len(b) + 10) / SR)
    short.route_db(_utt(0, a, 0))
    assert short.route_db(_utt(1, b, half + gap)) is None  # a alone would exceed it: b is read alone
    # a model without a noise route has nothing to read
    ref = EmotionModel.load(arrays=False)
    plain = EmotionModel(ref.noise_route.estimator, ref.labels, ref.feature_config, normalizer=ref.normalizer)
    assert SpeechStretch(plain).route_db(_utt(0, a, 0)) is None


def test_route_db_decides_the_branch_the_same_in_every_scorer(model, emodb_files) -> None:
    X = np.stack([model.extractor.extract(load_audio(str(f))) for f in emodb_files])
    cut = model.noise_route.threshold_db_
    assert not model.noise_branch_rows(X).any()  # clean studio speech: the main classifier
    r = np.array([cut - 3.0, np.nan, cut + 3.0, cut - 0.5, np.nan, np.nan])
    assert model.noise_branch_rows(X, r).tolist() == [True, False, False, True, False, False]
    P = model.predict_proba(X, route_db=r)
    own = model.predict_proba(X)
    assert np.array_equal(P[[1, 2, 4, 5]], own[[1, 2, 4, 5]])
    assert not np.allclose(P[[0, 3]], own[[0, 3]])  # the branch's probabilities, not the main's
    # the compiled arrays and the scikit-learn objects agree on the routed rows too
    ref = EmotionModel.load(arrays=False)
    assert np.allclose(ref.estimator.reference_proba(X, route_db=r), P, atol=1e-9)
    pred = model.predict_features(X[0], route_db=float(cut - 3.0))
    assert pred.noise_branch is True and pred.probabilities[pred.label] == pytest.approx(P[0].max())
    with pytest.raises(ValueError, match="route_db has 2 values for 6 rows"):
        model.predict_proba(X, route_db=r[:2])


def test_a_revision_routes_each_utterance_as_it_was_routed(model, emodb_files) -> None:
    """The session revision re-scores earlier utterances with the route value they had."""
    cut = model.noise_route.threshold_db_
    session, reviser = model.new_session(), SessionReviser(model, until=10)
    revs = []
    for i, f in enumerate(emodb_files[:3]):
        y = load_audio(str(f))
        route_db = cut - 3.0 if i == 0 else None
        pred, n, x = classify_utterance(model, y, session, route_db=route_db)
        res = Result(utterance=_utt(i, np.zeros(0, np.int16), 3 * SR * i), prediction=pred,
                     session_utterances=n, features=x, route_db=route_db)
        assert pred.noise_branch is (i == 0)
        revs.append(reviser.add(res, session))
    assert revs[0] is None
    assert revs[2].predictions[0].noise_branch is True and revs[2].predictions[1].noise_branch is False


def test_split_sentences_over_a_floor_are_routed_with_their_sentence(model, emodb_files) -> None:
    """Segments of a session about 20 dB over a white floor, each sentence cut in two at a
    pause: the second pieces are routed by the stretch, and so disagree with the route of
    their whole sentence (as offline reads it) less often than their own columns do."""
    pause = np.zeros(int(0.6 * SR), np.float32)  # longer than the 0.4 s hangover: a cut
    sentences = []
    for f in sorted(emodb_files[0].parent.glob("03*.flac"))[:16]:
        y = load_audio(str(f))
        h = len(y) // 2
        sentences += [y[:h], pause, y[h:], np.zeros(SR, np.float32)]  # a sentence with a pause inside
    level = -37.0  # RMS over the whole session, pauses included: speech about 20 dB over the floor
    session = _over_floor(np.concatenate([np.zeros(SR, np.float32), *sentences]), level_dbfs=level, seed=3)
    res = Predictor(model).process_signal(session, segments=True)
    cut = model.noise_route.threshold_db_
    col = model.noise_route.column
    joined = [r for r in res if r.route_db is not None]
    assert len(joined) >= 4, [round(r.utterance.start_s, 2) for r in res]
    for r in res:  # each routed by the value it was given, its own column where none
        value = r.features[col] if r.route_db is None else r.route_db
        assert r.prediction.noise_branch is bool(value < cut)
    # each sentence as offline hears it: its span of the session, both pieces and the pause
    fx, disagree_own, disagree_live = model.extractor, 0, 0
    for first, cont in zip(res, res[1:]):
        if cont.route_db is None:
            continue
        whole_noisy = fx.level_spread_db(session[first.utterance.start_sample:cont.utterance.end_sample]) < cut
        disagree_own += bool(cont.features[col] < cut) != whole_noisy
        disagree_live += cont.prediction.noise_branch != whole_noisy
    assert disagree_own >= 3 and disagree_live <= 1, (disagree_live, disagree_own)
