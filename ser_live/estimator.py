"""The model object: one fitted scikit-learn estimator that turns features into probabilities.

Every path that scores utterances (the live recogniser, ``ser-live predict``, ``python -m
train evaluate``, ``room`` and ``personal``) goes through :class:`EmotionEstimator` (or a
:class:`Recalibrated` wrapper of it, a personal profile), so they cannot drift apart::

    raw features X (n, n_features)
      -> session normaliser   (SessionNormalizer: offline groups, a live SessionState, or
                               a simulated live session per group)
      -> classifier           (a Pipeline [FeatureSubset] -> StandardScaler -> calibrated SVM,
                               or a NoiseRoute holding two such pipelines and the SNR cut,
                               which reads the SNR column of the *raw* features)
      -> probabilities over the model's labels (n, n_labels)
      [-> Recalibrated: softmax(W log p + b), a person's profile]

This is the only module that applies the session normaliser's ``transform``, the noise
route's routing and the profile's recalibration (``tests/test_layout.py`` checks it).

Fitting: :meth:`EmotionEstimator.fit` fits its components in place, as
:class:`sklearn.pipeline.Pipeline` fits its steps; the training recipes
(``train/recipe.py:RecipeClassifier``) choose the SVM setting by a speaker-grouped grid search
first and assemble the fitted parts with :class:`~ser_live.route.NoiseRoute` ``prefit=True``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .fastpath import (
    LOG_FLOOR,
    CompiledEstimator,
    LinearHead,
    NormalizerArrays,
    RouteArrays,
    adapt_log_proba,
    normalize_rows,
    routed_snr,
    spread_labels,
    online_transform,
    softmax,
)
from .normalize import SessionNormalizer, SessionState
from .route import NoiseRoute, decision_values

__all__ = [
    "EmotionEstimator",
    "Recalibrated",
    "adapt_log_proba",
    "compile_head",
    "fit_score_affine",
    "online_transform",
]


def fit_score_affine(S: np.ndarray, y: np.ndarray, *, reg: float, full: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Fit ``softmax(S @ W.T + b)`` to labels, penalised towards ``W = I``, ``b = 0``.

    Minimises ``mean_i CE(softmax(W s_i + b), y_i) + reg * (||W - I||_F^2 + ||b||^2)``
    with L-BFGS (the loss is convex in ``W`` and ``b``); Platt/temperature-style
    recalibration (J. Platt 1999; C. Guo et al., ICML 2017) with a prior on the parameters.

    Parameters
    ----------
    S : np.ndarray, float, shape (n, n_labels)
        Log-probabilities of the calibration utterances.
    y : np.ndarray, int, shape (n,)
        Label indices.
    reg : float
        Penalty weight (>= 0).
    full : bool, default True
        Fit ``W`` too; False fits ``b`` only (``W = I``).

    Returns
    -------
    (W, b) : (np.ndarray, np.ndarray)
        float64, shapes (n_labels, n_labels) and (n_labels,).
    """
    from scipy.optimize import minimize

    S = np.asarray(S, dtype=np.float64)
    n, c = S.shape
    Y = np.zeros((n, c))
    Y[np.arange(n), np.asarray(y, dtype=int)] = 1.0
    eye = np.eye(c)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if full:
            return theta[: c * c].reshape(c, c), theta[c * c :]
        return eye, theta

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = unpack(theta)
        P = softmax(S @ W.T + b)
        ce = -np.sum(Y * np.log(np.maximum(P, LOG_FLOOR))) / n
        G = (P - Y) / n  # dCE/dZ
        gb = G.sum(axis=0) + 2 * reg * b
        val = ce + reg * float(b @ b)
        if not full:
            return val, gb
        gW = G.T @ S + 2 * reg * (W - eye)
        val += reg * float(np.sum((W - eye) ** 2))
        return val, np.concatenate([gW.ravel(), gb])

    theta0 = np.concatenate([eye.ravel(), np.zeros(c)]) if full else np.zeros(c)
    res = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    return unpack(res.x)


