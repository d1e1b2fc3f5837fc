"""ROC curves and AUC per class, arousal / valence read off the class probabilities, and how
far the shown confidence can be trusted (calibration).

Per class, one-vs-rest: the class's probability (the model object's
:meth:`~ser_live.estimator.EmotionEstimator.predict_proba`, restricted to the protocol's
scored classes and renormalised, as the argmax scoring restricts them) ranks the test
utterances of every fold pooled (:func:`sklearn.metrics.roc_curve`,
:func:`sklearn.metrics.roc_auc_score`), and per fold (their mean and standard deviation).

Arousal and valence are **derived from the categorical model** by the runtime's one
definition, :mod:`ser_live.affect` (Russell's circumplex [1]_, :data:`~ser_live.affect.AROUSAL`,
:data:`~ser_live.affect.VALENCE`; the same values the live records and ``ser-live predict``
carry). A 2-class UA (balanced accuracy, the sign of the score: > 0 high / positive) and the
AUC of the score are measured here on the utterances whose true class has a position on that
axis (valence leaves neutral out).

The confidence a user sees is the largest probability, beside the label it picks
(:meth:`ser_live.model.EmotionModel.prediction`); :func:`calibration_summary` measures how
often that label is right at each confidence: a reliability table over equal-width bins, the
expected calibration error [2]_ [3]_ and the multi-class Brier score [4]_.

References
----------
.. [1] J. A. Russell, "A circumplex model of affect", Journal of Personality and Social
   Psychology 39(6), 1161-1178, 1980.
.. [2] M. P. Naeini, G. F. Cooper and M. Hauskrecht, "Obtaining well calibrated
   probabilities using Bayesian binning", AAAI 2015 (the expected calibration error).
.. [3] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On calibration of modern neural
   networks", ICML 2017 (reliability diagrams and ECE over equal-width confidence bins).
.. [4] G. W. Brier, "Verification of forecasts expressed in terms of probability", Monthly
   Weather Review 78(1), 1-3, 1950.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.metrics import balanced_accuracy_score, roc_auc_score, roc_curve

from ser_live.affect import AROUSAL, MAPPING_NOTE, VALENCE, affect_scores, has_affect
from ser_live.types import UncertaintyRule

__all__ = ["AROUSAL", "VALENCE", "affect_scores", "affect_summary", "calibration_summary", "renormalised",
           "roc_summary"]


def renormalised(P: np.ndarray) -> np.ndarray:
    """Rows of ``P`` (float, shape (n, k), non-negative) divided by their sums; a row summing
    to 0 becomes uniform. Returns float64, shape (n, k)."""
    P = np.asarray(P, dtype=np.float64)
    s = P.sum(axis=1, keepdims=True)
    return np.where(s > 0, P / np.where(s > 0, s, 1.0), 1.0 / max(P.shape[1], 1))


def _auc(y: np.ndarray, s: np.ndarray) -> float | None:
    """AUC of scores ``s`` for binary truths ``y`` (bool); None when one side is empty."""
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, s))


#: Most points of a stored curve: a longer one is resampled on this many equally spaced false
#: positive rates (the AUC is always computed from every utterance).
MAX_CURVE_POINTS = 201


def _curve(y: np.ndarray, s: np.ndarray) -> dict[str, list[float]]:
    """The ROC curve's points (false and true positive rates), at most
    :data:`MAX_CURVE_POINTS` (a long curve linearly interpolated on an even grid of false
    positive rates, which keeps the reports' JSON small for thousands of utterances)."""
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=True)
    if len(fpr) > MAX_CURVE_POINTS:
        grid = np.linspace(0.0, 1.0, MAX_CURVE_POINTS)
        fpr, tpr = grid, np.interp(grid, fpr, tpr)
    return {"fpr": [round(float(v), 4) for v in fpr], "tpr": [round(float(v), 4) for v in tpr]}


def _mean_std(vals: Sequence[float | None]) -> tuple[float | None, float | None]:
    v = [x for x in vals if x is not None]
    return (float(np.mean(v)), float(np.std(v))) if v else (None, None)


