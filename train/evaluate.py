"""Speaker-independent evaluation on the protocols of DESIGN.md, with reports.

For every fold of a protocol, the classifier (and every preprocessing step it contains: the
scaler, the model selection, the augmentation) is fitted on the training speakers only and
scored on the held-out speakers. Reported: UA (unweighted average recall = balanced
accuracy), WA (accuracy) and macro-F1 as mean and standard deviation over folds; per-class
precision, recall and F1 and a confusion matrix, both over the folds' predictions pooled.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .augment import DEFAULT_AUGMENTATIONS
from .classifiers import fit_default_svm
from .extract import extract_features
from .protocols import FoldSet, make_folds

__all__ = ["FoldScore", "EvaluationResult", "load_protocol_features", "run_protocol", "write_reports"]

log = logging.getLogger(__name__)


@dataclass
class FoldScore:
    """Scores of one fold (fractions 0..1) and the settings chosen inside it."""

    name: str
    ua: float
    wa: float
    f1: float
    n_test: int
    chosen: str = ""


@dataclass
class EvaluationResult:
    """Everything a protocol run measured.

    Attributes
    ----------
    protocol, classifier : str
    labels : list of str
    folds : list of FoldScore
    confusion : np.ndarray, int64, shape (n_labels, n_labels)
        Rows true, columns predicted, summed over folds.
    per_class : dict[str, dict[str, float]]
        ``precision``, ``recall``, ``f1``, ``support`` per label, over pooled predictions.
    augmented : bool
    seconds : float
        Wall time of the run.
    extra : dict
        Notes (dropped records, extraction report, command).
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

    def _ms(self, key: str) -> tuple[float, float]:
        v = np.array([getattr(f, key) for f in self.folds]) * 100
        return float(v.mean()), float(v.std())

    @property
    def ua(self) -> tuple[float, float]:
        """UA mean and standard deviation over folds, in percent."""
        return self._ms("ua")

    @property
    def wa(self) -> tuple[float, float]:
        """WA mean and standard deviation over folds, in percent."""
        return self._ms("wa")

    @property
    def f1(self) -> tuple[float, float]:
        """Macro-F1 mean and standard deviation over folds, in percent."""
        return self._ms("f1")

    def headline(self) -> str:
        """``UA 61.2 ± 4.0  WA 61.5 ± 4.3  F1 60.8 ± 4.1``"""
        return "UA {:.1f} ± {:.1f}  WA {:.1f} ± {:.1f}  F1 {:.1f} ± {:.1f}".format(*self.ua, *self.wa, *self.f1)

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "classifier": self.classifier,
            "augmented": self.augmented,
            "labels": self.labels,
            "ua_mean": self.ua[0], "ua_std": self.ua[1],
            "wa_mean": self.wa[0], "wa_std": self.wa[1],
            "f1_mean": self.f1[0], "f1_std": self.f1[1],
            "folds": [f.__dict__ for f in self.folds],
            "per_class": self.per_class,
            "confusion": self.confusion.tolist(),
            "seconds": self.seconds,
            **self.extra,
        }


def load_protocol_features(
    protocol: str,
    *,
    recipe: str = "ser-live",
    augment: bool = False,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
) -> tuple[FoldSet, np.ndarray, list[np.ndarray]]:
    """Folds and feature matrices of a protocol (cached extraction).

    Returns
    -------
    folds : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    X_aug : list of np.ndarray
        One matrix per augmentation in :data:`train.augment.DEFAULT_AUGMENTATIONS` (same row
        order as ``X``), empty when ``augment`` is False. Only training rows are ever used.
    """
    fs = make_folds(protocol, source)
    paths = [r.path for r in fs.records]
    X, rep = extract_features(paths, recipe=recipe, n_jobs=n_jobs, progress=progress, description=f"{protocol} features")
    log.info("%s: %s", protocol, rep)
    X_aug: list[np.ndarray] = []
    if augment:
        for aug in DEFAULT_AUGMENTATIONS:
            Xa, rep_a = extract_features(
                paths, recipe=recipe, augmentation=aug, n_jobs=n_jobs, progress=progress, description=f"augment: {aug}"
            )
            log.info("augmentation %s: %s", aug, rep_a)
            X_aug.append(Xa)
    return fs, X, X_aug


