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
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from sklearn.base import clone
from sklearn.metrics import accuracy_score, balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from .augment import DEFAULT_AUGMENTATIONS, Augmentation
from .extract import extract_features
from .protocols import FoldSet, make_folds
from .recipe import Recipe, RecipeClassifier, display_path

__all__ = [
    "FoldScore", "EvaluationResult", "SESSION_MODES", "load_protocol_features", "run_protocol", "run_recipe",
    "training_rows",
    "write_reports",
]

log = logging.getLogger(__name__)


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
        v = np.array([getattr(f, key) for f in self.folds])
        return float(v.mean()), float(v.std())

    @property
    def ua_pct(self) -> tuple[float, float]:
        """UA mean and standard deviation over folds, in percent."""
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
        """``UA 61.2 ± 4.0  WA 61.5 ± 4.3  F1 60.8 ± 4.1`` (percent)."""
        return "UA {:.1f} ± {:.1f}  WA {:.1f} ± {:.1f}  F1 {:.1f} ± {:.1f}".format(*self.ua_pct, *self.wa_pct, *self.f1_pct)

    def to_json(self) -> dict[str, Any]:
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
            **self.extra,
        }


class _Scorer:
    """Collects one scoring mode's predictions fold by fold and builds its result."""

    def __init__(self, labels: list[str]) -> None:
        self.labels = labels
        n = len(labels)
        self.conf = np.zeros((n, n), dtype=np.int64)
        self.true: list[np.ndarray] = []
        self.pred: list[np.ndarray] = []
        self.folds: list[FoldScore] = []

    def add(self, name: str, yt: np.ndarray, pred: np.ndarray, chosen: str = "") -> FoldScore:
        n = len(self.labels)
        self.conf += confusion_matrix(yt, pred, labels=np.arange(n))
        self.true.append(yt)
        self.pred.append(pred)
        present = np.unique(yt)
        score = FoldScore(
            name=name,
            ua_pct=100 * float(balanced_accuracy_score(yt, pred)),
            wa_pct=100 * float(accuracy_score(yt, pred)),
            f1_pct=100 * float(f1_score(yt, pred, labels=present, average="macro", zero_division=0)),
            n_test=int(len(yt)),
            chosen=chosen,
        )
        self.folds.append(score)
        return score

    def result(self, *, protocol: str, classifier: str, augmented: bool, seconds: float, extra: dict) -> EvaluationResult:
        n = len(self.labels)
        p, r, f, s = precision_recall_fscore_support(
            np.concatenate(self.true), np.concatenate(self.pred), labels=np.arange(n), zero_division=0
        )
        per_class = {
            lab: {"precision_pct": 100 * float(p[i]), "recall_pct": 100 * float(r[i]), "f1_pct": 100 * float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(self.labels)
        }
        return EvaluationResult(
            protocol=protocol, classifier=classifier, labels=list(self.labels), folds=self.folds,
            confusion=self.conf, per_class=per_class, augmented=augmented, seconds=seconds, extra=extra,
        )


def load_protocol_features(
    protocol: str,
    *,
    recipe: str = "ser-live",
    augment: bool = False,
    augmentations: tuple[Augmentation, ...] | None = None,
    labels: Sequence[str] | None = None,
    label_map: Mapping[str, str] | None = None,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
    config: Any = None,
) -> tuple[FoldSet, np.ndarray, list[np.ndarray]]:
    """Folds and feature matrices of a protocol (cached extraction).

    Parameters
    ----------
    protocol : str
    recipe : str
        Feature recipe (``"ser-live"`` or ``"tutorial"``).
    augment : bool
        Extract :data:`train.augment.DEFAULT_AUGMENTATIONS` copies (unless ``augmentations``).
    augmentations : tuple of Augmentation, optional
        The copies to extract (a training recipe's list); overrides ``augment``.
    labels, label_map : optional
        Passed to :func:`train.protocols.make_folds`.
    n_jobs, progress, source : see :func:`train.extract.extract_features`
    config : FeatureConfig, optional
        Extractor configuration (default: the shipped one).

    Returns
    -------
    folds : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    X_aug : list of np.ndarray
        One matrix per augmentation (same row order as ``X``). Only training rows are ever
        used.
    """
    fs = make_folds(protocol, source, labels=labels, label_map=label_map)
    paths = [r.path for r in fs.records]
    X, rep = extract_features(
        paths, config=config, recipe=recipe, n_jobs=n_jobs, progress=progress, description=f"{protocol} features"
    )
    log.info("%s: %s", protocol, rep)
    X_aug: list[np.ndarray] = []
    augs = augmentations if augmentations is not None else (DEFAULT_AUGMENTATIONS if augment else ())
    for aug in augs:
        Xa, rep_a = extract_features(
            paths, config=config, recipe=recipe, augmentation=aug, n_jobs=n_jobs, progress=progress, description=f"augment: {aug}"
        )
        log.info("augmentation %s: %s", aug, rep_a)
        X_aug.append(Xa)
    return fs, X, X_aug


def _check_features(fs: FoldSet, X: np.ndarray) -> None:
    """Raise ``ValueError`` naming files whose feature row is not finite (failed extraction)."""
    bad = np.flatnonzero(~np.isfinite(X).all(axis=1))
    if bad.size:
        ex = ", ".join(fs.records[i].path for i in bad[:3])
        raise ValueError(f"feature extraction failed for {bad.size} files (e.g. {ex}); see the log")


def run_protocol(
    protocol: str,
    *,
    fit: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[Any, str]],
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
    fit : callable
        ``fit(X_train, y_train, speakers_train) -> (fitted estimator, chosen-setting note)``
        (the comparison classifiers). A training recipe is evaluated with
        :func:`run_recipe`.
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
    _check_features(fs, X)
    y, speakers = fs.y, fs.groups
    scorer = _Scorer(list(fs.labels))
    for fold in fs.folds:
        tr, te = fold.train_idx, fold.test_idx
        Xtr, ytr, gtr = X[tr], y[tr], speakers[tr]
        if augment and X_aug:
            Xtr = np.vstack([Xtr] + [Xa[tr] for Xa in X_aug])
            ytr = np.concatenate([ytr] * (1 + len(X_aug)))
            gtr = np.concatenate([gtr] * (1 + len(X_aug)))
        est, chosen = fit(Xtr, ytr, gtr)
        sc = scorer.add(fold.name, y[te], np.asarray(est.predict(X[te])), chosen)
        log.info("%s %s: UA %.1f %%", protocol, fold.name, sc.ua_pct)
    return scorer.result(
        protocol=fs.protocol, classifier=classifier_name, augmented=augment, seconds=time.perf_counter() - t0,
        extra={"dropped": dict(fs.dropped), "n_records": len(fs.records)},
    )


#: How test utterances are grouped into sessions when a recipe has a session normaliser.
SESSION_MODES: dict[str, str] = {
    "speaker": "offline: each test speaker is one session, normalised with all of its utterances",
    "online": (
        "live: each test speaker's utterances in a seeded random order, each normalised with the "
        "running statistics of the utterances so far (itself included) shrunk to the prior"
    ),
    "utterance": "no session: each utterance normalised alone (n = 1, i.e. mostly the prior)",
    "one-emotion": (
        "stress test: each test speaker's utterances of ONE emotion form a session (an angry caller), "
        "normalised with all of that session's utterances; a normaliser that turns such a session into "
        "'neutral' scores low here"
    ),
}


def run_recipe(
    protocol: str,
    recipe: Recipe,
    *,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
    seed: int = 0,
    calibrate: bool = False,
    data: tuple[FoldSet, np.ndarray, list[np.ndarray]] | None = None,
) -> dict[str, EvaluationResult]:
    """Evaluate a training recipe on a protocol; every step fitted inside the training folds.

    Test utterances are scored by the argmax of the decision values restricted to the
    protocol's scored classes (``FoldSet.score_labels``: the same subset for every test
    speaker). With a session normaliser each fold is scored three ways
    (:data:`SESSION_MODES`); without one, once (``"none"``).

    Parameters
    ----------
    protocol : str
    recipe : Recipe
    n_jobs, progress, source : see :func:`load_protocol_features`
    seed : int, default 0
        Seeds the order of the ``"online"`` scoring.
    calibrate : bool, default False
        Fit the temperature too (it never changes the argmax; off for speed).
    data : optional
        Precomputed :func:`load_protocol_features` output for this recipe.

    Returns
    -------
    dict of str to EvaluationResult
        Keyed by session mode.

    Raises
    ------
    ValueError
        Feature extraction failed for some records, or an unknown protocol.
    """
    from ser_live.features import FeatureExtractor

    t0 = time.perf_counter()
    fs, X, X_aug = data or load_protocol_features(
        protocol, augmentations=recipe.all_augmentations, labels=recipe.labels, label_map=recipe.label_map,
        n_jobs=n_jobs, progress=progress, source=source, config=recipe.feature_config(),
    )
    _check_features(fs, X)
    for Xa in X_aug:
        _check_features(fs, Xa)
    y, groups = fs.y, fs.groups
    score = list(fs.score_labels)
    names = FeatureExtractor(recipe.feature_config()).feature_names()
    base = RecipeClassifier(recipe, names, n_jobs=n_jobs, calibrate=calibrate)
    modes = list(SESSION_MODES) if recipe.normalizer.enabled else ["none"]
    scorers = {m: _Scorer(score) for m in modes}
    branch: dict[str, dict[str, Any]] = {}
    from rich.progress import Progress

    with Progress(disable=not progress, transient=True) as bar:
        task = bar.add_task(f"{protocol}: folds", total=len(fs.folds))
        for fold in fs.folds:
            te = fold.test_idx
            est = fit_fold(base, fs, X, X_aug, fold)
            if est.route_ is not None:
                branch[fold.name] = {**est.route_stats_, "test_routed_pct": est.noise_branch_pct(X[te])}
            for m in modes:
                kw: dict[str, Any] = {}
                if m in ("speaker", "online"):
                    kw["groups"] = groups[te]
                if m == "one-emotion":
                    kw["groups"] = np.array([f"{g}|{c}" for g, c in zip(groups[te], y[te])], dtype=object)
                if m == "online":
                    kw["online"] = seed
                pred, yt = scored_argmax(est, fs, X[te], te, **kw)
                sc = scorers[m].add(fold.name, yt, pred, est.chosen_)
                log.info("%s %s [%s]: UA %.1f %%", protocol, fold.name, m, sc.ua_pct)
            bar.advance(task)
    seconds = time.perf_counter() - t0
    out = {}
    for m in modes:
        extra = {
            "dropped": dict(fs.dropped), "n_records": len(fs.records), "recipe": recipe.name,
            "recipe_path": display_path(recipe.path), "recipe_summary": recipe.summary(), "session_mode": m,
            "session_mode_doc": SESSION_MODES.get(m, "no session normaliser"),
            "trained_labels": list(fs.labels), "online_seed": seed, "train_corpora": list(recipe.corpora),
            **({"noise_branch": branch} if branch else {}),
        }
        out[m] = scorers[m].result(
            protocol=fs.protocol, classifier=recipe.name, augmented=bool(recipe.augmentations), seconds=seconds, extra=extra
        )
    return out


def fit_fold(base: RecipeClassifier, fs: FoldSet, X: np.ndarray, X_aug: list[np.ndarray], fold: Any) -> RecipeClassifier:
    """A clone of ``base`` fitted on one fold's training rows (and their augmented copies).

    Parameters
    ----------
    base : RecipeClassifier
    fs : FoldSet
    X : np.ndarray, float32, shape (n_records, n_features)
    X_aug : list of np.ndarray, each shaped as ``X``
    fold : Fold

    Returns
    -------
    RecipeClassifier
    """
    tr = training_rows(fs, fold, base.recipe.corpora)
    return clone(base).fit(X[tr], fs.y[tr], groups=fs.groups[tr], augmented=[Xa[tr] for Xa in X_aug])


def training_rows(fs: FoldSet, fold: Any, corpora: Sequence[str] | None) -> np.ndarray:
    """The rows a fold trains on: its training rows, on a corpus-level protocol only those of
    the recipe's training corpora.

    ``loco`` (and ``personal``, which uses its folds) holds out every corpus of the protocol
    in turn and tests on it, but trains only on the corpora the recipe names (``corpora`` in
    its TOML): a corpus the recipe leaves out of training is still a held-out test corpus,
    never a training one, so ``train evaluate`` scores exactly what ``train fit`` would build
    without the held-out corpus. Within-corpus protocols (``ravdess-6fold``, ``*-loso``,
    ``cross:``) name their corpora themselves and are unchanged.

    Parameters
    ----------
    fs : FoldSet
    fold : Fold
    corpora : sequence of str or None
        The recipe's training corpora; None keeps every training row.

    Returns
    -------
    np.ndarray, int64, shape (n_train,)
        Indices into ``fs.records``.

    Raises
    ------
    ValueError
        No training row is left (the recipe names none of the protocol's other corpora).
    """
    tr = fold.train_idx
    corpus_level = fs.protocol in ("loco", "personal") or fs.protocol.startswith("loco:")
    if corpora is None or not corpus_level:
        return tr
    tr = tr[np.isin(fs.corpora[tr], list(corpora))]
    if tr.size == 0:
        raise ValueError(
            f"{fs.protocol}: fold {fold.name} has no training rows from the recipe's corpora ({', '.join(corpora)})"
        )
    return tr


def scored_argmax(est: Any, fs: FoldSet, X_te: np.ndarray, te: np.ndarray, **kw: Any) -> tuple[np.ndarray, np.ndarray]:
    """Predictions restricted to the protocol's scored classes, and the true classes.

    Parameters
    ----------
    est : RecipeClassifier
        Fitted.
    fs : FoldSet
    X_te : np.ndarray, float32, shape (n_test, n_features)
        Features of the records ``te`` (clean or degraded).
    te : np.ndarray, int64, shape (n_test,)
        Record indices.
    **kw
        Passed to ``est.decision_function`` (``groups``, ``online``: the model object's
        :meth:`~ser_live.estimator.EmotionEstimator.decision_function`).

    Returns
    -------
    pred, true : np.ndarray, int64, shape (n_test,)
        Indices into ``fs.score_labels``: the argmax of the decision values over those
        classes only (the same subset for every test speaker).
    """
    score_idx = np.array([fs.labels.index(c) for c in fs.score_labels])
    to_score = np.full(len(fs.labels), -1)
    to_score[score_idx] = np.arange(len(score_idx))
    cols = np.array([list(est.classes_).index(c) for c in score_idx])
    dec = est.decision_function(X_te, **kw)
    return np.argmax(dec[:, cols], axis=1), to_score[fs.y[te]]


def _slug(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in s).strip("_")


def write_json_and_md(out_dir: str | Path, stem: str, data: dict, md_lines: list[str]) -> dict[str, Path]:
    """Write a report's ``<stem>.json`` (``data``, indented) and ``<stem>.md`` (the lines, one
    per line) into ``out_dir``, creating it: the one writer of every protocol's reports.

    Returns
    -------
    dict
        ``{"json": path, "md": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / f"{stem}.json", "md": out / f"{stem}.md"}
    paths["json"].write_text(json.dumps(data, indent=2))
    paths["md"].write_text("\n".join(md_lines) + "\n")
    return paths


def write_reports(result: EvaluationResult, out_dir: str | Path, *, command: str = "") -> dict[str, Path]:
    """Write ``<slug>.json``, ``<slug>.md`` and ``<slug>-confusion.png`` into ``out_dir``.

    Returns
    -------
    dict
        ``{"json": path, "md": path, "png": path}`` (png missing when matplotlib is absent).
    """
    mode = result.extra.get("session_mode")
    slug = _slug(
        f"{result.protocol}-{result.classifier}"
        + ("-aug" if result.augmented and "recipe" not in result.extra else "")
        + (f"-{mode}" if mode else "")
    )
    data = result.to_json()
    data["command"] = command
    lines = [
        f"# {result.protocol}: {result.classifier}" + (" + augmentation" if result.augmented else "")
        + (" + noise branch" if result.extra.get("noise_branch") else ""),
        "",
        f"Command: `{command}`" if command else "",
        "",
        *([f"Recipe ({result.extra.get('recipe_path', '')}): {result.extra['recipe_summary']}", ""] if "recipe_summary" in result.extra else []),
        *([f"Sessions: **{mode}** ({result.extra.get('session_mode_doc', '')}).", ""] if mode else []),
        f"**{result.headline()}** (percent, mean ± std over {len(result.folds)} folds; "
        "UA = unweighted average recall = balanced accuracy, WA = accuracy)",
        "",
        "| fold | UA | WA | macro-F1 | test utterances | chosen setting |",
        "|---|---|---|---|---|---|",
    ]
    for fsc in result.folds:
        lines.append(f"| {fsc.name} | {fsc.ua_pct:.1f} | {fsc.wa_pct:.1f} | {fsc.f1_pct:.1f} | {fsc.n_test} | {fsc.chosen} |")
    lines += ["", "## Per class (pooled over folds)", "", "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
    for lab, d in result.per_class.items():
        lines.append(f"| {lab} | {d['precision_pct']:.1f} | {d['recall_pct']:.1f} | {d['f1_pct']:.1f} | {d['support']} |")
    lines += ["", "## Confusion matrix (rows true, columns predicted, summed over folds)", ""]
    lines.append("| true \\ predicted | " + " | ".join(result.labels) + " |")
    lines.append("|---" * (len(result.labels) + 1) + "|")
    for lab, row in zip(result.labels, result.confusion):
        lines.append(f"| {lab} | " + " | ".join(str(int(v)) for v in row) + " |")
    if result.extra.get("dropped"):
        lines += ["", f"Records left out (label not in the protocol): {result.extra['dropped']}"]
    if result.extra.get("noise_branch"):
        lines += ["", "## Noise branch (ser_live/route.py), per fold", "",
                  "The cut on the SNR column fitted on the fold's training rows, the column's 5th-95th percentiles (dB) over "
                  "the clean training utterances and over their noise copies, and the share of this fold's test utterances "
                  "(clean) the branch classified.", "",
                  "| fold | column | cut dB | clean training p5-p95 | noise copies p5-p95 | test utterances to the branch |",
                  "|---|---|---|---|---|---|"]
        for name, d in result.extra["noise_branch"].items():
            lines.append(f"| {name} | {d['column']} | {d['cut_db']:.1f} | {d['clean_db_p5_p95'][0]:.1f}-{d['clean_db_p5_p95'][1]:.1f} | "
                         f"{d['noisy_db_p5_p95'][0]:.1f}-{d['noisy_db_p5_p95'][1]:.1f} | {d['test_routed_pct']:.1f} % |")
    paths = write_json_and_md(out_dir, slug, data, lines)
    out = Path(out_dir)
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
