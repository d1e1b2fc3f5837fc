"""ROC curves, AUC per class and the derived arousal / valence in the evaluation reports
(issue 25, item 3): train/roc.py through the engine's fold loop and train/reports.py."""

from __future__ import annotations

import json

import numpy as np
import pytest


def test_arousal_and_valence_are_the_circumplex_sums_of_the_probabilities():
    from train.roc import affect_scores, affect_summary

    labels = ["neutral", "happy", "sad", "angry"]
    P = np.array([[0.1, 0.6, 0.1, 0.2], [0.7, 0.1, 0.2, 0.0]])
    s = affect_scores(labels, P)
    # arousal = P(angry) + P(happy) - P(neutral) - P(sad); valence = P(happy) - P(angry) - P(sad)
    assert np.allclose(s["arousal"], [0.6, -0.8]) and np.allclose(s["valence"], [0.3, -0.1])
    # a fold where every utterance is on the right side of both axes
    true = [np.array([1, 3, 0, 2])]
    proba = [np.array([[0, 0.9, 0, 0.1], [0, 0.2, 0.1, 0.7], [0.8, 0, 0.2, 0], [0.1, 0, 0.9, 0]])]
    aff = affect_summary(labels, fold_names=["f"], true=true, proba=proba)
    assert aff["arousal"]["ua_pct_mean"] == 100.0 and aff["arousal"]["auc_pooled"] == 1.0
    assert aff["arousal"]["high"] == ["happy", "angry"] and aff["arousal"]["low"] == ["neutral", "sad"]
    # valence leaves neutral out: happy (+) against angry and sad (-)
    assert aff["valence"]["folds"]["f"]["n"] == 3 and aff["valence"]["ua_pct_mean"] == 100.0
    # without both sides of an axis there is nothing to score
    # happy and angry are both high arousal: only valence (happy + against angry -) is scored
    two = affect_summary(["happy", "angry"], fold_names=["f"], true=[np.array([0, 1])], proba=[np.eye(2)])
    assert "arousal" not in two and two["valence"]["ua_pct_mean"] == 100.0
    assert affect_summary(["happy"], fold_names=["f"], true=[np.array([0])], proba=[np.ones((1, 1))]) is None