def compile_head(classifier: Any) -> LinearHead:
    """A fitted classifier pipeline as arrays (:class:`~ser_live.fastpath.LinearHead`).

    Understood: an optional :class:`~ser_live.columns.FeatureSubset`, then an optional
    :class:`~sklearn.preprocessing.StandardScaler`, then a :class:`~sklearn.svm.LinearSVC` or
    :class:`~sklearn.linear_model.LogisticRegression`, bare or inside a
    :class:`~sklearn.calibration.CalibratedClassifierCV` with ``method="temperature"``
    (``ensemble`` either way): what ``train/classifiers.py`` fits.

    Parameters
    ----------
    classifier : sklearn classifier or Pipeline
        Fitted.

    Returns
    -------
    LinearHead

    Raises
    ------
    NotImplementedError
        Another step or classifier (a kernel SVM, a forest, ...): such a model is scored by
        the scikit-learn chain (:meth:`EmotionEstimator.reference_proba`) and cannot be
        exported.
    """
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    from .columns import FeatureSubset

    steps = [s for _, s in classifier.steps] if hasattr(classifier, "steps") else [classifier]
    cols = mean = scale = None
    for step in steps[:-1]:
        if isinstance(step, FeatureSubset) and cols is None and mean is None and scale is None:
            cols = np.asarray(step.columns_, dtype=np.int64)
        elif type(step) is StandardScaler and mean is None and scale is None:
            mean = np.asarray(step.mean_, dtype=np.float64) if step.with_mean else None
            scale = np.asarray(step.scale_, dtype=np.float64) if step.with_std else None
        else:
            raise NotImplementedError(f"no array form for a {type(step).__name__} step")
    final = steps[-1]
    if isinstance(final, CalibratedClassifierCV):
        if final.method != "temperature":
            raise NotImplementedError(f"no array form for {final.method!r} calibration")
        models = [c.estimator for c in final.calibrated_classifiers_]
        beta = [float(c.calibrators[0].beta_) for c in final.calibrated_classifiers_]
        kind = "temperature"
    else:
        models, beta = [final], [1.0]
        kind = "logistic" if isinstance(final, LogisticRegression) else "linear"
    if not all(type(m) in (LinearSVC, LogisticRegression) for m in models):
        raise NotImplementedError(f"no array form for {', '.join(sorted({type(m).__name__ for m in models}))}")
    coef = np.stack([np.asarray(m.coef_, dtype=np.float64) for m in models])
    intercept = np.stack([np.broadcast_to(np.asarray(m.intercept_, dtype=np.float64), (coef.shape[1],))
                          for m in models])
    return LinearHead(kind, np.asarray(final.classes_, dtype=np.int64), coef, intercept,
                      np.asarray(beta, dtype=np.float64), cols, mean, scale)