def roc_summary(labels: Sequence[str], *, fold_names: Sequence[str], true: Sequence[np.ndarray],
                proba: Sequence[np.ndarray]) -> dict[str, Any]:
    """One-vs-rest ROC and AUC per class, pooled over folds and per fold.

    Parameters
    ----------
    labels : sequence of str
        The scored classes (columns of ``proba``).
    fold_names : sequence of str
    true : sequence of np.ndarray, int64, shape (n_test,)
        Per fold, the true classes (indices into ``labels``).
    proba : sequence of np.ndarray, float64, shape (n_test, n_labels)
        Per fold, the probabilities over ``labels`` (rows sum to 1).

    Returns
    -------
    dict
        ``per_class``: per label ``auc`` (pooled), ``auc_fold_mean``, ``auc_fold_std``,
        ``auc_folds`` (fold name to AUC; None when the fold has no utterance of the class
        or only that class), ``fpr``/``tpr`` (the pooled curve); ``macro_auc`` (mean of
        the pooled per-class AUCs) and ``macro_auc_fold_mean``.
    """
    yt = np.concatenate(true)
    P = np.vstack(proba)
    per: dict[str, Any] = {}
    for i, lab in enumerate(labels):
        pos = yt == i
        folds = {n: _auc(t == i, p[:, i]) for n, t, p in zip(fold_names, true, proba)}
        mean, std = _mean_std(list(folds.values()))
        per[lab] = {"auc": _auc(pos, P[:, i]), "auc_fold_mean": mean, "auc_fold_std": std, "auc_folds": folds,
                    **(_curve(pos, P[:, i]) if pos.any() and not pos.all() else {"fpr": [], "tpr": []})}
    pooled = [d["auc"] for d in per.values() if d["auc"] is not None]
    fold_means = [d["auc_fold_mean"] for d in per.values() if d["auc_fold_mean"] is not None]
    return {"scores": "predict_proba over the scored classes, renormalised; one-vs-rest; test utterances of all folds pooled",
            "per_class": per,
            "macro_auc": float(np.mean(pooled)) if pooled else None,
            "macro_auc_fold_mean": float(np.mean(fold_means)) if fold_means else None}


def affect_summary(labels: Sequence[str], *, fold_names: Sequence[str], true: Sequence[np.ndarray],
                   proba: Sequence[np.ndarray]) -> dict[str, Any] | None:
    """Arousal and valence UA (percent) and AUC per fold, their mean, and pooled.

    Parameters
    ----------
    labels, fold_names, true, proba
        As :func:`roc_summary`.

    Returns
    -------
    dict or None
        ``mapping`` (the note), and per axis (``"arousal"``, ``"valence"``) ``high`` /
        ``low`` (the classes on each side), ``folds`` (name to ``ua_pct``, ``auc``,
        ``n``), ``ua_pct_mean``, ``ua_pct_std``, ``auc_fold_mean``, ``ua_pct_pooled``,
        ``auc_pooled``; an axis is absent when the scored classes do not have both sides,
        and None is returned when neither axis has, or when a scored class has no position
        on the circumplex (:func:`ser_live.affect.has_affect`: a user's own label; the
        runtime then gives no arousal either).
    """
    if not has_affect(labels):
        return None
    out: dict[str, Any] = {"mapping": MAPPING_NOTE}
    for axis, table in (("arousal", AROUSAL), ("valence", VALENCE)):
        side = np.array([table[lab] for lab in labels])
        if not ((side > 0).any() and (side < 0).any()):
            continue
        folds: dict[str, Any] = {}
        ys, ss = [], []
        for name, t, p in zip(fold_names, true, proba):
            s = affect_scores(labels, p)[axis]
            keep = side[t] != 0
            yb, sb = side[t][keep] > 0, s[keep]
            ys.append(yb)
            ss.append(sb)
            ua = 100 * float(balanced_accuracy_score(yb, sb > 0)) if yb.size and yb.any() and not yb.all() else None
            folds[name] = {"ua_pct": ua, "auc": _auc(yb, sb), "n": int(yb.size)}
        yb, sb = np.concatenate(ys), np.concatenate(ss)
        ua_m, ua_s = _mean_std([f["ua_pct"] for f in folds.values()])
        auc_m, _ = _mean_std([f["auc"] for f in folds.values()])
        out[axis] = {
            "high": [lab for lab, v in zip(labels, side) if v > 0], "low": [lab for lab, v in zip(labels, side) if v < 0],
            "folds": folds, "ua_pct_mean": ua_m, "ua_pct_std": ua_s, "auc_fold_mean": auc_m,
            "ua_pct_pooled": 100 * float(balanced_accuracy_score(yb, sb > 0)) if yb.any() and not yb.all() else None,
            "auc_pooled": _auc(yb, sb),
        }
    return out if len(out) > 1 else None


#: Equal-width confidence bins of the reliability table and the ECE. Guo et al. [3]_ use 15
#: over tens of thousands of images; 10 keeps a held-out corpus of a few hundred utterances
#: from leaving most bins nearly empty.
CALIBRATION_BINS = 10

#: Confidences at which :func:`calibration_summary` gives the share of utterances at or above
#: them and how often their label is right: what a threshold on ``confidence`` would keep.
CONFIDENCE_THRESHOLDS: tuple[float, ...] = (0.5, 0.7, 0.9)