def test_calibration_summary_by_hand():
    """ECE, Brier score, reliability bins and thresholds of a small case worked out by hand."""
    from train.roc import calibration_summary

    labels = ["neutral", "happy", "sad", "angry"]
    # fold a: confidences 0.95 (right), 0.95 (wrong), 0.55 (right); fold b: 0.55 (wrong)
    Pa = np.array([[0.95, 0.05, 0, 0], [0.95, 0.05, 0, 0], [0.15, 0.55, 0.3, 0]])
    Pb = np.array([[0.0, 0.0, 0.45, 0.55]])
    cal = calibration_summary(labels, fold_names=["a", "b"], true=[np.array([0, 1, 1]), np.array([2])], proba=[Pa, Pb])
    assert cal["accuracy_pct"] == pytest.approx(50.0) and cal["mean_confidence_pct"] == pytest.approx(75.0)
    assert cal["overconfidence_pct"] == pytest.approx(25.0)
    # bin 0.9-1.0: accuracy 0.5, confidence 0.95; bin 0.5-0.6: accuracy 0.5, confidence 0.55;
    # each holds half the utterances: ECE = 0.5 * 0.45 + 0.5 * 0.05 = 0.25
    assert cal["ece_pct"] == pytest.approx(25.0)
    # fold a: (2 * |0.5 - 0.95| + |1 - 0.55|) / 3 = 0.45; fold b: |0 - 0.55| = 0.55
    assert cal["ece_pct_folds"] == pytest.approx({"a": 45.0, "b": 55.0}) and cal["ece_pct_fold_mean"] == pytest.approx(50.0)
    # Brier: (0.05^2 + 0.05^2), (0.95^2 + 0.95^2), (0.15^2 + 0.45^2 + 0.3^2), (0.55^2 + 0.45^2 + 0.55^2 + 0 ... )
    by_row = [0.0025 + 0.0025, 0.9025 + 0.9025, 0.0225 + 0.2025 + 0.09, 0.55**2 + 0.3025 + 0.0]
    assert cal["brier"] == pytest.approx(np.mean(by_row))
    assert [(b["lo"], b["n"], b["accuracy_pct"]) for b in cal["bins"]] == [(0.5, 2, 50.0), (0.9, 2, 50.0)]
    assert [(t["at_least"], t["share_pct"], t["accuracy_pct"]) for t in cal["thresholds"]] == [
        (0.5, 100.0, 50.0), (0.7, 50.0, 50.0), (0.9, 50.0, 50.0)]
    assert cal["uncertain"] == {"below": 0.375, "margin": 0.05, "share_pct": 0.0, "shown_accuracy_pct": 50.0}
    # the runtime's rule: below 0.375 (row 1), top - second <= 0.05 (row 2) flagged; row 0 shown and wrong
    Pu = np.array([[0.6, 0.3, 0.1, 0.0], [0.36, 0.34, 0.2, 0.1], [0.5, 0.47, 0.03, 0.0]])
    unc = calibration_summary(labels, fold_names=["f"], true=[np.array([1, 0, 0])], proba=[Pu])["uncertain"]
    assert unc["share_pct"] == pytest.approx(200 / 3) and unc["shown_accuracy_pct"] == 0.0
    from ser_live.types import Prediction, UncertaintyRule

    rule = UncertaintyRule.for_labels(4)
    one_by_one = [rule.applies(Prediction(labels[int(p.argmax())], float(p.max()), dict(zip(labels, p.tolist()))))
                  for p in Pu]
    assert rule.applies_to_rows(Pu).tolist() == one_by_one == [False, True, True]
    # a confidence of exactly 1 falls in the top bin; a perfectly calibrated certain model has ECE 0
    sure = calibration_summary(labels, fold_names=["f"], true=[np.array([0, 3])], proba=[np.eye(4)[[0, 3]]])
    assert sure["ece_pct"] == 0.0 and sure["brier"] == 0.0 and sure["bins"][-1]["hi"] == 1.0
    with pytest.raises(ValueError):
        calibration_summary(labels, fold_names=["f"], true=[np.array([0])], proba=[Pa[:1]], n_bins=0)


@pytest.fixture(scope="module")
def emodb_four(emodb_root):
    """Four EmoDB speakers (two female, two male), the four core emotions: about 80 real
    utterances, leave one speaker out."""
    from train.corpora import read_corpus

    keep = {"emodb-03", "emodb-08", "emodb-09", "emodb-10"}
    return [r for r in read_corpus("emodb", emodb_root).records
            if r.speaker in keep and r.label in ("angry", "sad", "neutral", "happy")]


@pytest.fixture(scope="module")
def small(emodb_four):
    """A session-normalised linear-SVM recipe and its features of ``emodb_four`` (cached)."""
    from train.evaluate import load_protocol_features
    from train.recipe import NormalizerSpec, Recipe

    recipe = Recipe(name="small", corpora=("emodb",), labels=("neutral", "happy", "sad", "angry"),
                    normalizer=NormalizerSpec(enabled=True, prior_weight=3.0), grid=("linear C=1e-3",))
    data = load_protocol_features("emodb-loso", source={"emodb": emodb_four}, labels=recipe.labels,
                                  label_map=recipe.label_map, n_jobs=1, progress=False, config=recipe.feature_config())
    return recipe, data


