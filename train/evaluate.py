"""Speaker-independent evaluation on the protocols of DESIGN.md, with reports.

For every fold of a protocol, the classifier (and every preprocessing step it contains: the
scaler, the model selection, the augmentation) is fitted on the training speakers only and
scored on the held-out speakers. Reported: UA (unweighted average recall = balanced
accuracy), WA (accuracy) and macro-F1 as mean and standard deviation over folds; per-class
precision, recall and F1 and a confusion matrix, both over the folds' predictions pooled.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .augment import DEFAULT_AUGMENTATIONS, Augmentation
from .engine import (
    SESSION_MODES, check_features, evaluate_folds, fit_fold, mode_results, score_label_indices, scored_argmax, session_modes, training_rows,
)
from .extract import extract_features, skipped_summary
from .protocols import FoldSet, make_folds
from .recipe import Recipe, RecipeClassifier, display_path
from .reports import write_json_and_md, write_reports
from .results import EvaluationResult, FoldScore, Scorer

__all__ = [
    "FoldScore", "EvaluationResult", "SESSION_MODES", "load_protocol_features", "run_protocol", "run_recipe",
    "training_rows", "fit_fold", "scored_argmax", "check_features", "write_json_and_md", "write_reports",
]

log = logging.getLogger(__name__)


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

    Files with no speech (:func:`train.extract.silence_reason`) are left out of ``folds``
    (logged as a warning, counted per corpus).
    """
    fs = make_folds(protocol, source, labels=labels, label_map=label_map)
    paths = [r.path for r in fs.records]
    X, rep = extract_features(
        paths, config=config, recipe=recipe, n_jobs=n_jobs, progress=progress, description=f"{protocol} features"
    )
    log.info("%s: %s", protocol, rep)
    if rep.skipped:
        log.warning("%s: %s", protocol, skipped_summary(rep.skipped, {r.path: r.corpus for r in fs.records}))
        silent = {p for p, _ in rep.skipped}
        keep = np.array([p not in silent for p in paths])
        fs, X = fs.subset(keep), X[keep]
        paths = [r.path for r in fs.records]
    X_aug: list[np.ndarray] = []
    augs = augmentations if augmentations is not None else (DEFAULT_AUGMENTATIONS if augment else ())
    for aug in augs:
        Xa, rep_a = extract_features(
            paths, config=config, recipe=recipe, augmentation=aug, n_jobs=n_jobs, progress=progress, description=f"augment: {aug}"
        )
        log.info("augmentation %s: %s", aug, rep_a)
        X_aug.append(Xa)
    return fs, X, X_aug


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

    Test utterances are scored on the protocol's scored classes (``FoldSet.score_labels``):
    when it was trained on more (a recipe's labels on ``loco``), by the argmax of its
    probabilities restricted to those classes, as :func:`run_recipe` scores a recipe.

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
        Feature extraction failed for some records (listed), or an unknown protocol; a
        classifier without ``predict_proba`` trained on more classes than are scored.
    """
    t0 = time.perf_counter()
    fs, X, X_aug = data or load_protocol_features(
        protocol, recipe=recipe, augment=augment, n_jobs=n_jobs, progress=progress, source=source
    )
    check_features(fs, X)
    y, speakers = fs.y, fs.groups
    score_idx = score_label_indices(fs)  # trained on more classes than scored (a recipe's labels on loco): argmax over these
    subset = list(fs.score_labels) != list(fs.labels)
    scorer = Scorer(list(fs.score_labels))
    for fold in fs.folds:
        tr, te = fold.train_idx, fold.test_idx
        Xtr, ytr, gtr = X[tr], y[tr], speakers[tr]
        if augment and X_aug:
            Xtr = np.vstack([Xtr] + [Xa[tr] for Xa in X_aug])
            ytr = np.concatenate([ytr] * (1 + len(X_aug)))
            gtr = np.concatenate([gtr] * (1 + len(X_aug)))
        est, chosen = fit(Xtr, ytr, gtr)
        proba = None
        if hasattr(est, "predict_proba"):  # the ROC curves (train/roc.py) of a classifier that gives scores
            from ser_live.fastpath import spread_labels

            proba = spread_labels(np.asarray(est.predict_proba(X[te]), dtype=np.float64), np.asarray(est.classes_), len(fs.labels))
        if not subset:
            sc = scorer.add(fold.name, y[te], np.asarray(est.predict(X[te])), chosen, proba=proba)
        elif proba is None:
            raise ValueError(f"{protocol}: {classifier_name} gives no probabilities, so it cannot be scored on "
                             f"{', '.join(fs.score_labels)} of the classes it was trained on")
        else:
            p_sub = proba[:, score_idx]
            p_sub[p_sub.sum(axis=1) <= 0] = 1.0  # all its mass on unscored classes (a tree): no preference among these
            p_sub = p_sub / p_sub.sum(axis=1, keepdims=True)
            position = np.full(len(fs.labels), -1)
            position[score_idx] = np.arange(len(score_idx))  # label index -> index into score_labels
            sc = scorer.add(fold.name, position[y[te]], np.argmax(p_sub, axis=1), chosen, proba=p_sub)
        log.info("%s %s: UA %.1f %%", protocol, fold.name, sc.ua_pct)
    return scorer.result(
        protocol=fs.protocol, classifier=classifier_name, augmented=augment, seconds=time.perf_counter() - t0,
        extra={"dropped": dict(fs.dropped), "n_records": len(fs.records)},
    )


def run_recipe(
    protocol: str,
    recipe: Recipe,
    *,
    n_jobs: int = 2,
    progress: bool = True,
    source: Any = None,
    seed: int = 0,
    calibrate: bool | None = None,
    data: tuple[FoldSet, np.ndarray, list[np.ndarray]] | None = None,
) -> dict[str, EvaluationResult]:
    """Evaluate a training recipe on a protocol; every step fitted inside the training folds.

    Test utterances are scored by the argmax of the decision values restricted to the
    protocol's scored classes (``FoldSet.score_labels``: the same subset for every test
    speaker). With a session normaliser each fold is scored in every session mode
    (:data:`SESSION_MODES`); without one, once (``"none"``).

    Parameters
    ----------
    protocol : str
    recipe : Recipe
    n_jobs, progress, source : see :func:`load_protocol_features`
    seed : int, default 0
        Seeds the order of the ``"online"`` scoring.
    calibrate : bool, optional
        Fit the temperature too (it never changes the argmax); default the recipe's
        ``calibration`` (the shipped model's probabilities: the ROC curves and the derived
        arousal / valence of the reports, :mod:`train.roc`). False: UA/WA only, faster.
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
    check_features(fs, X)
    for Xa in X_aug:
        check_features(fs, Xa)
    names = FeatureExtractor(recipe.feature_config()).feature_names()
    base = RecipeClassifier(recipe, names, n_jobs=n_jobs, calibrate=calibrate)
    scorers, branch = evaluate_folds(fs, X, X_aug, base, modes=session_modes(recipe), seed=seed, progress=progress, name=protocol)
    return mode_results(
        scorers, fs, classifier=recipe.name, augmented=bool(recipe.augmentations), t0=t0, seed=seed,
        head={"recipe": recipe.name, "recipe_path": display_path(recipe.path), "recipe_summary": recipe.summary(),
              "recipe_settings": recipe.settings_record()},
        tail={"train_corpora": list(recipe.corpora), **({"noise_branch": branch} if branch else {})},
    )
