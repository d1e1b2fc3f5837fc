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

from .normalize import SessionNormalizer, SessionState
from .route import NoiseRoute, decision_values

__all__ = [
    "EmotionEstimator",
    "Recalibrated",
    "adapt_log_proba",
    "fit_score_affine",
    "online_transform",
]

#: Floor under probabilities before their logarithm.
LOG_FLOOR = 1e-12


def _softmax(S: np.ndarray) -> np.ndarray:
    S = S - S.max(axis=1, keepdims=True)
    E = np.exp(S)
    return E / E.sum(axis=1, keepdims=True)


def adapt_log_proba(S: np.ndarray, W: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``softmax(S @ W.T + b)``.

    Parameters
    ----------
    S : np.ndarray, float, shape (n, n_labels)
        Log-probabilities.
    W : np.ndarray, float64, shape (n_labels, n_labels)
    b : np.ndarray, float64, shape (n_labels,)

    Returns
    -------
    np.ndarray, float64, shape (n, n_labels)
        Adapted probabilities, rows summing to 1.
    """
    return _softmax(np.asarray(S, dtype=np.float64) @ W.T + b)


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
        P = _softmax(S @ W.T + b)
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


def online_transform(norm: SessionNormalizer, X: np.ndarray, groups: np.ndarray | None, *,
                     seed: int | None) -> np.ndarray:
    """Normalise rows as live sessions would: per group, each row with the running statistics
    of the rows before it and itself.

    Parameters
    ----------
    norm : SessionNormalizer
        Fitted.
    X : np.ndarray, float, shape (n, n_features)
    groups : np.ndarray, shape (n,), optional
        Session of each row; None: all rows are one session.
    seed : int, optional
        Within each group the rows arrive in a random order drawn from
        ``np.random.default_rng(seed)`` (groups in sorted order, one generator); None: in
        row order.

    Returns
    -------
    np.ndarray, float32, shape (n, n_features_out)
        In the input row order.
    """
    X = np.asarray(X)
    groups = np.zeros(X.shape[0], dtype=int) if groups is None else np.asarray(groups)
    rng = None if seed is None else np.random.default_rng(seed)
    out = np.zeros((X.shape[0], norm.n_features_out), dtype=np.float32)
    for g in sorted(set(groups.tolist()), key=str):
        idx = np.flatnonzero(groups == g)
        state = norm.new_session()
        for i in (idx if rng is None else rng.permutation(idx)):
            state.update(X[i])
            out[i] = state.transform(X[i])
    return out


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
    def normalize(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """The normaliser's output (the classifier's input).

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
            Raw features.
        groups : np.ndarray, shape (n,), optional
            Session of each row; None: each row its own session (offline), or all rows one
            session (``online`` True or a seed).
        online : None, SessionState, True or int
            None: offline, a session's rows normalised with all of its rows. A
            :class:`SessionState`: the live case, each row normalised with that session's
            running statistics as they are (the caller updates them; ``groups`` must be
            None). True: each group a live session in row order (update, then normalise).
            An int: the same in a seeded random order per group (:func:`online_transform`),
            the offline-online evaluation.

        Returns
        -------
        np.ndarray, float32, shape (n, n_features_out)

        Raises
        ------
        ValueError
            A live session with ``groups``; the normaliser's errors (width, non-finite).
        """
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        if self.normalizer is None:
            return X
        if isinstance(online, SessionState):
            if groups is not None:
                raise ValueError("give a live session or offline groups, not both")
            return np.stack([online.transform(x) for x in X])
        if online is None or online is False:
            return self.normalizer.transform(X, groups=groups)
        seed = None if online is True else int(online)
        return online_transform(self.normalizer, X, groups, seed=seed)

    def noisy_rows(self, X: np.ndarray) -> np.ndarray | None:
        """Which raw rows the noise branch classifies.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)

        Returns
        -------
        np.ndarray, bool, shape (n,), or None without a noise branch
        """
        route = self.noise_route
        if route is None:
            return None
        return route.noisy(route.snr_db(np.atleast_2d(np.asarray(X))))

    def decision_function(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """Decision values (log-probabilities for a classifier without them).

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
        return self._scores("decision_function", X, groups=groups, online=online)

    def _scores(self, kind: str, X: np.ndarray, **kw: Any) -> np.ndarray:
        """``kind`` ("decision_function" or "predict_proba") of the classifier on the
        normalised rows, routed per row; shape (n, n_classes), float64."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        Z = self.normalize(X, **kw)
        route = self.noise_route
        if route is not None:
            return getattr(route, kind)(Z, snr_db=route.snr_db(X))
        if kind == "decision_function":
            return decision_values(self.classifier, Z)
        return np.asarray(self.classifier.predict_proba(Z), dtype=np.float64)

    def predict_proba(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """Class probabilities over the model's labels.

        Parameters
        ----------
        X, groups, online
            As :meth:`normalize`.

        Returns
        -------
        np.ndarray, float64, shape (n, n_labels)
            Column ``i`` is label index ``i`` (0 for a label the classifier never saw);
            rows sum to 1.
        """
        proba = self._scores("predict_proba", X, groups=groups, online=online)
        classes = np.asarray(self.classes_, dtype=int)
        n_labels = int(classes.max()) + 1 if self.n_labels is None else int(self.n_labels)
        out = np.zeros((proba.shape[0], n_labels))
        out[:, classes] = proba
        out /= np.maximum(out.sum(axis=1, keepdims=True), LOG_FLOOR)
        return out

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Class indices, shape (n,) (keywords as :meth:`normalize`); the argmax of
        :meth:`decision_function`."""
        return self.classes_[np.argmax(self.decision_function(X, **kw), axis=1)]


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
        return self.estimator.new_session()

    def noisy_rows(self, X: np.ndarray) -> np.ndarray | None:
        return self.estimator.noisy_rows(X)

    def predict_proba(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """The estimator's probabilities, recalibrated (keywords as
        :meth:`EmotionEstimator.normalize`).

        Returns
        -------
        np.ndarray, float64, shape (n, n_labels)
        """
        P = self.estimator.predict_proba(X, **kw)
        return adapt_log_proba(np.log(np.maximum(P, LOG_FLOOR)), self.W_, self.b_)

    def decision_function(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Log of :meth:`predict_proba`, shape (n, n_labels), float64."""
        return np.log(np.maximum(self.predict_proba(X, **kw), LOG_FLOOR))

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Label indices, shape (n,)."""
        return np.argmax(self.predict_proba(X, **kw), axis=1)