def _default_fit(X: np.ndarray, y: np.ndarray, groups: np.ndarray, n_original: int | None = None) -> tuple[Any, str]:
    rows = None
    if n_original is not None and n_original < len(y):
        rows = np.zeros(len(y), dtype=bool)
        rows[:n_original] = True
    pipe, sel = fit_default_svm(X, y, groups, calibrate=False, select_rows=rows)
    return pipe, sel.best


def run_protocol(
    protocol: str,
    *,
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[Any, str]] | None = None,
    classifier_name: str = "svm",
    recipe: str = "ser-live",
    augment: bool = False,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
    data: tuple[FoldSet, np.ndarray, list[np.ndarray]] | None = None,
) -> EvaluationResult:
    """Evaluate a classifier on a protocol, speaker-independently.

    Parameters
    ----------
    protocol : str
        A protocol name of :data:`train.protocols.PROTOCOLS` (or ``cross:A->B``).
    fit : callable, optional
        ``fit(X_train, y_train, speakers_train) -> (fitted estimator, chosen-setting note)``;
        default: the shipped SVM recipe (:func:`train.classifiers.fit_default_svm`), which
        chooses its setting on the fold's original training rows and fits on those plus
        their augmented copies.
    classifier_name : str
    recipe : str
        Feature recipe (``"ser-live"`` or ``"tutorial"``).
    augment : bool
        Add augmented copies of the training rows (training folds only).
    n_jobs, progress, source : see :func:`load_protocol_features`
    data : optional
        Precomputed :func:`load_protocol_features` output (used by ``compare``).

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ValueError
        Feature extraction failed for some records (listed), or an unknown protocol.
    """
    t0 = time.perf_counter()
    fs, X, X_aug = data or load_protocol_features(
        protocol, recipe=recipe, augment=augment, n_jobs=n_jobs, progress=progress, source=source
    )
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        ex = ", ".join(fs.records[i].path for i in bad[:3])
        raise ValueError(f"feature extraction failed for {bad.size} files (e.g. {ex}); see the log")
    y = fs.y
    speakers = fs.speakers
    fit = fit or _default_fit
    n = len(fs.labels)
    conf = np.zeros((n, n), dtype=np.int64)
    y_true_all: list[np.ndarray] = []
    y_pred_all: list[np.ndarray] = []
    scores: list[FoldScore] = []
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"{protocol}: folds", total=len(fs.folds))
        for fold in fs.folds:
            tr, te = fold.train_idx, fold.test_idx
            Xtr, ytr, gtr = X[tr], y[tr], speakers[tr]
            n_original = len(tr)
            if augment and X_aug:
                Xtr = np.vstack([Xtr] + [Xa[tr] for Xa in X_aug])
                ytr = np.concatenate([ytr] * (1 + len(X_aug)))
                gtr = np.concatenate([gtr] * (1 + len(X_aug)))
            est, chosen = fit(Xtr, ytr, gtr, n_original) if fit is _default_fit else fit(Xtr, ytr, gtr)
            pred = np.asarray(est.predict(X[te]))
            yt = y[te]
            conf += confusion_matrix(yt, pred, labels=np.arange(n))
            y_true_all.append(yt)
            y_pred_all.append(pred)
            present = np.unique(yt)
            scores.append(
                FoldScore(
                    name=fold.name,
                    ua=float(balanced_accuracy_score(yt, pred)),
                    wa=float(accuracy_score(yt, pred)),
                    f1=float(f1_score(yt, pred, labels=present, average="macro", zero_division=0)),
                    n_test=int(len(te)),
                    chosen=chosen,
                )
            )
            log.info("%s %s: UA %.1f", protocol, fold.name, scores[-1].ua * 100)
            bar.advance(task)
    yt_all = np.concatenate(y_true_all)
    yp_all = np.concatenate(y_pred_all)
    p, r, f, s = precision_recall_fscore_support(yt_all, yp_all, labels=np.arange(n), zero_division=0)
    per_class = {
        lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
        for i, lab in enumerate(fs.labels)
    }
    return EvaluationResult(
        protocol=fs.protocol,
        classifier=classifier_name,
        labels=list(fs.labels),
        folds=scores,
        confusion=conf,
        per_class=per_class,
        augmented=augment,
        seconds=time.perf_counter() - t0,
        extra={"dropped": dict(fs.dropped), "n_records": len(fs.records)},
    )


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s).strip("_")


