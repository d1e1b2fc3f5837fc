"""The one result type of an evaluation: fold scores, pooled per-class scores, confusion,
and, when the classifier gives probabilities, ROC/AUC per class and the derived arousal and
valence (:mod:`train.roc`).

UA (unweighted average recall = balanced accuracy), WA (accuracy) and macro-F1 per fold, in
percent, and their mean and standard deviation over folds; per-class precision, recall and
F1 and a confusion matrix over the folds' predictions pooled. :class:`Scorer` collects one
session mode's predictions fold by fold (the engine, :mod:`train.engine`, keeps one per mode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

__all__ = ["EvaluationResult", "FoldScore", "Scorer", "balanced_accuracy", "ua_pct"]


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """UA (unweighted average recall = balanced accuracy) as a fraction: the recall of each
    class present in ``y_true``, averaged (the value of
    ``sklearn.metrics.balanced_accuracy_score``).

    Parameters
    ----------
    y_true, y_pred : np.ndarray, shape (n,)
        True and predicted class labels (indices or names), ``n >= 1``.

    Returns
    -------
    float
        0..1. A predicted class that ``y_true`` lacks (a held-out speaker or corpus without
        that emotion) counts against the present classes' recall and has none of its own.
        Computed here rather than by scikit-learn, which warns about such a class once per
        fold of every such protocol: silencing that warning meant changing the process's
        warning filters, which threads (Dask workers, the engine's) share.

    Raises
    ------
    ValueError
        Empty or of different lengths, or not 1-D.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape or not y_true.size:
        raise ValueError(f"y_true and y_pred must be 1-D of one non-zero length, got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    classes, index = np.unique(y_true, return_inverse=True)
    hits = np.bincount(index, weights=(y_pred == y_true).astype(np.float64), minlength=classes.size)
    return float(np.mean(hits / np.bincount(index, minlength=classes.size)))


def ua_pct(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """:func:`balanced_accuracy` in percent (0..100)."""
    return 100 * balanced_accuracy(y_true, y_pred)


@dataclass
class FoldScore:
    """Scores of one fold, in percent (0..100), and the settings chosen inside it."""

    name: str
    ua_pct: float
    wa_pct: float
    f1_pct: float
    n_test: int
    chosen: str = ""


@dataclass
class EvaluationResult:
    """Everything a protocol run measured.

    Attributes
    ----------
    protocol, classifier : str
    labels : list of str
        The classes scored (the confusion matrix's rows and columns).
    folds : list of FoldScore
    confusion : np.ndarray, int64, shape (n_labels, n_labels)
        Rows true, columns predicted, summed over folds.
    per_class : dict[str, dict[str, float]]
        ``precision_pct``, ``recall_pct``, ``f1_pct`` (percent), ``support`` per label,
        over pooled predictions.
    augmented : bool
    seconds : float
        Wall time of the run.
    extra : dict
        Notes (dropped records, recipe, session mode, command).
    roc : dict, optional
        One-vs-rest ROC and AUC per class (:func:`train.roc.roc_summary`); None when the
        classifier gave no probabilities.
    affect : dict, optional
        Arousal and valence derived from the class probabilities
        (:func:`train.roc.affect_summary`); None without probabilities.
    calibration : dict, optional
        How far the shown confidence can be trusted (:func:`train.roc.calibration_summary`);
        None without probabilities.
    """

    protocol: str
    classifier: str
    labels: list[str]
    folds: list[FoldScore]
    confusion: np.ndarray
    per_class: dict[str, dict[str, float]]
    augmented: bool = False
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)
    roc: dict[str, Any] | None = None
    affect: dict[str, Any] | None = None
    calibration: dict[str, Any] | None = None

    def _ms(self, key: str) -> tuple[float, float]:
        v = np.array([getattr(f, key) for f in self.folds])
        return float(v.mean()), float(v.std())

    @property
    def ua_pct(self) -> tuple[float, float]:
        """UA mean and population standard deviation (ddof 0) over folds, in percent."""
        return self._ms("ua_pct")

    @property
    def wa_pct(self) -> tuple[float, float]:
        """WA mean and standard deviation over folds, in percent."""
        return self._ms("wa_pct")

    @property
    def f1_pct(self) -> tuple[float, float]:
        """Macro-F1 mean and standard deviation over folds, in percent."""
        return self._ms("f1_pct")

    def headline(self) -> str:
        """``UA 61.2 ± 4.0  WA 61.5 ± 4.3  F1 60.8 ± 4.1`` (percent; mean ± standard deviation over
        folds), or ``UA 61.2  WA 61.5  F1 60.8 (1 fold)`` for a one-fold protocol (``cross:``),
        whose spread over folds is not known (it printed ``± 0.0``)."""
        if len(self.folds) == 1:
            return "UA {:.1f}  WA {:.1f}  F1 {:.1f} (1 fold)".format(self.ua_pct[0], self.wa_pct[0], self.f1_pct[0])
        return "UA {:.1f} ± {:.1f}  WA {:.1f} ± {:.1f}  F1 {:.1f} ± {:.1f}".format(*self.ua_pct, *self.wa_pct, *self.f1_pct)

    def to_json(self) -> dict[str, Any]:
        """The result as JSON-able data (the report's ``.json``)."""
        return {
            "protocol": self.protocol,
            "classifier": self.classifier,
            "augmented": self.augmented,
            "labels": self.labels,
            "ua_pct_mean": self.ua_pct[0], "ua_pct_std": self.ua_pct[1],
            "wa_pct_mean": self.wa_pct[0], "wa_pct_std": self.wa_pct[1],
            "f1_pct_mean": self.f1_pct[0], "f1_pct_std": self.f1_pct[1],
            "folds": [f.__dict__ for f in self.folds],
            "per_class": self.per_class,
            "confusion": self.confusion.tolist(),
            "seconds": self.seconds,
            **({"roc": self.roc} if self.roc is not None else {}),
            **({"affect": self.affect} if self.affect is not None else {}),
            **({"calibration": self.calibration} if self.calibration is not None else {}),
            **self.extra,
        }


class Scorer:
    """Collects one scoring mode's predictions fold by fold and builds its result.

    Parameters
    ----------
    labels : list of str
        The classes scored; predictions and truths are indices into it.
    """

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        n = len(labels)
        self.conf = np.zeros((n, n), dtype=np.int64)
        self.true: list[np.ndarray] = []
        self.pred: list[np.ndarray] = []
        self.folds: list[FoldScore] = []
        self.proba: list[np.ndarray | None] = []

    def add(self, name: str, yt: np.ndarray, pred: np.ndarray, chosen: str = "", *, proba: np.ndarray | None = None) -> FoldScore:
        """Score one fold.

        Parameters
        ----------
        name : str
            The fold's name.
        yt, pred : np.ndarray, int64, shape (n_test,)
            True and predicted classes (indices into ``labels``).
        chosen : str
            The setting chosen inside the fold.
        proba : np.ndarray, float64, shape (n_test, n_labels), optional
            Probabilities over ``labels`` (rows sum to 1) for the ROC curves and the derived
            arousal / valence (:mod:`train.roc`); the result has them only when every fold
            gave them.

        Returns
        -------
        FoldScore
        """
        n = len(self.labels)
        self.conf += confusion_matrix(yt, pred, labels=np.arange(n))
        self.true.append(yt)
        self.pred.append(pred)
        self.proba.append(None if proba is None else np.asarray(proba, dtype=np.float64))
        present = np.unique(yt)
        score = FoldScore(
            name=name,
            ua_pct=ua_pct(yt, pred),
            wa_pct=100 * float(accuracy_score(yt, pred)),
            f1_pct=100 * float(f1_score(yt, pred, labels=present, average="macro", zero_division=0)),
            n_test=int(len(yt)),
            chosen=chosen,
        )
        self.folds.append(score)
        return score

    def result(self, *, protocol: str, classifier: str, augmented: bool, seconds: float, extra: dict) -> EvaluationResult:
        """The run's result: the folds so far, per-class scores and confusion over them pooled."""
        n = len(self.labels)
        p, r, f, s = precision_recall_fscore_support(
            np.concatenate(self.true), np.concatenate(self.pred), labels=np.arange(n), zero_division=0
        )
        per_class = {
            lab: {"precision_pct": 100 * float(p[i]), "recall_pct": 100 * float(r[i]), "f1_pct": 100 * float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(self.labels)
        }
        roc = affect = calibration = None
        if self.proba and all(p is not None for p in self.proba):
            from .roc import affect_summary, calibration_summary, roc_summary

            names = [f.name for f in self.folds]
            roc = roc_summary(self.labels, fold_names=names, true=self.true, proba=self.proba)
            affect = affect_summary(self.labels, fold_names=names, true=self.true, proba=self.proba)
            calibration = calibration_summary(self.labels, fold_names=names, true=self.true, proba=self.proba)
        return EvaluationResult(
            protocol=protocol, classifier=classifier, labels=list(self.labels), folds=self.folds,
            confusion=self.conf, per_class=per_class, augmented=augmented, seconds=seconds, extra=extra,
            roc=roc, affect=affect, calibration=calibration,
        )