def _bins(conf: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin index (int64, shape (n,)) of each confidence among ``edges`` (ascending, from 0
    to 1): ``[edges[k], edges[k + 1])``, the last bin closed at 1."""
    return np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, len(edges) - 2)


def _ece(correct: np.ndarray, conf: np.ndarray, edges: np.ndarray) -> float:
    """Expected calibration error (percent): the mean over bins of |accuracy - mean confidence|,
    weighted by the bins' shares of utterances. ``correct`` bool, ``conf`` float, shape (n,)."""
    b = _bins(conf, edges)
    gap = 0.0
    for k in np.unique(b):
        m = b == k
        gap += m.sum() * abs(float(correct[m].mean()) - float(conf[m].mean()))
    return 100.0 * gap / max(conf.size, 1)


def calibration_summary(labels: Sequence[str], *, fold_names: Sequence[str], true: Sequence[np.ndarray],
                        proba: Sequence[np.ndarray], n_bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """How far the shown confidence can be trusted: its reliability over the test utterances.

    The confidence is each utterance's largest probability and the label it picks is right or
    not, as ``ser-live`` shows them (:meth:`ser_live.model.EmotionModel.prediction`). With a
    model whose labels are the scored classes the probabilities are the runtime's; otherwise
    they are restricted to the scored classes and renormalised, as :func:`roc_summary`'s.

    Parameters
    ----------
    labels, fold_names, true, proba
        As :func:`roc_summary`.
    n_bins : int
        Equal-width confidence bins over [0, 1] (:data:`CALIBRATION_BINS`).

    Returns
    -------
    dict
        ``confidence`` (what the figures are of), ``accuracy_pct`` (the picked label right,
        percent of the utterances of all folds pooled: the WA of the probabilities'
        argmax), ``mean_confidence_pct``, ``overconfidence_pct`` (the second minus the first),
        ``ece_pct`` (expected calibration error [2]_ [3]_, pooled), ``ece_pct_fold_mean``,
        ``ece_pct_folds`` (fold name to ECE), ``brier`` (multi-class Brier score [4]_: the
        mean over utterances of the summed squared differences between the probabilities
        and the one-hot truth; 0 is perfect, 2 the worst), ``bins`` (per non-empty bin
        ``lo``, ``hi``, ``n``, ``accuracy_pct``, ``mean_confidence_pct``) and
        ``thresholds`` (per :data:`CONFIDENCE_THRESHOLDS` value ``at_least``, ``share_pct``
        of the utterances at or above it, ``accuracy_pct`` among them, None when none is) and
        ``uncertain`` (the runtime's default "uncertain" rule for this many classes,
        :meth:`ser_live.types.UncertaintyRule.for_labels`: its ``below`` and ``margin``, the
        ``share_pct`` of utterances it flags and ``shown_accuracy_pct``, how often the labels
        it lets through are right; None when it flags all).

    Raises
    ------
    ValueError
        ``n_bins`` below 1, or no test utterance.
    """
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    yt = np.concatenate(true)
    P = np.vstack(proba)
    if yt.size == 0:
        raise ValueError("no test utterance to measure calibration on")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    conf, correct = P.max(axis=1), P.argmax(axis=1) == yt
    folds = {n: _ece(p.argmax(axis=1) == t, p.max(axis=1), edges) for n, t, p in zip(fold_names, true, proba) if t.size}
    onehot = np.eye(P.shape[1])[yt]
    bins = []
    b = _bins(conf, edges)
    for k in range(n_bins):
        m = b == k
        if m.any():
            bins.append({"lo": round(float(edges[k]), 4), "hi": round(float(edges[k + 1]), 4), "n": int(m.sum()),
                         "accuracy_pct": 100.0 * float(correct[m].mean()),
                         "mean_confidence_pct": 100.0 * float(conf[m].mean())})
    thresholds = []
    for q in CONFIDENCE_THRESHOLDS:
        m = conf >= q
        thresholds.append({"at_least": q, "share_pct": 100.0 * float(m.mean()),
                           "accuracy_pct": 100.0 * float(correct[m].mean()) if m.any() else None})
    acc, mc = 100.0 * float(correct.mean()), 100.0 * float(conf.mean())
    rule = UncertaintyRule.for_labels(P.shape[1])
    unc = rule.applies_to_rows(P)
    uncertain = {"below": rule.below, "margin": rule.margin, "share_pct": 100.0 * float(unc.mean()),
                 "shown_accuracy_pct": 100.0 * float(correct[~unc].mean()) if (~unc).any() else None}
    return {"confidence": "the largest probability over the scored classes (renormalised) and the label it picks, "
                          "test utterances of all folds pooled",
            "accuracy_pct": acc, "mean_confidence_pct": mc, "overconfidence_pct": mc - acc,
            "ece_pct": _ece(correct, conf, edges), "ece_pct_fold_mean": _mean_std(list(folds.values()))[0],
            "ece_pct_folds": folds, "brier": float(np.mean(np.sum((P - onehot) ** 2, axis=1))),
            "n_bins": n_bins, "bins": bins, "thresholds": thresholds, "uncertain": uncertain}
