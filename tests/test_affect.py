"""Arousal and valence (ser_live/affect.py, issue 25 item 2): the one mapping, and the values
in every output on real audio through the shipped models.

The mapping is checked against the circumplex sums written out by hand here (Russell 1980, as
the module states them), never against a second call of the module. The real-audio checks use
the shipped models on EmoDB; those models were trained on all of EmoDB (ser-default and
ser-7class both train on it), so the files are training data, not held-out speakers: the
checks are of the sign of the mapping through the real path (angry is high arousal, sad low),
not a score (the scores are the README's ``loco`` table).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from ser_live.affect import (
    AROUSAL,
    VALENCE,
    UnmappedLabelError,
    affect_of,
    affect_record,
    affect_scores,
    affect_weights,
    has_affect,
)
from ser_live.labels import CANONICAL_LABELS
from ser_live.types import Prediction, Result, Utterance


def _by_hand(p: dict[str, float]) -> tuple[float, float]:
    """Arousal and valence of any subset of the canonical labels, written out by hand:
    high arousal angry, happy, fearful, surprised; low neutral, sad, calm, boredom; positive
    happy, calm; negative angry, sad, fearful, disgust, boredom."""
    g = lambda lab: p.get(lab, 0.0)  # noqa: E731
    arousal = g("angry") + g("happy") + g("fearful") + g("surprised") - g("neutral") - g("sad") - g("calm") - g("boredom")
    valence = g("happy") + g("calm") - g("angry") - g("sad") - g("fearful") - g("disgust") - g("boredom")
    return arousal, valence


# ---------------------------------------------------------------------------- the mapping
def test_every_canonical_label_has_a_position_on_both_axes():
    assert set(AROUSAL) == set(VALENCE) == set(CANONICAL_LABELS)
    assert set(AROUSAL.values()) <= {-1, 0, 1} and set(VALENCE.values()) <= {-1, 0, 1}
    # the places the circumplex gives none are 0, and stated so
    assert AROUSAL["disgust"] == 0 and VALENCE["neutral"] == 0 and VALENCE["surprised"] == 0
    w = affect_weights(["neutral", "happy", "sad", "angry"])
    assert w.dtype == np.float64 and w.shape == (2, 4) and not w.flags.writeable


@pytest.mark.parametrize("labels", [
    ["neutral", "happy", "sad", "angry"],  # ser-default, ser-noisy
    ["neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"],  # ser-7class
    list(CANONICAL_LABELS),
])
def test_scores_are_the_circumplex_sums_of_the_probabilities(labels):
    rng = np.random.default_rng(0)
    P = rng.dirichlet(np.ones(len(labels)), size=50)
    s = affect_scores(labels, P)
    assert set(s) == {"arousal", "valence"}
    for axis in s.values():
        assert axis.dtype == np.float64 and axis.shape == (50,) and (np.abs(axis) <= 1).all()
    expected = np.array([_by_hand(dict(zip(labels, row))) for row in P])
    np.testing.assert_allclose(s["arousal"], expected[:, 0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(s["valence"], expected[:, 1], rtol=0, atol=1e-12)
    # one-hot rows give the positions themselves: the ends of the scale are reached
    eye = affect_scores(labels, np.eye(len(labels)))
    assert eye["arousal"].tolist() == [AROUSAL[lab] for lab in labels]
    assert eye["valence"].tolist() == [VALENCE[lab] for lab in labels]


def test_labels_off_the_circumplex_and_bad_probabilities_raise():
    with pytest.raises(UnmappedLabelError, match="contempt"):
        affect_scores(["angry", "contempt"], np.array([[0.5, 0.5]]))
    assert issubclass(UnmappedLabelError, ValueError) and not has_affect(["angry", "contempt"])
    assert has_affect(["angry", "sad"])
    with pytest.raises(ValueError, match="shape"):
        affect_scores(["angry", "sad"], np.array([0.5, 0.5]))
    with pytest.raises(ValueError, match="sum to 1"):
        affect_scores(["angry", "sad"], np.array([[0.5, 0.6]]))
    with pytest.raises(ValueError, match="finite"):
        affect_scores(["angry", "sad"], np.array([[np.nan, 1.0]]))
    assert affect_scores(["angry", "sad"], np.zeros((0, 2)))["arousal"].shape == (0,)


def test_record_helpers_give_null_where_there_is_no_value(caplog):
    assert affect_of({}) is None and affect_record(None) == {"arousal": None, "valence": None}
    assert affect_record({}, prefix="rolling_") == {"rolling_arousal": None, "rolling_valence": None}
    with caplog.at_level("WARNING", logger="ser_live.affect"):
        assert affect_of({"contempt": 0.7, "angry": 0.3}) is None
        assert affect_of({"contempt": 0.7, "angry": 0.3}) is None
    assert sum("contempt" in r.getMessage() for r in caplog.records) == 1  # logged once per label set
    probs = {"neutral": 0.1, "happy": 0.2, "sad": 0.3, "angry": 0.4}
    assert affect_record(probs) == {"arousal": round(0.2 + 0.4 - 0.1 - 0.3, 4), "valence": round(0.2 - 0.4 - 0.3, 4)}


def test_result_record_keys_and_values():
    utt = Utterance(index=0, samples=np.zeros(0, dtype=np.int16), start_sample=0, end_sample=16000,
                    last_voiced_sample=16000, sample_rate_hz=16000)
    probs = {"neutral": 0.05, "happy": 0.15, "sad": 0.1, "angry": 0.7}
    rolling = {"neutral": 0.4, "happy": 0.1, "sad": 0.3, "angry": 0.2}
    res = Result(utt, Prediction("angry", 0.7, probs), rolling=rolling, speaker="A", speaker_rolling=probs)
    rec = res.to_json()
    assert list(rec)[:7] == ["index", "start_s", "end_s", "duration_s", "label", "confidence", "probabilities"]
    assert list(rec)[7:12] == ["arousal", "valence", "rolling", "rolling_arousal", "rolling_valence"]
    assert (rec["arousal"], rec["valence"]) == pytest.approx(_by_hand(probs), abs=5.1e-5)
    assert (rec["rolling_arousal"], rec["rolling_valence"]) == pytest.approx(_by_hand(rolling), abs=5.1e-5)
    assert (rec["speaker_rolling_arousal"], rec["speaker_rolling_valence"]) == pytest.approx(_by_hand(probs), abs=5.1e-5)
    assert (res.arousal, res.valence) == pytest.approx(_by_hand(probs), abs=1e-12)
    assert res.rolling_affect == pytest.approx(_by_hand(rolling), abs=1e-12)
    # a model with a label off the circumplex: the keys stay, their values are null
    odd = Result(utt, Prediction("contempt", 0.6, {"contempt": 0.6, "angry": 0.4}))
    rec = odd.to_json()
    assert rec["arousal"] is None and rec["valence"] is None and rec["rolling_arousal"] is None
    assert odd.arousal is None and odd.rolling_affect is None


def test_model_cards_state_the_mapping_of_their_labels():
    from ser_live.affect import affect_formula

    assert affect_formula(["neutral", "happy", "sad", "angry"]) == (
        "arousal = P(happy) + P(angry) - P(neutral) - P(sad); valence = P(happy) - P(sad) - P(angry)")
    assert affect_formula(["neutral", "sad"]) == "arousal = -P(neutral) - P(sad); valence = -P(sad)"
    assert "contempt" in affect_formula(["contempt", "angry"]) and "null" in affect_formula(["contempt", "angry"])
    for card in ("ser-default", "ser-7class", "ser-noisy"):  # `python -m train card` wrote them
        text = (Path(__file__).resolve().parents[1] / "models" / f"{card}.md").read_text(encoding="utf-8")
        assert "Russell's circumplex" in text and "arousal = P(happy) + P(angry)" in text, card


def test_predict_records_and_columns():
    from ser_live.records import RecordWriter, error_record, prediction_record, record_columns

    labels = ["neutral", "happy", "sad", "angry"]
    assert record_columns(labels)[-4:] == ["arousal", "valence", "uncertain", "error"]
    probs = {"neutral": 0.25, "happy": 0.05, "sad": 0.6, "angry": 0.1}
    rec = prediction_record("a.wav", Prediction("sad", 0.6, probs))
    assert (rec["arousal"], rec["valence"]) == pytest.approx(_by_hand(probs), abs=5.1e-5)
    bad = error_record("b.wav", "unreadable", segments=True)
    assert bad["arousal"] is None and bad["valence"] is None and list(bad)[-1] == "error"
    out = io.StringIO()
    RecordWriter(None, labels=labels, stream=out, fmt="csv").write([rec, bad])
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert float(rows[0]["arousal"]) == rec["arousal"] and float(rows[0]["valence"]) == rec["valence"]
    assert rows[1]["arousal"] == "" and rows[1]["error"] == "unreadable"


# ---------------------------------------------------------------------------- real audio
def _shipped(name: str):
    from ser_live.model import MODELS_DIR, EmotionModel

    path = MODELS_DIR / f"{name}.skops"
    if not path.exists():
        pytest.skip(f"shipped model {path} not found")
    return EmotionModel.load(path)


@pytest.fixture(scope="module")
def emodb_angry_sad(emodb_root: Path) -> dict[str, list[Path]]:
    """Every EmoDB anger (W) and sadness (T) file: 127 and 62, all ten speakers."""
    files = sorted((emodb_root / "wav").glob("*.flac"))
    out = {"angry": [f for f in files if f.name[5] == "W"], "sad": [f for f in files if f.name[5] == "T"]}
    assert len(out["angry"]) > 100 and len(out["sad"]) > 50
    return out


@pytest.mark.parametrize("name", ["ser-default", "ser-7class"])
def test_shipped_models_put_angry_above_sad_on_arousal(emodb_angry_sad, name):
    """Each EmoDB file classified whole (``ser-live predict FILE``'s path): arousal and valence
    are the circumplex sums of the output probabilities to 1e-12, and angry sits far above sad
    on arousal (training data for both models: a check of the sign, not a score)."""
    from ser_live.offline import Predictor

    model = _shipped(name)
    assert has_affect(model.labels)
    predictor = Predictor(model)
    arousal: dict[str, list[float]] = {}
    for emotion, files in emodb_angry_sad.items():
        for f in files:
            pred = predictor.process_file(f)
            a, v = _by_hand(pred.probabilities)
            assert abs(pred.arousal - a) <= 1e-12 and abs(pred.valence - v) <= 1e-12
            assert -1.0 <= pred.arousal <= 1.0 and -1.0 <= pred.valence <= 1.0
            arousal.setdefault(emotion, []).append(pred.arousal)
    angry, sad = np.array(arousal["angry"]), np.array(arousal["sad"])
    # measured: ser-default 0.96 vs -0.90, ser-7class 0.92 vs -0.64 (all of EmoDB's anger and sadness)
    assert angry.mean() - sad.mean() >= 1.0, (angry.mean(), sad.mean())
    assert (angry > 0).mean() >= 0.9 and (sad < 0).mean() >= 0.9


def test_replayed_wav_jsonl_revisions_and_predict_segments_carry_arousal(emodb_root, corpus_session, tmp_path, capsys):
    """``ser-live --input S.wav --speed 0 --jsonl --revisions`` on EmoDB angry and sad files
    joined by pauses, with the shipped default model: every utterance line has the keys, its
    values are the circumplex sums of the line's own (rounded) probabilities and rolling
    estimate, revision lines carry them too, ``predict --segments`` gives the same values in
    its CSV columns, and the angry utterances are above the sad ones."""
    from ser_live.audiofile import write_wav
    from ser_live.cli import main
    from ser_live.model import MODELS_DIR

    model = str(MODELS_DIR / "ser-default.skops")
    rels = ["wav/03a01Wa.flac", "wav/08a01Wa.flac", "wav/03a02Ta.flac", "wav/08a02Tb.flac", "wav/03a04Wc.flac",
            "wav/08a04Tb.flac"]
    emotions = ["angry", "angry", "sad", "sad", "angry", "sad"]
    sess = corpus_session(emodb_root, rels, gap_s=1.0)
    wav = write_wav(tmp_path / "s.wav", sess.samples)
    jl = tmp_path / "live.jsonl"
    assert main(["--input", str(wav), "--speed", "0", "--jsonl", str(jl), "--revisions", "--model", model]) == 0
    lines = [json.loads(x) for x in jl.read_text().splitlines()]
    utts = [x for x in lines if x["kind"] == "utterance"]
    revs = [x for x in lines if x.get("kind") == "revision"]
    assert len(utts) == len(rels) and revs
    tol = 5.1e-5 * 5  # four probabilities and the value itself, each rounded to 4 decimals
    for x in utts:
        assert {"arousal", "valence", "rolling_arousal", "rolling_valence"} <= set(x)
        assert (x["arousal"], x["valence"]) == pytest.approx(_by_hand(x["probabilities"]), abs=tol)
        assert (x["rolling_arousal"], x["rolling_valence"]) == pytest.approx(_by_hand(x["rolling"]), abs=tol)
    for rev in revs:
        assert (rev["rolling_arousal"], rev["rolling_valence"]) == pytest.approx(_by_hand(rev["rolling"]), abs=tol)
        for r in rev["results"]:
            assert (r["arousal"], r["valence"]) == pytest.approx(_by_hand(r["probabilities"]), abs=tol)
    which = [next(e for (a, b), e in zip(sess.spans, emotions) if a - 8000 <= (x["start_s"] + x["end_s"]) * 8000 < b + 8000)
             for x in utts]
    mean = {e: np.mean([x["arousal"] for x, w in zip(utts, which) if w == e]) for e in ("angry", "sad")}
    assert mean["angry"] - mean["sad"] >= 1.0, mean
    capsys.readouterr()

    assert main(["predict", str(wav), "--segments", "--format", "csv", "--model", model]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[-4:] == ["arousal", "valence", "uncertain", "error"] and len(rows) == len(utts)
    for row, x in zip(rows, utts):  # the live records and predict --segments: the same values
        assert float(row["arousal"]) == pytest.approx(x["arousal"], abs=1e-4)
        assert float(row["valence"]) == pytest.approx(x["valence"], abs=1e-4)
        assert row["uncertain"] == str(x["uncertain"])  # the CSV column says what the live line said
