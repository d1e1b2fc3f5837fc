"""Classifiers: the default SVM (chosen by speaker-grouped cross-validation inside the training
data, with calibrated probabilities) and the comparison set of ``python -m train compare``.

Everything saved in a model file is a plain scikit-learn object (skops loads it safely).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import GroupKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier

from .results import balanced_accuracy

__all__ = [
    "SVM_GRID",
    "svm_from_name",
    "SvmSelection",
    "select_svm",
    "fit_default_svm",
    "COMPARE_CLASSIFIERS",
    "GMMClassifier",
]

log = logging.getLogger(__name__)


_SVM_NAME_RE = re.compile(r"^(linear|rbf|logreg)\s+C=([0-9.eE+-]+)(?:\s+gamma=(scale|[0-9.eE+-]+/n))?$")


def svm_from_name(name: str, n_features: int) -> Any:
    """An unfitted SVM from a grid name (the names recipes and reports use).

    Parameters
    ----------
    name : str
        ``"linear C=<c>"`` (``LinearSVC``, one-vs-rest, squared hinge),
        ``"rbf C=<c> gamma=<g>/n"`` / ``"rbf C=<c> gamma=scale"`` (``SVC``, gamma ``g`` divided
        by the number of features, or scikit-learn's ``"scale"``), or ``"logreg C=<c>"``
        (multinomial ``LogisticRegression``, L2, lbfgs: a linear model like ``LinearSVC``, as
        cheap at inference, with a log-loss instead of the hinge). Classes are balanced.
        ``LinearSVC`` gets ``random_state=0``: liblinear's dual coordinate descent visits the
        rows in a random order, drawn unseeded from numpy's global generator, so two fits on
        the same rows differed in their last digits (a borderline utterance could change class).
    n_features : int
        Number of input columns (for ``gamma=<g>/n``).

    Returns
    -------
    sklearn.svm.LinearSVC, sklearn.svm.SVC or sklearn.linear_model.LogisticRegression

    Raises
    ------
    ValueError
        A name of another form.
    """
    m = _SVM_NAME_RE.match(name.strip())
    if not m:
        raise ValueError(f"SVM setting {name!r} is not 'linear C=<c>', 'logreg C=<c>' or 'rbf C=<c> gamma=<g>/n|scale'")
    kind, c, gamma = m.group(1), float(m.group(2)), m.group(3)
    if kind == "linear":
        return LinearSVC(C=c, class_weight="balanced", max_iter=10000, random_state=0)
    if kind == "logreg":
        if gamma is not None:
            raise ValueError(f"SVM setting {name!r}: gamma is for 'rbf' only")
        return LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    g: Any = "scale" if gamma in (None, "scale") else float(gamma[:-2]) / n_features
    return SVC(C=c, gamma=g, class_weight="balanced")


def _svm_candidates(n_features: int, names: tuple[str, ...] | None = None) -> dict[str, Callable[[], Any]]:
    """The SVM settings the grouped inner cross-validation chooses among (default
    :data:`SVM_GRID`).

    Linear SVMs (one-vs-rest, squared hinge; ``LinearSVC``) with small C suit the ~4700
    standardised, strongly correlated functionals (as ComParE + LinearSVC baselines do); RBF
    SVCs are included with gamma scaled by the number of features.
    """
    return {n: (lambda n=n: svm_from_name(n, n_features)) for n in (names or SVM_GRID)}


#: Names of the default candidate SVM settings (see :func:`svm_from_name`).
SVM_GRID: tuple[str, ...] = ("linear C=1e-4", "linear C=1e-3", "rbf C=30 gamma=0.1/n")


@dataclass
class SvmSelection:
    """Outcome of the inner grouped cross-validation.

    Attributes
    ----------
    best : str
        Name of the chosen setting.
    scores : dict[str, float]
        Mean inner UA (balanced accuracy, 0..1) of every setting.
    """

    best: str
    scores: dict[str, float] = field(default_factory=dict)


def _inner_splits(groups: np.ndarray, n_splits: int) -> list[tuple[np.ndarray, np.ndarray]]:
    n_groups = len(np.unique(groups))
    k = min(n_splits, n_groups)
    if k < 2:
        raise ValueError("speaker-grouped model selection needs at least two training speakers")
    idx = np.arange(len(groups))
    return list(GroupKFold(n_splits=k).split(idx, groups=groups))


def select_svm(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    n_splits: int = 3,
    candidates: tuple[str, ...] | None = None,
    n_jobs: int = 2,
    sample_weight: np.ndarray | None = None,
) -> SvmSelection:
    """Choose the SVM setting by cross-validation grouped by speaker, on training data only.

    Parameters
    ----------
    X : np.ndarray, float32, shape (n, n_features)
    y : np.ndarray, int, shape (n,)
    groups : np.ndarray, shape (n,)
        Speaker of each row; no speaker is on both sides of an inner split.
    n_splits : int, default 3
        Inner folds (fewer when there are fewer speakers).
    candidates : tuple of str, optional
        Subset of :data:`SVM_GRID`; a single candidate skips the search.
    n_jobs : int, default 2
    sample_weight : np.ndarray, float, shape (n,), optional
        Row weights for fitting (e.g. each speaker weighing the same); the inner score is
        the unweighted UA of the held-out speakers.

    Returns
    -------
    SvmSelection
    """
    from joblib import Parallel, delayed

    names = list(candidates or SVM_GRID)
    cands = _svm_candidates(X.shape[1], tuple(names))
    if len(names) == 1:
        return SvmSelection(best=names[0])
    if len(np.unique(groups)) < 2:
        # e.g. tess-loso trains on one speaker: nothing to group by, so no honest search
        log.warning("one training speaker: no speaker-grouped selection; using %s", names[0])
        return SvmSelection(best=names[0])
    splits = _inner_splits(np.asarray(groups), n_splits)

    def score(name: str, tr: np.ndarray, te: np.ndarray) -> float:
        fit_kw = {} if sample_weight is None else {"svm__sample_weight": sample_weight[tr]}
        m = Pipeline([("scaler", StandardScaler()), ("svm", cands[name]())]).fit(X[tr], y[tr], **fit_kw)
        return balanced_accuracy(y[te], m.predict(X[te]))

    jobs = [(n, tr, te) for n in names for tr, te in splits]
    vals = Parallel(n_jobs=n_jobs)(delayed(score)(n, tr, te) for n, tr, te in jobs)
    scores = {n: float(np.mean([v for (m, _, _), v in zip(jobs, vals) if m == n])) for n in names}
    best = max(names, key=lambda n: scores[n])
    log.info("inner speaker-grouped CV: %s -> %s", {k: round(v, 3) for k, v in scores.items()}, best)
    return SvmSelection(best=best, scores=scores)


def fit_default_svm(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    *,
    candidates: tuple[str, ...] | None = None,
    n_splits: int = 3,
    calibrate: bool = True,
    n_jobs: int = 2,
    select_rows: np.ndarray | None = None,
    sample_weight: np.ndarray | None = None,
) -> tuple[Pipeline, SvmSelection]:
    """The default recipe: standard scaler + SVM chosen by :func:`select_svm`, with
    probabilities from temperature scaling [1]_ of its decision values, the temperature fitted
    on speaker-grouped out-of-fold decision values.

    ``CalibratedClassifierCV(method="temperature", ensemble=False)`` fits one SVM on all the
    data and one temperature on out-of-fold decision values, replacing
    ``SVC(probability=True)`` (deprecated in scikit-learn 1.9). Temperature scaling is a
    softmax of the decision values divided by one number, so the most probable label is
    always the SVM's own decision: the label the evaluation protocols score is the label the
    shipped model gives. (One-vs-rest sigmoid calibration, tried first, did not keep that:
    fitted across three corpora its per-class slopes came out nearly flat and the class with
    the largest prior won almost every utterance.)

    Parameters
    ----------
    X, y, groups : see :func:`select_svm`
    candidates : tuple of str, optional
    n_splits : int, default 3
    calibrate : bool, default True
        False gives a pipeline without ``predict_proba`` (faster; for UA/WA only).
    n_jobs : int, default 2
    select_rows : np.ndarray of bool, shape (n,), optional
        Rows the setting is chosen on (e.g. the original utterances, leaving out their
        augmented copies, which makes the search four times cheaper); the final SVM and its
        calibration use all rows.
    sample_weight : np.ndarray, float, shape (n,), optional
        Row weights for every SVM fit (selection, final fit, calibration).

    Returns
    -------
    pipeline : sklearn.pipeline.Pipeline
        Fitted ``StandardScaler -> CalibratedClassifierCV(SVM)`` (or the bare SVM).
    selection : SvmSelection

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun, K. Weinberger, "On calibration of modern neural
       networks", ICML 2017 (temperature scaling).
    """
    m = np.ones(len(y), dtype=bool) if select_rows is None else np.asarray(select_rows, dtype=bool)
    sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sel = select_svm(
        X[m], y[m], np.asarray(groups)[m], n_splits=n_splits, candidates=candidates, n_jobs=n_jobs,
        sample_weight=None if sw is None else sw[m],
    )
    svm = svm_from_name(sel.best, X.shape[1])
    if calibrate:
        if len(np.unique(groups)) >= 2:
            splits: Any = _inner_splits(np.asarray(groups), n_splits)
        else:  # one speaker: stratified folds are the best available
            from sklearn.model_selection import StratifiedKFold

            splits = list(StratifiedKFold(n_splits, shuffle=True, random_state=0).split(X, y))
        clf: Any = CalibratedClassifierCV(svm, method="temperature", cv=splits, ensemble=False)
    else:
        clf = svm
    pipe = Pipeline([("scaler", StandardScaler()), ("svm", clf)]).fit(X, y, **({} if sw is None else {"svm__sample_weight": sw}))
    if calibrate:
        # the fitted state is kept; the stored splits (index arrays) are not needed any more
        pipe.named_steps["svm"].cv = n_splits
    return pipe, sel


class GMMClassifier(ClassifierMixin, BaseEstimator):
    """One Gaussian mixture per class (the classic GMM emotion recogniser), after PCA.

    Parameters
    ----------
    n_components : int, default 4
        Mixture components per class (diagonal covariances).
    n_pca : int, default 64
        Dimensions kept by PCA (fitted on the training data) before the mixtures.
    random_state : int, default 0
    """

    def __init__(self, n_components: int = 4, n_pca: int = 64, random_state: int = 0) -> None:
        self.n_components = n_components
        self.n_pca = n_pca
        self.random_state = random_state

    def fit(self, X: np.ndarray, y: np.ndarray) -> "GMMClassifier":
        self.scaler_ = StandardScaler().fit(X)
        Z = self.scaler_.transform(X)
        self.pca_ = PCA(n_components=min(self.n_pca, Z.shape[0] - 1, Z.shape[1]), random_state=self.random_state).fit(Z)
        Z = self.pca_.transform(Z)
        self.classes_ = np.unique(y)
        self.gmms_ = []
        self.log_prior_ = []
        for c in self.classes_:
            Zc = Z[y == c]
            k = max(1, min(self.n_components, len(Zc) // 10))
            self.gmms_.append(
                GaussianMixture(k, covariance_type="diag", reg_covar=1e-3, random_state=self.random_state).fit(Zc)
            )
            self.log_prior_.append(np.log(len(Zc) / len(Z)))
        return self

    def _loglik(self, X: np.ndarray) -> np.ndarray:
        Z = self.pca_.transform(self.scaler_.transform(X))
        return np.column_stack([g.score_samples(Z) + p for g, p in zip(self.gmms_, self.log_prior_)])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        ll = self._loglik(X)
        ll -= ll.max(axis=1, keepdims=True)
        p = np.exp(ll)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._loglik(X), axis=1)]


def _tutorial_mlp() -> MLPClassifier:
    # The widespread tutorial's classifier, verbatim settings, no scaler.
    return MLPClassifier(
        alpha=0.01, batch_size=256, epsilon=1e-08, hidden_layer_sizes=(300,),
        learning_rate="adaptive", max_iter=500, random_state=0,
    )


#: ``name -> (factory, feature recipe)`` for ``python -m train compare``. The feature recipe
#: is ``"ser-live"`` (our extractor) or ``"tutorial"`` (see :mod:`train.tutorial`).
COMPARE_CLASSIFIERS: dict[str, tuple[Callable[[], Any], str]] = {
    "decision tree": (lambda: DecisionTreeClassifier(class_weight="balanced", random_state=0), "ser-live"),
    "random forest": (
        lambda: RandomForestClassifier(n_estimators=300, class_weight="balanced", n_jobs=2, random_state=0),
        "ser-live",
    ),
    "MLP": (
        lambda: make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(256,), alpha=1.0, max_iter=400, early_stopping=True, random_state=0)),
        "ser-live",
    ),
    "k-NN": (lambda: make_pipeline(StandardScaler(), PCA(n_components=128, random_state=0), KNeighborsClassifier(n_neighbors=10, weights="distance")), "ser-live"),
    "GMM per class": (lambda: GMMClassifier(), "ser-live"),
    "logistic regression": (
        lambda: make_pipeline(StandardScaler(), LogisticRegression(C=1e-3, class_weight="balanced", max_iter=3000)),
        "ser-live",
    ),
    "tutorial recipe (MFCC+chroma+mel means, MLP)": (_tutorial_mlp, "tutorial"),
}


def clone_fresh(est: Any) -> Any:
    """A fresh unfitted copy (``sklearn.base.clone``)."""
    return clone(est)