def write_reports(result: EvaluationResult, out_dir: str | Path, *, command: str = "") -> dict[str, Path]:
    """Write ``<slug>.json``, ``<slug>.md`` and ``<slug>-confusion.png`` into ``out_dir``.

    Returns
    -------
    dict
        ``{"json": path, "md": path, "png": path}`` (png missing when matplotlib is absent).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    slug = _slug(f"{result.protocol}-{result.classifier}" + ("-aug" if result.augmented else ""))
    paths: dict[str, Path] = {}
    data = result.to_json()
    data["command"] = command
    paths["json"] = out / f"{slug}.json"
    paths["json"].write_text(json.dumps(data, indent=2))
    lines = [
        f"# {result.protocol}: {result.classifier}" + (" + augmentation" if result.augmented else ""),
        "",
        f"Command: `{command}`" if command else "",
        "",
        f"**{result.headline()}** (percent, mean ± std over {len(result.folds)} folds; "
        "UA = unweighted average recall = balanced accuracy, WA = accuracy)",
        "",
        "| fold | UA | WA | macro-F1 | test utterances | chosen setting |",
        "|---|---|---|---|---|---|",
    ]
    for fsc in result.folds:
        lines.append(f"| {fsc.name} | {fsc.ua*100:.1f} | {fsc.wa*100:.1f} | {fsc.f1*100:.1f} | {fsc.n_test} | {fsc.chosen} |")
    lines += ["", "## Per class (pooled over folds)", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, d in result.per_class.items():
        lines.append(f"| {lab} | {d['precision']*100:.1f} | {d['recall']*100:.1f} | {d['f1']*100:.1f} | {d['support']} |")
    lines += ["", "## Confusion matrix (rows true, columns predicted, summed over folds)", ""]
    lines.append("| true \\ predicted | " + " | ".join(result.labels) + " |")
    lines.append("|---" * (len(result.labels) + 1) + "|")
    for lab, row in zip(result.labels, result.confusion):
        lines.append(f"| {lab} | " + " | ".join(str(int(v)) for v in row) + " |")
    if result.extra.get("dropped"):
        lines += ["", f"Records left out (label not in the protocol): {result.extra['dropped']}"]
    paths["md"] = out / f"{slug}.md"
    paths["md"].write_text("\n".join(lines) + "\n")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        cm = result.confusion.astype(float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
        fig, ax = plt.subplots(figsize=(1.0 + 0.7 * len(result.labels), 0.8 + 0.6 * len(result.labels)))
        ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
        ax.set_xticks(range(len(result.labels)), result.labels, rotation=45, ha="right")
        ax.set_yticks(range(len(result.labels)), result.labels)
        for i in range(len(result.labels)):
            for j in range(len(result.labels)):
                ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center", color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(f"{result.protocol} ({result.classifier})\n{result.headline()}", fontsize=9)
        fig.tight_layout()
        paths["png"] = out / f"{slug}-confusion.png"
        fig.savefig(paths["png"], dpi=110)
        plt.close(fig)
    except ImportError:
        log.warning("matplotlib not installed: no confusion-matrix PNG (pip install '.[train]')")
    return paths