def test_reports_have_roc_auc_and_arousal_and_the_same_ua(small, tmp_path):
    """A session-normalised recipe on four EmoDB speakers (leave one out): every session
    mode's report has per-class AUC from the model's probabilities, the ROC PNG and the
    derived arousal / valence; the UA is the same as without probabilities (the argmax is
    still the decision values')."""
    from train.evaluate import run_recipe
    from train.reports import write_reports

    recipe, data = small
    plain = run_recipe("emodb-loso", recipe, n_jobs=1, progress=False, calibrate=False, data=data)
    scored = run_recipe("emodb-loso", recipe, n_jobs=1, progress=False, data=data)  # the recipe's calibration
    assert list(scored) == ["speaker", "online", "first-5", "utterance", "one-emotion"]
    for mode, res in scored.items():
        # an uncalibrated SVM gives no probabilities: no ROC, nothing invented
        assert plain[mode].roc is None and plain[mode].affect is None
        # the probabilities do not move the scores (argmax of the same SVM's decision values)
        assert [f.ua_pct for f in res.folds] == [f.ua_pct for f in plain[mode].folds], mode
        assert np.array_equal(res.confusion, plain[mode].confusion), mode
        paths = write_reports(res, tmp_path, command="test")
        assert paths["roc_png"].name.endswith("-roc.png") and paths["roc_png"].stat().st_size > 5000
        data_json = json.loads(paths["json"].read_text())
        per = data_json["roc"]["per_class"]
        assert list(per) == ["neutral", "happy", "sad", "angry"]
        for lab, d in per.items():
            assert 0.0 <= d["auc"] <= 1.0 and 2 <= len(d["fpr"]) == len(d["tpr"]) <= 201
            assert set(d["auc_folds"]) == {f.name for f in res.folds}
        aff = data_json["affect"]
        assert set(aff["arousal"]["folds"]) == {f.name for f in res.folds}
        assert 0.0 <= aff["arousal"]["ua_pct_mean"] <= 100.0 and 0.0 <= aff["valence"]["auc_pooled"] <= 1.0
        md = paths["md"].read_text()
        assert "## ROC per class" in md and "| arousal | happy, angry | neutral, sad |" in md
        # the shown confidence's reliability: its accuracy is the argmax of the probabilities'
        cal = data_json["calibration"]
        n = sum(b["n"] for b in cal["bins"])
        assert n == sum(f.n_test for f in res.folds) and 0.0 <= cal["ece_pct"] <= 100.0 and 0.0 <= cal["brier"] <= 2.0
        assert cal["accuracy_pct"] == pytest.approx(sum(b["n"] * b["accuracy_pct"] for b in cal["bins"]) / n)
        assert cal["thresholds"][0]["share_pct"] >= cal["thresholds"][-1]["share_pct"]
        assert "## Confidence and calibration" in md and "| confidence at least | share of utterances % |" in md
        assert "derived from the 4-class model (not a trained head)" in md
    # speaker sessions separate the classes: every class's AUC above chance, and arousal
    # (angry, happy vs neutral, sad) better than chance on every held-out speaker
    sp = scored["speaker"]
    assert np.mean([d["auc"] for d in sp.roc["per_class"].values()]) > 0.75
    assert min(d["auc"] for d in sp.roc["per_class"].values()) > 0.5
    assert all(f["ua_pct"] > 50 for f in sp.affect["arousal"]["folds"].values())
    # per-class precision and recall sit beside the AUC (the argmax, pooled)
    assert "| label | AUC pooled | AUC fold mean ± std | precision | recall |" in (tmp_path / "emodb-loso-small-speaker.md").read_text()


def test_compare_rows_with_scores_get_roc(small):
    """A comparison classifier with predict_proba (Gaussian naive Bayes) gets the ROC too; one
    without (a bare linear SVM) does not."""
    from sklearn.naive_bayes import GaussianNB
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from train.evaluate import run_protocol

    _, data = small
    nb = run_protocol("emodb-loso", fit=lambda X, y, g: (make_pipeline(StandardScaler(), GaussianNB()).fit(X, y), ""),
                      classifier_name="nb", data=data)
    assert nb.roc is not None and nb.roc["macro_auc"] > 0.6 and "arousal" in nb.affect
    svm = run_protocol("emodb-loso", fit=lambda X, y, g: (make_pipeline(StandardScaler(), LinearSVC(C=1e-3)).fit(X, y), ""),
                       classifier_name="svm", data=data)
    assert svm.roc is None and "roc" not in svm.to_json()
    assert nb.calibration is not None and svm.calibration is None and "calibration" not in svm.to_json()