class EmotionEstimator(ClassifierMixin, BaseEstimator):
    """Session normaliser -> classifier (a pipeline, or a :class:`NoiseRoute` of two) ->
    probabilities over the model's labels.

    Parameters
    ----------
    normalizer : SessionNormalizer, optional
        None: features go to the classifier as they are (float32).
    classifier : sklearn classifier or NoiseRoute
        Fitted by :meth:`fit` (or before, by a recipe's grid search); its ``classes_`` are
        integer label indices.
    n_labels : int, optional
        Width of :meth:`predict_proba`; None: ``max(classes_) + 1``.

    Attributes
    ----------
    classes_ : np.ndarray, int
        The classifier's classes (label indices).
    """

    def __init__(self, normalizer: SessionNormalizer | None = None, classifier: Any = None, *,
                 n_labels: int | None = None) -> None:
        self.normalizer = normalizer
        self.classifier = classifier
        self.n_labels = n_labels

    # ------------------------------------------------------------------ fitting
    def fit(self, X: np.ndarray, y: np.ndarray, *, groups: np.ndarray | None = None,
            noise_copy: np.ndarray | None = None, **fit_params: Any) -> "EmotionEstimator":
        """Fit the normaliser on the clean rows, then the classifier on the normalised rows.

        Parameters
        ----------
        X : np.ndarray, float32, shape (n, n_features)
            Raw training rows.
        y : np.ndarray, int, shape (n,)
            Label indices.
        groups : np.ndarray, shape (n,), optional
            Session of each row (each copy of a speaker its own session).
        noise_copy : np.ndarray, bool, shape (n,), optional
            Noise-mixed copies: only a :class:`NoiseRoute` classifier's branch learns from
            them (normalised with their own groups, not part of the normaliser's prior).
        **fit_params
            Passed to the classifier's ``fit``.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Noise copies without a :class:`NoiseRoute`; the components' own errors.
        """
        X = np.asarray(X, dtype=np.float32)
        y = np.asarray(y)
        noise = np.zeros(len(X), dtype=bool) if noise_copy is None else np.asarray(noise_copy, dtype=bool)
        if noise.any() and not isinstance(self.classifier, NoiseRoute):
            raise ValueError("noise copies need a NoiseRoute classifier")
        if self.normalizer is not None:
            g = None if groups is None else np.asarray(groups)
            self.normalizer.fit(X[~noise], groups=None if g is None else g[~noise])
        Z = self.normalize(X, groups=groups)
        if isinstance(self.classifier, NoiseRoute):
            self.classifier.fit(Z, y, snr_db=self.classifier.snr_db(X), noise_copy=noise, **fit_params)
        else:
            self.classifier.fit(Z, y, **fit_params)
        return self

    # ------------------------------------------------------------------ parts
    @property
    def classes_(self) -> np.ndarray:
        return np.asarray(self.classifier.classes_)

    @property
    def noise_route(self) -> NoiseRoute | None:
        """The classifier when it is a :class:`NoiseRoute`, else None."""
        return self.classifier if isinstance(self.classifier, NoiseRoute) else None

    @property
    def main_classifier(self) -> Any:
        """The clean-speech classifier (the route's ``estimator``, or the classifier)."""
        route = self.noise_route
        return self.classifier if route is None else route.estimator

    def new_session(self) -> SessionState | None:
        """Running statistics of one live session (None without a normaliser)."""
        return None if self.normalizer is None else self.normalizer.new_session()

    def with_prior(self, mean: np.ndarray, var: np.ndarray) -> "EmotionEstimator":
        """A shallow copy whose normaliser starts from another prior (a person's).

        Parameters
        ----------
        mean, var : np.ndarray, float64, shape (n_features,)

        Returns
        -------
        EmotionEstimator
            Shares the classifier; ``self`` unchanged (a copy without a normaliser when
            ``self`` has none).
        """
        out = copy.copy(self)
        if self.normalizer is not None:
            norm = copy.copy(self.normalizer)
            norm.prior_mean_ = np.asarray(mean, dtype=np.float64)
            norm.prior_var_ = np.asarray(var, dtype=np.float64)
            out.normalizer = norm
        return out

    # ------------------------------------------------------------------ inference
    def compile(self) -> CompiledEstimator:
        """The fitted chain as plain arrays (:class:`~ser_live.fastpath.CompiledEstimator`):
        what every prediction goes through, and what ``python -m train export`` saves.

        Returns
        -------
        CompiledEstimator
            Built from the fitted components each call (cheap: it holds their arrays), so a
            component replaced or refitted is never scored stale.

        Raises
        ------
        NotImplementedError
            A classifier without an array form (:func:`compile_head`).
        """
        route = self.noise_route
        main = compile_head(self.main_classifier)
        branch, arrays = None, None
        if route is not None:
            branch = compile_head(route.branch)
            arrays = RouteArrays(int(route.column), str(route.column_name), float(route.threshold_db_))
        n_labels = int(main.classes.max()) + 1 if self.n_labels is None else int(self.n_labels)
        return CompiledEstimator(self._normalizer_arrays(), main, n_labels, branch, arrays)

    def _normalizer_arrays(self) -> NormalizerArrays | None:
        return None if self.normalizer is None else self.normalizer.compiled()

    def _chain(self) -> Any:
        """The compiled chain, or ``self``'s scikit-learn chain for a classifier without an
        array form."""
        try:
            return self.compile()
        except NotImplementedError:
            return _ReferenceChain(self)

    def normalize(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """The normaliser's output (the classifier's input): float32, shape (n,
        n_features_out), of raw rows ``X`` (n, n_features), by
        :func:`ser_live.fastpath.normalize_rows` (``groups``, ``online`` and errors there:
        None offline, ``groups`` the sessions or each row its own; a :class:`SessionState`
        live; True or an int a simulated live session per group)."""
        return normalize_rows(self._normalizer_arrays(), X, groups=groups, online=online)

    def noisy_rows(self, X: np.ndarray, route_db: np.ndarray | None = None) -> np.ndarray | None:
        """Which raw rows the noise branch classifies.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
        route_db : np.ndarray, float, shape (n,), optional
            Per row the SNR (dB) to route by instead of the row's own column (NaN: its own;
            :func:`ser_live.fastpath.routed_snr`).

        Returns
        -------
        np.ndarray, bool, shape (n,), or None without a noise branch
        """
        route = self.noise_route
        if route is None:
            return None
        return route.noisy(routed_snr(route, X, route_db))

    def decision_function(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None,
                          route_db: np.ndarray | None = None) -> np.ndarray:
        """Decision values (log-probabilities for a calibrated classifier), from the compiled
        chain.

        Parameters
        ----------
        X, groups, online
            As :meth:`normalize`.

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)
            Columns in :attr:`classes_` order; rows the noise route sends to the branch are
            the branch's values.
        """
        return self._chain().decision_function(X, groups=groups, online=online, route_db=route_db)

    def predict_proba(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None,
                      route_db: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities over the model's labels, from the compiled chain
        (:meth:`compile`).

        Parameters
        ----------
        X, groups, online
            As :meth:`normalize`.
        route_db : np.ndarray, float, shape (n,), optional
            As :meth:`noisy_rows`.

        Returns
        -------
        np.ndarray, float64, shape (n, n_labels)
            Column ``i`` is label index ``i`` (0 for a label the classifier never saw);
            rows sum to 1.
        """
        return self._chain().predict_proba(X, groups=groups, online=online, route_db=route_db)

    def reference_proba(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None,
                        route_db: np.ndarray | None = None) -> np.ndarray:
        """:meth:`predict_proba` computed by the scikit-learn objects themselves (the
        classifiers' own ``predict_proba``), kept to test the compiled chain against
        (``tests/test_fastpath.py``) and to score a classifier without an array form.

        Parameters, returns
            As :meth:`predict_proba`.
        """
        return _ReferenceChain(self).predict_proba(X, groups=groups, online=online, route_db=route_db)

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Class indices, shape (n,) (keywords as :meth:`normalize`); the argmax of
        :meth:`decision_function`."""
        return self.classes_[np.argmax(self.decision_function(X, **kw), axis=1)]


class _ReferenceChain:
    """An :class:`EmotionEstimator` scored by its scikit-learn objects (the reference the
    compiled chain is tested against; the path of a classifier without an array form)."""

    def __init__(self, est: EmotionEstimator) -> None:
        self.est = est

    def _scores(self, kind: str, X: np.ndarray, kw: dict) -> np.ndarray:
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        kw = dict(kw)
        route_db = kw.pop("route_db", None)
        Z = self.est.normalize(X, **kw)
        route = self.est.noise_route
        if route is not None:
            return getattr(route, kind)(Z, snr_db=routed_snr(route, X, route_db))
        if kind == "decision_function":
            return decision_values(self.est.classifier, Z)
        return np.asarray(self.est.classifier.predict_proba(Z), dtype=np.float64)

    def decision_function(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        return self._scores("decision_function", X, kw)

    def predict_proba(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        classes = np.asarray(self.est.classes_, dtype=int)
        n_labels = int(classes.max()) + 1 if self.est.n_labels is None else int(self.est.n_labels)
        return spread_labels(self._scores("predict_proba", X, kw), classes, n_labels)


class Recalibrated(ClassifierMixin, BaseEstimator):
    """A recalibration of an :class:`EmotionEstimator`: ``p' = softmax(W log p + b)``.

    A personal profile (:mod:`ser_live.profile`) is this around the model's estimator with the
    person's prior in its normaliser (:meth:`EmotionEstimator.with_prior`).

    Parameters
    ----------
    estimator : EmotionEstimator
        Fitted.
    reg : float, default 1.0
        Penalty towards the identity (:func:`fit_score_affine`).
    full : bool, default True
        Fit ``W`` (affine); False fits the bias only.

    Attributes
    ----------
    W_ : np.ndarray, float64, shape (n_labels, n_labels)
    b_ : np.ndarray, float64, shape (n_labels,)
    """

    def __init__(self, estimator: Any = None, *, reg: float = 1.0, full: bool = True) -> None:
        self.estimator = estimator
        self.reg = reg
        self.full = full

    @classmethod
    def frozen(cls, estimator: Any, W: np.ndarray, b: np.ndarray) -> "Recalibrated":
        """A recalibration with given parameters (a loaded profile's), no fitting.

        Parameters
        ----------
        estimator : EmotionEstimator
        W : np.ndarray, float64, shape (n_labels, n_labels)
        b : np.ndarray, float64, shape (n_labels,)

        Returns
        -------
        Recalibrated
        """
        out = cls(estimator)
        out.W_ = np.asarray(W, dtype=np.float64)
        out.b_ = np.asarray(b, dtype=np.float64)
        return out

    def fit(self, X: np.ndarray, y: np.ndarray, **kw: Any) -> "Recalibrated":
        """Fit ``W``, ``b`` on labelled rows as the estimator scores them.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
        y : np.ndarray, int, shape (n,)
            Label indices.
        **kw
            ``groups`` / ``online`` for the estimator (default: each row its own session).

        Returns
        -------
        self
        """
        S = np.log(np.maximum(self.estimator.predict_proba(X, **kw), LOG_FLOOR))
        self.W_, self.b_ = fit_score_affine(S, y, reg=self.reg, full=self.full)
        return self

    @property
    def classes_(self) -> np.ndarray:
        return self.estimator.classes_

    @property
    def normalizer(self) -> SessionNormalizer | None:
        """The wrapped estimator's normaliser."""
        return self.estimator.normalizer

    @property
    def noise_route(self) -> NoiseRoute | None:
        return self.estimator.noise_route

    @property
    def main_classifier(self) -> Any:
        return self.estimator.main_classifier

    def new_session(self) -> SessionState | None:
        """A live session of the wrapped estimator (:meth:`EmotionEstimator.new_session`):
        the recalibration acts on probabilities, not on the session statistics."""
        return self.estimator.new_session()

    def noisy_rows(self, X: np.ndarray, route_db: np.ndarray | None = None) -> np.ndarray | None:
        """Which raw rows, float (n, n_features), the noise branch classifies: bool (n,), or
        None without a noise branch; ``route_db`` (dB, float (n,), optional) as
        :meth:`EmotionEstimator.noisy_rows`."""
        return self.estimator.noisy_rows(X, route_db)

    def compile(self) -> CompiledEstimator:
        """The estimator's compiled chain with this recalibration
        (:meth:`EmotionEstimator.compile`).

        Raises
        ------
        NotImplementedError
            A classifier without an array form.
        """
        return self.estimator.compile().recalibrated(self.W_, self.b_)

    def predict_proba(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """The estimator's probabilities, recalibrated (keywords as
        :meth:`EmotionEstimator.normalize`).

        Returns
        -------
        np.ndarray, float64, shape (n, n_labels)
        """
        return self._adapt(self.estimator.predict_proba(X, **kw))

    def reference_proba(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """:meth:`predict_proba` from the scikit-learn chain
        (:meth:`EmotionEstimator.reference_proba`)."""
        return self._adapt(self.estimator.reference_proba(X, **kw))

    def _adapt(self, P: np.ndarray) -> np.ndarray:
        return adapt_log_proba(np.log(np.maximum(P, LOG_FLOOR)), self.W_, self.b_)

    def decision_function(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, shape (n, n_labels), float64."""
        return np.log(np.maximum(self.predict_proba(X, **kw), LOG_FLOOR))

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Label indices, shape (n,)."""
        return np.argmax(self.predict_proba(X, **kw), axis=1)
