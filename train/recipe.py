"""The training recipe as one file: ``train/recipes/<model>.toml``, read by ``fit``,
``evaluate`` and the model card.

A recipe holds the corpora, the label set (and how other labels map into it), the feature
subset, the session normaliser's parameters, the augmentations, the classifier grid and the
calibration. :class:`RecipeClassifier` is the recipe as a scikit-learn estimator: every
step (normaliser prior, scaler, setting chosen by speaker-grouped CV, temperature) is fitted
on the data given to :meth:`RecipeClassifier.fit` only, so a protocol fold fits it on its
training speakers.

Example recipe (``train/recipes/ser-default.toml``)::

    name = "ser-default"
    corpora = ["ravdess", "tess", "emodb", "emotiontts_kor"]
    labels = ["neutral", "happy", "sad", "angry"]
    [label_map]                 # training labels mapped before ``labels`` filters
    [features]
    include = []                # feature-name prefixes kept (empty: all)
    exclude = []
    voice_quality = false       # true: extract the eGeMAPS-like ``voice`` group too
    hop_length = 160            # samples between analysis frames (10 ms at 16 kHz)
    [normalizer]
    enabled = true
    prior_weight = 10.0         # utterances
    session_cap = 10.0          # the most utterances a session's own statistics count as
    scale = true
    mode = "replace"            # or "append"
    absolute = []               # feature-name prefixes kept absolute (not normalised)
    [[augmentations]]
    rt60_s = 0.5
    [noise_branch]              # optional: a second SVM for utterances heard in noise
    column = "rms_db_p5_95"     # the feature read as the utterance's SNR (dB)
    [[noise_branch.augmentations]]
    snr_db = 10.0               # its training copies (besides the clean rows)
    [classifier]
    grid = ["linear C=1e-4", "linear C=1e-3"]
    inner_splits = 3
    inner_cv = "speaker"        # or "corpus": leave-one-corpus-out inner CV
    speaker_balance = false     # true: every training speaker weighs the same
    corpus_balance = false      # true: every training corpus weighs the same
    [calibration]
    method = "temperature"

The recipe data (:class:`Recipe` and its parts, :func:`load_recipe` with ``base = ...``
and ``--set`` overrides) live in :mod:`train.recipe_spec` and are imported from here too.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.pipeline import Pipeline

from ser_live.columns import FeatureSubset
from ser_live.estimator import EmotionEstimator
from ser_live.normalize import SessionNormalizer
from ser_live.route import NoiseRoute

from .recipe_spec import (  # noqa: F401 - the recipe data live in recipe_spec; imported from here too
    RECIPES_DIR,
    NoiseBranchSpec,
    NormalizerSpec,
    Recipe,
    display_path,
    load_recipe,
    select_columns,
)

__all__ = ["Recipe", "NormalizerSpec", "NoiseBranchSpec", "load_recipe", "display_path", "RecipeClassifier", "corpus_of_groups",
           "balance_weights", "corpus_folds_unusable", "RECIPES_DIR", "select_columns"]

log = logging.getLogger(__name__)


def balance_weights(groups: np.ndarray, recipe: Any) -> np.ndarray | None:
    """The SVM's sample weights of the training rows under the recipe's balance setting:
    every speaker (``classifier.speaker_balance``) or every corpus
    (``classifier.corpus_balance``) summing to the same weight, the rows of one group
    weighing the same.

    Parameters
    ----------
    groups : np.ndarray, object, shape (n,)
        Speaker group of each original training row (:func:`train.corpora.speaker_group`).
    recipe : Recipe

    Returns
    -------
    np.ndarray, float64, shape (n,), or None
        Mean 1; None when neither setting is on (every row weighs 1).
    """
    if recipe.corpus_balance:
        keys = corpus_of_groups(groups, recipe.corpora).astype(str)
    elif recipe.speaker_balance:
        keys = np.asarray(groups).astype(str)
    else:
        return None
    _, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv.ravel()]
    return w / w.mean()


def corpus_of_groups(groups: np.ndarray, corpora: Any) -> np.ndarray:
    """The corpus of each speaker group (``"<corpus>-<speaker>"``), for a leave-one-corpus-out inner CV.

    Parameters
    ----------
    groups : np.ndarray, object, shape (n,)
        Speaker groups (:func:`train.corpora.speaker_group`).
    corpora : sequence of str
        The recipe's corpora: names or paths of one's own, whose names may hold ``-``
        (``"my-calls"``), so the longest one a group starts with names it.

    Returns
    -------
    np.ndarray, object, shape (n,)
        The corpus name per row; the text before the first ``-`` for a group of none of them.
    """
    from .corpora import corpus_name

    names = sorted({corpus_name(c) for c in corpora}, key=len, reverse=True)
    return np.array([next((n for n in names if str(g).startswith(n + "-")), str(g).split("-", 1)[0]) for g in groups],
                    dtype=object)


def corpus_folds_unusable(corpus: np.ndarray, y: np.ndarray) -> str | None:
    """Why leave-one-corpus-out folds cannot fit this training set, or None when they can.

    Leaving one corpus out needs at least two corpora, and every class must keep training
    rows when any one corpus is left out: out-of-fold decision values (for the temperature)
    need all classes in every fold's SVM. A single-corpus protocol (``ravdess-6fold``) fails
    the first; a 7-class set whose only "surprised" utterances are RAVDESS's and TESS's fails
    the second once one of the two is a ``loco`` test corpus.

    Parameters
    ----------
    corpus : np.ndarray, object, shape (n,)
        Corpus of each training row (:func:`corpus_of_groups`).
    y : np.ndarray, shape (n,)
        Class of each row.

    Returns
    -------
    str or None
        The reason, in words (for the log), or None.
    """
    corpus, y = np.asarray(corpus), np.asarray(y)
    names = sorted(set(corpus.tolist()))
    if len(names) < 2:
        return f"{len(names)} training corpus"
    classes = set(y.tolist())
    for c in names:
        missing = classes - set(y[corpus != c].tolist())
        if missing:
            return f"without {c} no training rows of {', '.join(sorted(map(str, missing)))}"
    return None


class RecipeClassifier(ClassifierMixin, BaseEstimator):
    """A recipe as a scikit-learn classifier: session normaliser -> feature subset ->
    standard scaler -> SVM chosen by speaker-grouped CV -> temperature scaling.

    Parameters
    ----------
    recipe : Recipe
    feature_names : list of str
        Names of the input columns (:meth:`FeatureExtractor.feature_names`).
    n_jobs : int, default 2
    calibrate : bool, optional
        Override the recipe's calibration (False: faster evaluation; the argmax is the same,
        since temperature scaling never moves it).

    Attributes
    ----------
    estimator_ : ser_live.estimator.EmotionEstimator
        The fitted model object: what ``train fit`` stores and every protocol scores
        (:meth:`decision_function` and :meth:`predict_proba` delegate to it).
    normalizer_ : SessionNormalizer or None
        ``estimator_.normalizer``.
    pipeline_ : sklearn.pipeline.Pipeline
        ``[select] -> scaler -> svm``, on the normaliser's output (the main classifier).
    chosen_ : str
        The grid setting the inner CV chose.
    classes_ : np.ndarray
    route_ : NoiseRoute or None
        The noise branch (a recipe with ``[noise_branch]``), else None.
    route_stats_ : dict
        With a noise branch: ``column``, ``cut_db``, ``svm`` (the branch's grid setting), the
        5th/95th percentiles (dB) of the column over the clean training rows
        (``clean_db_p5_p95``) and over the noise copies (``noisy_db_p5_p95``), and the percent
        of each on the wrong side of the cut.
    """

    def __init__(self, recipe: Recipe, feature_names: list[str], *, n_jobs: int = 2, calibrate: bool | None = None) -> None:
        self.recipe = recipe
        self.feature_names = feature_names
        self.n_jobs = n_jobs
        self.calibrate = calibrate

    def make_normalizer(self) -> SessionNormalizer | None:
        """The recipe's (unfitted) session normaliser, or None."""
        spec = self.recipe.normalizer
        if not spec.enabled:
            return None
        cols = None
        if spec.absolute:
            absolute = set(select_columns(self.feature_names, spec.absolute).tolist())
            cols = np.array([i for i in range(len(self.feature_names)) if i not in absolute], dtype=np.int64)
        return SessionNormalizer(
            prior_weight=spec.prior_weight, session_cap=spec.session_cap, scale=spec.scale, columns=cols, mode=spec.mode
        )

    def _output_columns(self, norm: SessionNormalizer | None) -> np.ndarray | None:
        """Columns of the normaliser's output the recipe keeps (None: all)."""
        r = self.recipe
        if not (r.include or r.exclude):
            return None
        keep = select_columns(self.feature_names, r.include, r.exclude)
        if norm is None or norm.mode != "append":
            return keep
        pos = {c: j for j, c in enumerate(norm.columns_.tolist())}
        extra = [len(self.feature_names) + pos[c] for c in keep.tolist() if c in pos]
        return np.concatenate([keep, np.array(extra, dtype=np.int64)])

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        *,
        groups: np.ndarray,
        augmented: list[np.ndarray] | tuple = (),
    ) -> "RecipeClassifier":
        """Fit every step on these rows only.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_features)
            Original training utterances.
        y : np.ndarray, int, shape (n,)
        groups : np.ndarray, shape (n,)
            Speaker (split group) of each row: the normaliser's sessions and the inner CV's
            groups.
        augmented : list of np.ndarray, each shape (n, n_features)
            Augmented copies of ``X`` (row-aligned), one per entry of
            :attr:`Recipe.all_augmentations`, in that order; each copy of a speaker is
            normalised as its own session (another room/microphone). The recipe's own
            augmentations train every classifier; the noise branch's train only the branch.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            ``augmented`` of another length than :attr:`Recipe.all_augmentations`; an
            unknown ``inner_cv``; a noise-branch column the features do not have.
        """
        r = self.recipe
        augmented = [np.asarray(a) for a in augmented]
        if len(augmented) != len(r.all_augmentations):
            raise ValueError(f"recipe {r.name} needs {len(r.all_augmentations)} augmented copies, got {len(augmented)}")
        if r.noise_branch is not None and r.noise_branch.column not in self.feature_names:
            raise ValueError(f"noise branch column {r.noise_branch.column!r} is not a feature name")
        n_shared = len(r.augmentations)
        groups = np.asarray(groups, dtype=object)
        Xs = [np.asarray(X)] + augmented[:n_shared]
        gs = [groups] + [np.array([f"{g}#aug{k}" for g in groups], dtype=object) for k in range(1, len(Xs))]
        Xt, gt = np.vstack(Xs), np.concatenate(gs)
        yt = np.concatenate([np.asarray(y)] * len(Xs))
        norm = self.make_normalizer()
        if norm is not None:
            norm.fit(Xt, groups=gt)
        model = EmotionEstimator(norm, None)
        Zt = model.normalize(Xt, groups=gt)
        cols = self._output_columns(norm)
        folds = self._inner_folds(groups, np.asarray(y))
        starts = self._start_copies(model, np.asarray(X), groups)
        pipe, sel = self._fit_svm(np.vstack([Zt, *starts]) if starts else Zt,
                                  np.concatenate([yt] + [np.asarray(y)] * len(starts)),
                                  groups, len(Xs) + len(starts), cols, folds)
        model.classifier = pipe
        self.route_ = None
        if r.noise_branch is not None:
            Xn = augmented[n_shared:]
            gn = [np.array([f"{g}#noise{k}" for g in groups], dtype=object) for k in range(1, len(Xn) + 1)]
            Zn = [model.normalize(a, groups=g) for a, g in zip(Xn, gn)]
            Za = np.vstack([Zt, *Zn])
            ya = np.concatenate([yt] + [np.asarray(y)] * len(Xn))
            branch, sel_n = self._fit_svm(Za, ya, groups, len(Xs) + len(Xn), cols, folds)
            col = self.feature_names.index(r.noise_branch.column)
            route = NoiseRoute(pipe, branch, column=col, column_name=r.noise_branch.column, prefit=True)
            noise_copy = np.repeat([False, True], [len(Zt), len(Za) - len(Zt)])
            route.fit(Za, ya, snr_db=route.snr_db(np.vstack([Xt, *Xn])), noise_copy=noise_copy)
            model.classifier = route
            self.route_ = route
            self.route_stats_ = {"column": r.noise_branch.column, "cut_db": round(route.threshold_db_, 2),
                                 "svm": sel_n.best, **route.stats_}
            log.info("noise branch: %s, routed below %s = %.1f dB", sel_n.best, r.noise_branch.column,
                     route.threshold_db_)
        self.estimator_ = model
        self.normalizer_ = norm
        self.pipeline_ = pipe
        self.selection_ = sel
        self.chosen_ = sel.best
        self.classes_ = pipe.classes_
        return self

    def _start_copies(self, model: EmotionEstimator, X: np.ndarray, groups: np.ndarray) -> list[np.ndarray]:
        """The normaliser's ``start_copies`` (:class:`NormalizerSpec`): row-aligned copies of
        the original rows ``X``, each normalised as the first utterances of a live session
        (every speaker's rows cut into seeded random sessions of ``start_length``)."""
        spec = self.recipe.normalizer
        if not spec.enabled or spec.start_copies <= 0:
            return []
        names = groups.astype(str)
        out = []
        for c in range(spec.start_copies):
            rng = np.random.default_rng(1000 + c)
            chunk = np.empty(len(groups), dtype=object)
            for g in np.unique(names):
                for j, i in enumerate(rng.permutation(np.flatnonzero(names == g))):
                    chunk[i] = f"{g}#start{c}.{j // spec.start_length}"
            out.append(model.normalize(X, groups=chunk, online=2000 + c))  # each session in a seeded order
        return out

    def _inner_folds(self, groups: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, int]:
        """The inner CV's fold groups (one per original row) and number of splits, by the
        recipe's ``inner_cv``; sets :attr:`inner_cv_used_` ("corpus" or "speaker", the
        latter also where a corpus cannot be left out, :func:`corpus_folds_unusable`)."""
        if self.recipe.inner_cv not in ("speaker", "corpus"):
            raise ValueError(f"inner_cv must be 'speaker' or 'corpus', got {self.recipe.inner_cv!r}")
        self.inner_cv_used_ = "speaker"
        if self.recipe.inner_cv == "corpus":
            corpus = corpus_of_groups(groups, self.recipe.corpora)
            why = corpus_folds_unusable(corpus, y)
            if why is None:
                self.inner_cv_used_ = "corpus"
                return corpus, len(set(corpus.tolist()))
            log.info("inner_cv = corpus: %s; %d-fold speaker-grouped CV instead", why, self.recipe.inner_splits)
        return groups, self.recipe.inner_splits

    def _fit_svm(self, Xt: np.ndarray, yt: np.ndarray, groups: np.ndarray, n_copies: int,
                 cols: np.ndarray | None, folds: tuple[np.ndarray, int]) -> tuple[Pipeline, Any]:
        """``[select] -> scaler -> svm`` on normalised rows: ``n_copies`` row-aligned copies
        of the ``len(groups)`` original rows, the originals first; the grid setting is scored
        on the originals only, over ``folds`` (:meth:`_inner_folds`)."""
        from .classifiers import fit_default_svm

        select_rows = np.zeros(len(yt), dtype=bool)
        select_rows[: len(groups)] = True
        calibrate = (self.recipe.calibration != "none") if self.calibrate is None else self.calibrate
        w = balance_weights(groups, self.recipe)
        weight = None if w is None else np.concatenate([w] * n_copies)
        cv_groups, n_splits = folds
        pipe, sel = fit_default_svm(
            Xt if cols is None else Xt[:, cols],
            yt,
            np.concatenate([cv_groups] * n_copies),
            candidates=self.recipe.grid,
            n_splits=n_splits,
            calibrate=calibrate,
            n_jobs=self.n_jobs,
            select_rows=select_rows,
            sample_weight=weight,
        )
        if cols is not None:
            pipe = Pipeline([("select", FeatureSubset(cols).fit(Xt[:1])), *pipe.steps])
        return pipe, sel

    # ------------------------------------------------------------------ inference
    def decision_function(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """Decision values of the model object (:meth:`EmotionEstimator.decision_function`).

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_features)
        groups : np.ndarray, shape (n,), optional
            Session of each row (None: each row its own session).
        online : None, True or int
            An int: score as a live user gets it, within each group rows in a seeded random
            order, each normalised by the running statistics of the rows so far.

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)
        """
        return self.estimator_.decision_function(X, groups=groups, online=online)

    def predict_proba(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """Probabilities of the model object, shape (n, n_labels) (keywords as
        :meth:`decision_function`)."""
        return self.estimator_.predict_proba(X, groups=groups, online=online)

    def noise_branch_pct(self, X: np.ndarray) -> float | None:
        """Percent of the rows of ``X`` (raw features, shape (n, n_features)) the noise branch
        classifies; None without a noise branch."""
        if self.route_ is None or len(X) == 0:
            return None
        return round(100 * float(np.mean(self.estimator_.noisy_rows(X))), 2)

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Class indices, shape (n,) (keywords as :meth:`decision_function`)."""
        return self.classes_[np.argmax(self.decision_function(X, **kw), axis=1)]
