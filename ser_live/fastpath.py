"""The model object compiled to plain numpy arrays: the one inference path, no scikit-learn.

:class:`~ser_live.estimator.EmotionEstimator` is fitted with scikit-learn (and saved with
skops, the training artefact); scoring goes through :class:`CompiledEstimator`, the same
chain as arrays::

    raw features X (n, n_features), float32
      -> session normaliser   (NormalizerArrays: training prior mean/variance, shrinkage
                               settings; offline groups, a live SessionState, or a simulated
                               live session per group)
      -> per head (LinearHead: the main classifier, and the noise branch)
         column subset -> scaler (x - mean) / scale -> linear decision values
         X @ coef.T + intercept -> temperature calibration softmax(beta * d)
         (or the multinomial logistic regression's softmax(d))
      -> noise route: rows whose SNR column (raw features) is below the cut take the
         branch head's probabilities
      -> probabilities over the model's labels (n, n_labels)
      [-> recalibration softmax(W log p + b): a person's profile]

Every step repeats scikit-learn's arithmetic in the same dtypes and order (the scaler works
in place on float32 rows as :class:`sklearn.preprocessing.StandardScaler` does; decision
values in float64 as :class:`sklearn.svm.LinearSVC`; the calibration as
``sklearn.calibration._TemperatureScaling``), so the probabilities equal the scikit-learn
chain's to rounding (``tests/test_fastpath.py`` holds them to 1e-9 on corpus features for
every model in ``models/``).

The arrays are saved as one ``.npz`` beside the ``.skops`` (:func:`ser_live.arrays_file.save_npz`, written by
``python -m train fit`` and ``python -m train export MODEL``) and read back with
``allow_pickle=False`` (:func:`ser_live.arrays_file.read_npz`): a file of numbers and one JSON header cannot run
code, and loading it needs numpy only. This module imports numpy alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "FAST_FORMAT_VERSION",
    "CompiledEstimator",
    "LinearHead",
    "NormalizerArrays",
    "RouteArrays",
    "SessionState",
    "adapt_log_proba",
    "online_transform",
    "read_npz",
    "routed_snr",
    "save_npz",
]

#: Floor under probabilities before their logarithm.
LOG_FLOOR = 1e-12

#: Floor under variances of the session normaliser.
VAR_FLOOR = 1e-8

#: ``"replace"``: output the normalised features; ``"append"``: output the absolute features
#: followed by the normalised copies of ``columns`` (2 x, or n + len(columns), columns).
NORMALIZE_MODES: tuple[str, ...] = ("replace", "append")


def softmax(S: np.ndarray) -> np.ndarray:
    """Row-wise softmax of scores ``S`` (float64, shape (n, k)), computed as
    ``sklearn.utils.extmath.softmax`` does: float64 (n, k), rows summing to 1."""
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
    return softmax(np.asarray(S, dtype=np.float64) @ W.T + b)


def spread_labels(proba: np.ndarray, classes: np.ndarray, n_labels: int) -> np.ndarray:
    """Probabilities over a classifier's classes as columns of all labels, rows renormalised.

    Parameters
    ----------
    proba : np.ndarray, float64, shape (n, n_classes)
    classes : np.ndarray, int, shape (n_classes,)
        Label index of each column.
    n_labels : int

    Returns
    -------
    np.ndarray, float64, shape (n, n_labels)
        Column ``i`` is label ``i`` (0 for a label the classifier never saw).
    """
    out = np.zeros((proba.shape[0], n_labels))
    out[:, classes] = proba
    out /= np.maximum(out.sum(axis=1, keepdims=True), LOG_FLOOR)
    return out


# ---------------------------------------------------------------------- session normaliser
def check_rows(X: np.ndarray, n_features: int | None) -> np.ndarray:
    """Raw feature rows as float64, checked.

    Parameters
    ----------
    X : np.ndarray, float, shape (n, n_features)
    n_features : int or None
        Required width; None: any.

    Returns
    -------
    np.ndarray, float64, shape (n, n_features)

    Raises
    ------
    ValueError
        Not a non-empty 2-D array, another width, or NaN/infinite values.
    """
    return np.asarray(_checked_rows(X, n_features), dtype=np.float64)


def _checked_rows(X: np.ndarray, n_features: int | None) -> np.ndarray:
    """:func:`check_rows`' checks, the rows returned float32 when they are float32 (their
    float64 copy is finite exactly when they are), float64 otherwise."""
    X = np.asarray(X)
    if X.dtype != np.float32:
        X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (n_utterances, n_features), got shape {X.shape}")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"X has {X.shape[1]} features; the normaliser was fitted on {n_features}")
    if not np.isfinite(X).all():
        raise ValueError("X holds NaN or infinite values (failed feature extraction?)")
    return X


def group_codes(groups: np.ndarray, n_rows: int) -> tuple[np.ndarray, int]:
    """Integer codes of session names: shape (n_rows,) int, and the number of sessions."""
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise ValueError(f"groups must have shape ({n_rows},), got {groups.shape}")
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1 if n_rows else 0


def group_moments(X: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and (biased) variance per group: shapes (g,), (g, d), (g, d), float64."""
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    sums = np.zeros((n_groups, X.shape[1]))
    np.add.at(sums, codes, X)
    means = sums / np.maximum(counts, 1)[:, None]
    sq = np.zeros_like(sums)
    np.add.at(sq, codes, (X - means[codes]) ** 2)
    return counts, means, sq / np.maximum(counts, 1)[:, None]


@dataclass
class NormalizerArrays:
    """A fitted :class:`~ser_live.normalize.SessionNormalizer` as arrays (formula in
    :mod:`ser_live.normalize`).

    Attributes
    ----------
    prior_mean_ : np.ndarray, float64, shape (n_features,)
    prior_var_ : np.ndarray, float64, shape (n_features,)
    columns_ : np.ndarray, int64, shape (k,)
    prior_weight : float
        Utterances the prior counts as.
    session_cap : float or None
        The most utterances a session's own statistics count as.
    scale : bool
    mode : {"replace", "append"}
    """

    prior_mean_: np.ndarray
    prior_var_: np.ndarray
    columns_: np.ndarray
    prior_weight: float
    session_cap: float | None = None
    scale: bool = True
    mode: str = "replace"
    #: What :meth:`transform` without groups computes once (:meth:`_own_session_terms`).
    _own: tuple | None = field(default=None, init=False, repr=False, compare=False)
    #: What every :meth:`shrink` and :meth:`apply` read alike (:meth:`_fixed_terms`).
    _fixed: tuple | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def n_features_in_(self) -> int:
        return int(self.prior_mean_.shape[0])

    @property
    def n_features_out(self) -> int:
        """Output columns: ``n_features`` (``"replace"``) or ``n_features + k`` (``"append"``)."""
        return self.n_features_in_ + (self.columns_.size if self.mode == "append" else 0)

    def settings(self) -> dict:
        """The JSON-able settings (the arrays apart)."""
        return {"prior_weight": float(self.prior_weight),
                "session_cap": None if self.session_cap is None else float(self.session_cap),
                "scale": bool(self.scale), "mode": str(self.mode)}

    def transform(self, X: np.ndarray, *, groups: np.ndarray | None = None) -> np.ndarray:
        """Normalise each group with all of its rows' statistics, shrunk to the prior.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
        groups : np.ndarray, shape (n,), optional
            Session of each row; None makes each row its own session (``n = 1``).

        Returns
        -------
        np.ndarray, float32, shape (n, n_features_out)
            Raises ValueError for another number of features, non-finite values or
            ``groups`` of the wrong shape.
        """
        X = check_rows(X, self.n_features_in_)
        own = self._own_session_terms() if groups is None else None
        if own:
            return self._apply_own_sessions(X, own)
        if groups is None:
            counts = np.ones(X.shape[0])
            means = X
            variances = np.zeros_like(means)
            codes = np.arange(X.shape[0])
        else:
            codes, n_groups = group_codes(groups, X.shape[0])
            counts, means, variances = group_moments(X, codes, n_groups)
        mu, var = self.shrink(counts[:, None], means, variances)
        return self.apply(X, mu[codes], var[codes])

    def _own_session_terms(self) -> tuple:
        """What :meth:`shrink` gives every row that is its own session (one utterance, mean
        the row, variance 0) alike, computed once: ``(total, sd)``, float64 ``(1, 1)`` and
        ``(1, k)`` (``sqrt`` of the floored variance; None without ``scale``); ``()`` when
        the count is not 1 after the cap, ``n + w <= 0`` or in ``"append"`` mode
        (:meth:`transform` then takes the general path). With :meth:`_fixed_terms` (the
        prior's weighted mean), these are :meth:`shrink`'s own results on one row, so
        :meth:`_apply_own_sessions` gives its values to the bit.
        """
        if self._own is None:
            w = float(self.prior_weight)
            one = np.ones((1, 1))
            n = one if self.session_cap is None else np.minimum(one, float(self.session_cap))
            d = self.n_features_in_
            if n[0, 0] != 1.0 or not (n + w)[0, 0] > 0 or self.mode != "replace":
                self._own = ()
            else:
                _, var = self.shrink(one, np.zeros((1, d)), np.zeros((1, d)))  # the variance of every such row
                self._own = (np.maximum(n + w, 1e-12), np.sqrt(var) if self.scale else None)
        return self._own

    def _apply_own_sessions(self, X: np.ndarray, own: tuple) -> np.ndarray:
        """:meth:`transform` of checked float64 rows ``X`` (n, n_features), each its own
        session, with :meth:`_own_session_terms` ``own``: float32 (n, n_features_out).

        The same operations on the same values as :meth:`shrink` then :meth:`apply` with a
        count of 1 (``1 * mean`` is the mean exactly, so the product is left out), minus the
        per-row work on what every row shares.
        """
        total, sd = own
        every, w_mean, _ = self._fixed_terms()
        xc = X if every else X[..., self.columns_]
        z = xc - (xc + w_mean) / total
        if sd is not None:
            z = z / sd
        if every:  # each column written by z: the output is z (in the C order of X.copy())
            return z.astype(np.float32, order="C")
        out = X.copy()
        out[..., self.columns_] = z
        return out.astype(np.float32)

    def new_session(self) -> "SessionState":
        """Running statistics of one live session, starting from the prior alone."""
        return SessionState(self)

    def shrink(self, n: np.ndarray | float, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Session statistics shrunk towards the prior (``mu``, ``var`` of the formula), for
        the normalised columns.

        Parameters
        ----------
        n : float or np.ndarray, float, shape (..., 1)
            Utterances each session's statistics rest on.
        mean, var : np.ndarray, float64, shape (..., n_features)
            Each session's mean and (population) variance of every raw column.

        Returns
        -------
        (np.ndarray, np.ndarray)
            ``mu`` and ``var``, float64, shapes (..., k), k = ``columns_.size``; the
            variance floored at :data:`VAR_FLOOR`.
        """
        w = float(self.prior_weight)
        if self.session_cap is not None:
            n = np.minimum(n, float(self.session_cap))
        c = self.columns_
        every, w_mean, w_var = self._fixed_terms()
        if not (every and mean.ndim == 1 and mean.shape[0] == c.size):
            # (a live session's statistics, of all columns in order: the gathers would be copies;
            # rows of them are gathered as before, which sets the results' memory order)
            mean, var = mean[..., c], var[..., c]
        total = np.maximum(n + w, 1e-12)
        mu = (n * mean + w_mean) / total
        v = (n * var + w_var) / total
        # n = 0 and w = 0: nothing to go on; fall back on the prior
        empty = np.asarray(n + w) <= 0
        if empty.any():
            mu = np.where(empty, self.prior_mean_[c], mu)
            v = np.where(empty, self.prior_var_[c], v)
        return mu, np.maximum(v, VAR_FLOOR)

    def _fixed_terms(self) -> tuple[bool, np.ndarray, np.ndarray]:
        """Whether ``columns_`` is every column in order, and ``w * prior_mean_[columns_]``,
        ``w * prior_var_[columns_]`` (float64, shape (k,)), ``w`` the prior weight: the
        products :meth:`shrink` formed on every call, formed once (the arrays and settings
        do not change after construction)."""
        if self._fixed is None:
            w, c = float(self.prior_weight), self.columns_
            self._fixed = (bool(np.array_equal(c, np.arange(self.n_features_in_))),
                           w * self.prior_mean_[c], w * self.prior_var_[c])
        return self._fixed

    def restricted(self, read: np.ndarray) -> "NormalizerArrays":
        """This normaliser on the raw columns ``read`` alone (``"replace"`` mode only).

        Every step of the formula works column by column, so the restricted normaliser's
        output column ``j`` equals this one's column ``read[j]`` to the bit (the live path
        normalises only the columns the heads and route read,
        :meth:`CompiledEstimator.read_columns`).

        Parameters
        ----------
        read : np.ndarray, int64, shape (r,)
            Sorted, distinct raw column indices.

        Returns
        -------
        NormalizerArrays
            Of ``r`` features; its ``columns_`` are the positions in ``read`` of this one's
            normalised columns that ``read`` holds.

        Raises
        ------
        ValueError
            ``"append"`` mode (its output interleaves raw and normalised copies).
        """
        if self.mode != "replace":
            raise ValueError("only a 'replace' normaliser can be restricted to columns")
        read = np.asarray(read, dtype=np.int64)
        pos = np.searchsorted(read, self.columns_)
        inside = (pos < read.size) & (read[np.minimum(pos, read.size - 1)] == self.columns_)
        return replace(self, prior_mean_=self.prior_mean_[read], prior_var_=self.prior_var_[read],
                       columns_=pos[inside].astype(np.int64))

    def apply(self, X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        """``z = (x - mu) / sqrt(var)`` on the normalised columns (``x - mu`` alone without
        ``scale``).

        Parameters
        ----------
        X : np.ndarray, float, shape (..., n_features)
        mu, var : np.ndarray, float64, shape (..., k)
            From :meth:`shrink`, k = ``columns_.size``.

        Returns
        -------
        np.ndarray, float32, shape (..., n_features_out)
            The other columns as they were (``"replace"``), or ``X`` followed by the k
            normalised copies (``"append"``).
        """
        c = self.columns_
        # all columns in order, replaced: the gather is a copy, the output z in X.copy()'s order
        every = self.mode == "replace" and self._fixed_terms()[0] and X.shape[-1] == c.size
        z = (X if every else X[..., c]) - mu
        if self.scale:
            z = z / np.sqrt(var)
        if self.mode == "append":
            return np.concatenate([X, z], axis=-1).astype(np.float32)
        if every:  # every column replaced by z: the output is z (in the C order of X.copy())
            return z.astype(np.float32, order="C")
        out = X.copy()
        out[..., c] = z
        return out.astype(np.float32)


class SessionState:
    """Online running statistics of one live session (use ``new_session()`` of the
    normaliser or the model).

    Call :meth:`update` with each utterance's features as it is heard, then
    :meth:`transform` it: the utterance is normalised with the statistics of the utterances
    heard so far, itself included, shrunk towards the prior (formula in
    :mod:`ser_live.normalize`).

    Parameters
    ----------
    normalizer : NormalizerArrays or SessionNormalizer
        Fitted (a ``SessionNormalizer`` is compiled).

    Attributes
    ----------
    n_utterances : int
        Utterances the running statistics rest on.
    """

    def __init__(self, normalizer: Any) -> None:
        self._norm = normalizer if isinstance(normalizer, NormalizerArrays) else normalizer.compiled()
        d = self._norm.n_features_in_
        self.n_utterances = 0
        self._mean = np.zeros(d)
        self._m2 = np.zeros(d)
        self._restricted: tuple[np.ndarray, NormalizerArrays] | None = None  # (read, normaliser on them)

    def update(self, x: np.ndarray) -> None:
        """Add one utterance to the running statistics (Welford's algorithm).

        Parameters
        ----------
        x : np.ndarray, float, shape (n_features,)

        Raises
        ------
        ValueError
            Wrong shape or non-finite values (the state is left unchanged).
        """
        x = self._check(x)
        self.n_utterances += 1
        delta = x - self._mean
        self._mean += delta / self.n_utterances
        self._m2 += delta * (x - self._mean)

    def remove(self, x: np.ndarray) -> None:
        """Take one utterance that :meth:`update` added back out of the running statistics
        (Welford's update reversed: with ``n`` utterances left, ``mean -= (x - mean) / n``
        and ``m2 -= (x - mean_before) * (x - mean_after)``). With speaker turns, an utterance
        the re-clustering moves to another speaker leaves its first speaker's session this
        way (:meth:`~ser_live.speakers.SpeakerSessions.follow`).

        Parameters
        ----------
        x : np.ndarray, float, shape (n_features,)
            The features as they were added.

        Raises
        ------
        ValueError
            Wrong shape, non-finite values, or a session that holds no utterance (the state
            is left unchanged).
        """
        x = self._check(x)
        if self.n_utterances < 1:
            raise ValueError("the session holds no utterance to remove")
        n = self.n_utterances - 1
        if n == 0:
            self._mean = np.zeros_like(self._mean)
            self._m2 = np.zeros_like(self._m2)
        else:
            before = self._mean - (x - self._mean) / n
            self._m2 = np.maximum(self._m2 - (x - before) * (x - self._mean), 0.0)  # rounding: never below 0
            self._mean = before
        self.n_utterances = n

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Normalise one utterance with the running statistics shrunk to the prior.

        Parameters
        ----------
        x : np.ndarray, float, shape (n_features,)

        Returns
        -------
        np.ndarray, float32, shape (n_features_out,)
            As one row of the offline ``transform``.
        """
        x = self._check(x)
        mu, v = self._shrunk(self._norm)
        return self._norm.apply(x, mu, v)

    def _shrunk(self, norm: NormalizerArrays, read: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The running mean and variance (of the columns ``read``, all without it) shrunk to
        ``norm``'s prior (:meth:`NormalizerArrays.shrink`)."""
        n = float(self.n_utterances)
        mean, m2 = (self._mean, self._m2) if read is None else (self._mean[read], self._m2[read])
        var = m2 / n if n else np.zeros_like(m2)
        return norm.shrink(n, mean, var)

    def transform_read(self, X: np.ndarray, read: np.ndarray | None = None) -> np.ndarray:
        """Normalise rows with the running statistics as they are, on the columns ``read``
        alone: column ``j`` of the output equals column ``read[j]`` of :meth:`transform` of
        each row, to the bit (the statistics are shrunk once for all rows, not per row).

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
            Raw rows (all columns: each row is checked whole, as :meth:`transform` does).
        read : np.ndarray, int64, shape (r,), optional
            Sorted, distinct raw columns (:meth:`CompiledEstimator.read_columns`); None:
            every column, the output then is :meth:`transform` of each row, stacked.

        Returns
        -------
        np.ndarray, float32, shape (n, r) (``(n, n_features_out)`` without ``read``)

        Raises
        ------
        ValueError
            A row of the wrong width or with non-finite values; an ``"append"`` normaliser.
        """
        X = np.atleast_2d(np.asarray(X))
        if X.dtype != np.float32:  # (float32 rows are converted after the gather below: the same values)
            X = np.asarray(X, dtype=np.float64)
        if X.ndim == 2 and X.shape[1] == self._norm.n_features_in_:
            if not np.isfinite(X).all():  # all rows at once: the one error a row of this width can have
                raise ValueError("features hold NaN or infinite values")
        else:
            for x in X:
                self._check(x)
        if read is None:
            mu, v = self._shrunk(self._norm)
            return self._norm.apply(np.asarray(X, dtype=np.float64), mu, v)
        cached = self._restricted
        if cached is None or cached[0] is not read:
            cached = self._restricted = (read, self._norm.restricted(read))
        norm = cached[1]
        mu, v = self._shrunk(norm, read)
        return norm.apply(np.asarray(X[:, read], dtype=np.float64), mu, v)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = self._norm.n_features_in_
        if x.shape != (d,):
            raise ValueError(f"expected one utterance's features, shape ({d},), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features hold NaN or infinite values")
        return x


def online_transform(norm: NormalizerArrays, X: np.ndarray, groups: np.ndarray | None, *,
                     seed: int | None) -> np.ndarray:
    """Normalise rows as live sessions would: per group, each row with the running statistics
    of the rows before it and itself.

    Parameters
    ----------
    norm : NormalizerArrays
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


def normalize_rows(norm: NormalizerArrays | None, X: np.ndarray, *, groups: np.ndarray | None = None,
                   online: Any = None) -> np.ndarray:
    """The session normaliser's output (the classifier's input).

    Parameters
    ----------
    norm : NormalizerArrays or None
        None: the rows as they are (float32).
    X : np.ndarray, float, shape (n, n_features)
        Raw features.
    groups : np.ndarray, shape (n,), optional
        Session of each row; None: each row its own session (offline), or all rows one
        session (``online`` True or a seed).
    online : None, SessionState, True or int
        None: offline, a session's rows normalised with all of its rows. A
        :class:`SessionState`: the live case, each row normalised with that session's running
        statistics as they are (the caller updates them; ``groups`` must be None). True: each
        group a live session in row order (update, then normalise). An int: the same in a
        seeded random order per group (:func:`online_transform`), the offline-online
        evaluation.

    Returns
    -------
    np.ndarray, float32, shape (n, n_features_out)

    Raises
    ------
    ValueError
        A live session with ``groups``; a width or non-finite value the normaliser refuses.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float32))
    if norm is None:
        return X
    if isinstance(online, SessionState):
        if groups is not None:
            raise ValueError("give a live session or offline groups, not both")
        return online.transform_read(X)  # the statistics shrunk once for all rows
    if online is None or online is False:
        return norm.transform(X, groups=groups)
    seed = None if online is True else int(online)
    return online_transform(norm, X, groups, seed=seed)


def normalize_read(norm: NormalizerArrays | None, X: np.ndarray, read: np.ndarray, *,
                   restricted: NormalizerArrays | None = None, groups: np.ndarray | None = None,
                   online: Any = None) -> np.ndarray:
    """:func:`normalize_rows` on the raw columns ``read`` alone, to the bit: column ``j`` of
    the output is column ``read[j]`` of ``normalize_rows(norm, X, ...)`` (every step of the
    normaliser works column by column). The live and scoring path: a model reading 1170 of
    4729 columns normalises those only.

    Parameters
    ----------
    norm : NormalizerArrays or None
        In ``"replace"`` mode (None: the rows as they are).
    X : np.ndarray, float, shape (n, n_features)
        Raw features, checked whole (width, finite values) as :func:`normalize_rows` does.
    read : np.ndarray, int64, shape (r,)
        Sorted, distinct raw columns.
    restricted : NormalizerArrays, optional
        ``norm.restricted(read)``, when the caller keeps it (computed otherwise).
    groups, online
        As :func:`normalize_rows`; a live session normalises with its own normaliser
        (:meth:`SessionState.transform_read`).

    Returns
    -------
    np.ndarray, float32, shape (n, r)

    Raises
    ------
    ValueError
        As :func:`normalize_rows`.
    """
    X = np.atleast_2d(np.asarray(X, dtype=np.float32))
    if norm is None:
        return X[:, read]
    if isinstance(online, SessionState):
        if groups is not None:
            raise ValueError("give a live session or offline groups, not both")
        return online.transform_read(X, read)
    _checked_rows(X, norm.n_features_in_)  # the whole rows, as the full transform checks them
    sub = norm.restricted(read) if restricted is None else restricted
    return normalize_rows(sub, X[:, read], groups=groups, online=online)


# ---------------------------------------------------------------------- classifier heads
#: Kinds of :class:`LinearHead`: a temperature-calibrated linear SVM (or logistic
#: regression), a multinomial/binary logistic regression, a bare linear SVM (decision values
#: only).
HEAD_KINDS: tuple[str, ...] = ("temperature", "logistic", "linear")


def _decision_2d(d: np.ndarray) -> np.ndarray:
    """Binary decision values (n,) or (n, 1) as two columns (-d, d); (n, k) unchanged."""
    if d.ndim == 1 or d.shape[1] == 1:
        d = d.reshape(-1)
        return np.stack([-d, d], axis=1)
    return d


def _temperature(d: np.ndarray, beta: float) -> np.ndarray:
    """``sklearn.calibration._TemperatureScaling.predict`` of decision values (n, k)."""
    logits = _decision_2d(d)
    if logits.shape[1] > 1 and bool(logits.min(initial=np.inf) >= 0) and bool(logits.max(initial=-np.inf) <= 1) and \
            bool(np.all(np.isclose(logits.sum(axis=1), 1.0, rtol=1e-5, atol=1e-8))):
        logits = np.log(logits + LOG_FLOOR)  # values that look like probabilities (as scikit-learn)
    return softmax(beta * logits)


@dataclass
class LinearHead:
    """One fitted classifier pipeline as arrays: ``[subset] -> [scaler] -> linear model ->
    [temperature calibration]``.

    Attributes
    ----------
    kind : {"temperature", "logistic", "linear"}
    classes : np.ndarray, int64, shape (k,)
        Label indices of the output columns.
    coef : np.ndarray, float64, shape (m, n_out, n_in)
        Linear weights; ``m`` > 1 for an ensemble of calibrated classifiers
        (``CalibratedClassifierCV(ensemble=True)``), averaged; ``n_out`` is 1 for a binary
        model.
    intercept : np.ndarray, float64, shape (m, n_out)
    beta : np.ndarray, float64, shape (m,)
        Inverse temperatures (kind ``"temperature"``; ones otherwise).
    columns : np.ndarray, int64, shape (n_in,), optional
        Column subset of the normalised features (None: all).
    scaler_mean, scaler_scale : np.ndarray, float64, shape (n_in,), optional
        The standardisation (None: none, or no centring / no scaling).
    """

    kind: str
    classes: np.ndarray
    coef: np.ndarray
    intercept: np.ndarray
    beta: np.ndarray
    columns: np.ndarray | None = None
    scaler_mean: np.ndarray | None = None
    scaler_scale: np.ndarray | None = None
    #: Per dtype of the rows, the scaler's arrays in it (what ``astype`` gives on each call).
    _scaler_in: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def _linear(self, Z: np.ndarray) -> list[np.ndarray]:
        """Decision values of each of the ``m`` linear models, float64 (n, n_out)."""
        own = False  # whether Z is a fresh array of this call's own
        if self.columns is not None:
            Z, own = Z[:, self.columns], True
        if self.scaler_mean is not None or self.scaler_scale is not None:
            # in place, in the rows' dtype, as StandardScaler.transform
            dtype = np.float32 if Z.dtype == np.float32 else np.float64
            if not (own and Z.dtype == dtype):  # (the columns' gather is a copy already)
                Z = np.array(Z, dtype=dtype)
            mean, scale = self._scaler_as(dtype)
            if mean is not None:
                Z -= mean
            if scale is not None:
                Z /= scale
        return [Z @ self.coef[i].T + self.intercept[i] for i in range(self.coef.shape[0])]

    def _scaler_as(self, dtype: type) -> tuple[np.ndarray | None, np.ndarray | None]:
        """``scaler_mean`` and ``scaler_scale`` converted to ``dtype`` (float32 or float64),
        shape (n_in,) each or None, converted once per dtype."""
        got = self._scaler_in.get(dtype)
        if got is None:
            got = self._scaler_in[dtype] = tuple(None if a is None else a.astype(dtype)
                                                 for a in (self.scaler_mean, self.scaler_scale))
        return got

    def decision(self, Z: np.ndarray) -> np.ndarray:
        """What :func:`ser_live.route.decision_values` gives: decision values of a linear SVM
        or logistic regression (two columns for a binary one), log-probabilities of a
        calibrated one.

        Parameters
        ----------
        Z : np.ndarray, float32, shape (n, n_features_out)
            Normalised rows.

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)
        """
        if self.kind == "temperature":
            return np.log(np.maximum(self.proba(Z), LOG_FLOOR))
        return _decision_2d(self._linear(Z)[0])

    def proba(self, Z: np.ndarray) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        Z : np.ndarray, float32, shape (n, n_features_out)

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)

        Raises
        ------
        AttributeError
            A bare linear SVM (no probabilities, as scikit-learn's ``LinearSVC``).
        """
        ds = self._linear(Z)
        if self.kind == "logistic":
            d = ds[0]
            if d.ndim == 2 and d.shape[1] > 1:
                return softmax(d)
            p = 1.0 / (1.0 + np.exp(-d.reshape(-1)))
            return np.stack([1 - p, p], axis=1)
        if self.kind != "temperature":
            raise AttributeError("a linear SVM without calibration has no predict_proba")
        out = np.zeros((ds[0].shape[0], self.classes.size))
        for d, beta in zip(ds, self.beta):
            p = _temperature(d, float(beta))
            if p.max(initial=0.0) > 1.0:  # (a softmax's values are at most 1: this hardly ever acts)
                p[(1.0 < p) & (p <= 1.0 + 1e-5)] = 1.0
            if len(ds) == 1:  # 0 + p and p / 1 are p
                return p
            out += p
        out /= len(ds)
        return out

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """The head's arrays, keys prefixed (for :func:`save_npz`)."""
        out = {"classes": self.classes, "coef": self.coef, "intercept": self.intercept, "beta": self.beta}
        for k in ("columns", "scaler_mean", "scaler_scale"):
            if getattr(self, k) is not None:
                out[k] = getattr(self, k)
        return {f"{prefix}.{k}": v for k, v in out.items()}


# ---------------------------------------------------------------------- the model object
def snr_column(X_raw: np.ndarray, *, column: int, column_name: str) -> np.ndarray:
    """The SNR column a noise route reads (``column``, named ``column_name`` in messages) of
    raw rows ``X_raw`` (float, shape (n, n_features), before normalisation): float64 dB,
    shape (n,). Raises ValueError for an input narrower than ``column + 1``."""
    X_raw = np.atleast_2d(np.asarray(X_raw))
    if X_raw.shape[1] <= int(column):
        raise ValueError(f"noise route reads column {column} ({column_name}), the input has {X_raw.shape[1]} columns")
    return X_raw[:, int(column)].astype(np.float64)


def routed_snr(route: Any, X_raw: np.ndarray, route_db: np.ndarray | None = None) -> np.ndarray:
    """The SNR (dB) a noise route decides each raw row by: its own SNR column, or where
    ``route_db`` gives a value, that value (the column read over a longer stretch of speech
    than the row's utterance, :class:`ser_live.offline.SpeechStretch`).

    Parameters
    ----------
    route : RouteArrays or ser_live.route.NoiseRoute
    X_raw : np.ndarray, float, shape (n, n_features)
    route_db : np.ndarray, float, shape (n,), optional
        Per row the SNR (dB) to decide by; NaN (or None for all rows): the row's own column.

    Returns
    -------
    np.ndarray, float64, shape (n,)

    Raises
    ------
    ValueError
        ``route_db`` of another length than the rows; an input narrower than the column.
    """
    snr = route.snr_db(np.atleast_2d(np.asarray(X_raw)))
    if route_db is None:
        return snr
    r = np.asarray(route_db, dtype=np.float64).reshape(-1)
    if r.shape != snr.shape:
        raise ValueError(f"route_db has {r.size} values for {snr.size} rows")
    return np.where(np.isnan(r), snr, r)


def below_cut(snr_db: np.ndarray, threshold_db: float) -> np.ndarray:
    """Which rows go to the noise branch: bool, shape (n,), True where the SNR (dB, shape
    (n,)) is below ``threshold_db``; a non-finite value stays on the main classifier."""
    snr = np.asarray(snr_db, dtype=np.float64)
    return np.isfinite(snr) & (snr < float(threshold_db))


@dataclass
class RouteArrays:
    """The noise route: rows whose raw SNR column is below the cut go to the branch.

    Attributes
    ----------
    column : int
        Index of the SNR column in the raw features.
    column_name : str
    threshold_db_ : float
        The cut (dB).
    """

    column: int
    column_name: str
    threshold_db_: float

    def snr_db(self, X_raw: np.ndarray) -> np.ndarray:
        """:func:`snr_column` of raw rows (n, n_features): float64 dB, shape (n,)."""
        return snr_column(X_raw, column=self.column, column_name=self.column_name)

    def noisy(self, snr_db: np.ndarray) -> np.ndarray:
        """:func:`below_cut` of :meth:`snr_db`: bool, shape (n,)."""
        return below_cut(snr_db, self.threshold_db_)


@dataclass
class CompiledEstimator:
    """The model object as arrays: normaliser -> heads (main, noise branch) -> probabilities
    over the labels [-> recalibration]. Same methods as
    :class:`~ser_live.estimator.EmotionEstimator` for scoring.

    Attributes
    ----------
    normalizer : NormalizerArrays or None
    main : LinearHead
    n_labels : int
    branch : LinearHead, optional
    route : RouteArrays, optional
        With ``branch``.
    W, b : np.ndarray, float64, shapes (n_labels, n_labels), (n_labels,), optional
        A recalibration ``softmax(W log p + b)`` (a person's profile).
    """

    normalizer: NormalizerArrays | None
    main: LinearHead
    n_labels: int
    branch: LinearHead | None = None
    route: RouteArrays | None = None
    W: np.ndarray | None = None
    b: np.ndarray | None = None
    heads: dict = field(init=False, repr=False)
    _reader: Any = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.heads = {"main": self.main} if self.branch is None else {"main": self.main, "branch": self.branch}
        self._reader = None  # built on first scoring (see _read_plan)

    def _read_plan(self) -> tuple | None:
        """What scoring needs when the model reads a subset of the raw columns: (the columns
        ``read`` (int64, sorted), the normaliser restricted to them, the main and branch
        heads with their column subsets re-indexed into ``read``); None when every column
        is read. Built once: the arrays never change after construction."""
        if self._reader is None:
            read = self.read_columns()
            if read is None:
                self._reader = (None,)
            else:
                heads = [None if h is None else replace(h, columns=np.searchsorted(read, h.columns).astype(np.int64))
                         for h in (self.main, self.branch)]
                norm = None if self.normalizer is None else self.normalizer.restricted(read)
                self._reader = (read, norm, *heads)
        return None if self._reader[0] is None else self._reader

    @property
    def classes_(self) -> np.ndarray:
        """Label indices of the heads' columns (all labels once recalibrated)."""
        return np.arange(self.n_labels) if self.W is not None else self.main.classes

    @property
    def noise_route(self) -> RouteArrays | None:
        return self.route

    def new_session(self) -> SessionState | None:
        """Running statistics of one live session (None without a normaliser)."""
        return None if self.normalizer is None else self.normalizer.new_session()

    def compile(self) -> "CompiledEstimator":
        """Itself (the chain is compiled already; as ``EmotionEstimator.compile``)."""
        return self

    def with_prior(self, mean: np.ndarray, var: np.ndarray) -> "CompiledEstimator":
        """A copy whose normaliser starts from another prior (a person's); shapes (n_features,)."""
        if self.normalizer is None:
            return replace(self)
        norm = replace(self.normalizer, prior_mean_=np.asarray(mean, dtype=np.float64),
                       prior_var_=np.asarray(var, dtype=np.float64))
        return replace(self, normalizer=norm)

    def recalibrated(self, W: np.ndarray, b: np.ndarray) -> "CompiledEstimator":
        """A copy recalibrated with ``softmax(W log p + b)`` (after any recalibration it has).

        Parameters
        ----------
        W : np.ndarray, float, shape (n_classes, n_classes)
        b : np.ndarray, float, shape (n_classes,)
            Stored as float64; classes in :attr:`classes_` order (a profile's
            :class:`~ser_live.estimator.Recalibrated` ``frozen`` arrays).

        Raises
        ------
        ValueError
            Already recalibrated (one profile at a time).
        """
        if self.W is not None:
            raise ValueError("the model object is already recalibrated")
        return replace(self, W=np.asarray(W, dtype=np.float64), b=np.asarray(b, dtype=np.float64))

    def normalize(self, X: np.ndarray, *, groups: np.ndarray | None = None, online: Any = None) -> np.ndarray:
        """See :func:`normalize_rows`."""
        return normalize_rows(self.normalizer, X, groups=groups, online=online)

    def noisy_rows(self, X: np.ndarray, route_db: np.ndarray | None = None) -> np.ndarray | None:
        """Which raw rows (n, n_features) the noise branch classifies: bool (n,), or None
        without a noise branch; ``route_db`` as :func:`routed_snr`."""
        if self.route is None:
            return None
        return self.route.noisy(routed_snr(self.route, X, route_db))

    def _routed(self, method: str, X: np.ndarray, kw: dict) -> np.ndarray:
        """A head method (``"proba"`` or ``"decision"``) on the normalised rows, each row
        from the head its SNR picks; float64 (n, n_classes). ``kw``: ``groups``, ``online``
        (:func:`normalize_rows`) and ``route_db`` (:func:`routed_snr`)."""
        X = np.atleast_2d(np.asarray(X, dtype=np.float32))
        kw = dict(kw)
        route_db = kw.pop("route_db", None)
        plan = self._read_plan()
        if plan is None:
            Z, main, branch = self.normalize(X, **kw), self.main, self.branch
        else:  # normalise only the columns the heads read (the same values, a quarter of the work)
            read, norm, main, branch = plan
            Z = normalize_read(self.normalizer, X, read, restricted=norm, **kw)
        out = np.asarray(getattr(main, method)(Z), dtype=np.float64)
        noisy = self.noisy_rows(X, route_db)
        if noisy is not None and noisy.any():
            out[noisy] = getattr(branch, method)(Z[noisy])
        return out

    def predict_proba(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Class probabilities over the model's labels.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
            Raw features.
        **kw
            ``groups``, ``online`` as :func:`normalize_rows`; ``route_db`` as
            :func:`routed_snr`.

        Returns
        -------
        np.ndarray, float64, shape (n, n_labels)
            Column ``i`` is label index ``i`` (0 for a label the heads never saw); rows sum
            to 1.
        """
        out = spread_labels(self._routed("proba", X, kw), self.main.classes, self.n_labels)
        if self.W is not None:
            out = adapt_log_proba(np.log(np.maximum(out, LOG_FLOOR)), self.W, self.b)
        return out

    def decision_function(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Decision values, shape (n, n_classes), float64, columns in :attr:`classes_` order
        (log-probabilities when calibrated or recalibrated); keywords as :meth:`predict_proba`."""
        if self.W is not None:
            return np.log(np.maximum(self.predict_proba(X, **kw), LOG_FLOOR))
        return self._routed("decision", X, kw)

    def predict(self, X: np.ndarray, **kw: Any) -> np.ndarray:
        """Label indices, shape (n,): the argmax of :meth:`decision_function`."""
        return self.classes_[np.argmax(self.decision_function(X, **kw), axis=1)]

    # ------------------------------------------------------------------ arrays
    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """The JSON-able settings and the named arrays (see :func:`save_npz`)."""
        arrays: dict[str, np.ndarray] = {}
        spec: dict[str, Any] = {"n_labels": int(self.n_labels), "heads": {}}
        for name, head in self.heads.items():
            spec["heads"][name] = {"kind": head.kind}
            arrays.update(head.arrays(name))
        spec["normalizer"] = None if self.normalizer is None else self.normalizer.settings()
        if self.normalizer is not None:
            arrays.update({"normalizer.prior_mean": self.normalizer.prior_mean_,
                           "normalizer.prior_var": self.normalizer.prior_var_,
                           "normalizer.columns": self.normalizer.columns_})
        spec["route"] = None
        if self.route is not None:
            spec["route"] = {"column": int(self.route.column), "column_name": str(self.route.column_name)}
            arrays["route.threshold_db"] = np.array([self.route.threshold_db_], dtype=np.float64)
        if self.W is not None:
            arrays.update({"recalibration.W": self.W, "recalibration.b": self.b})
        return spec, arrays

    @classmethod
    def from_arrays(cls, spec: dict, arrays: dict[str, np.ndarray], *, n_features: int) -> "CompiledEstimator":
        """Rebuild from :meth:`to_arrays`' output, checking every shape, dtype and value.

        Parameters
        ----------
        spec : dict
            The settings (from the file's JSON header).
        arrays : dict of str to np.ndarray
        n_features : int
            Width of the raw features (the extractor's).

        Returns
        -------
        CompiledEstimator

        Raises
        ------
        ValueError
            A missing or extra array, a wrong dtype or shape, a non-finite number, an index
            out of range, or settings of the wrong type.
        """
        used: set[str] = set()

        def get(key: str, kind: str, ndim: int, *, optional: bool = False) -> np.ndarray | None:
            if key not in arrays:
                if optional:
                    return None
                raise ValueError(f"array {key!r} missing")
            used.add(key)
            a = arrays[key]
            if a.dtype.kind not in kind or a.ndim != ndim:
                raise ValueError(f"array {key!r} is {a.dtype} of {a.ndim} dimensions")
            if a.dtype.kind == "f" and not np.isfinite(a).all():
                raise ValueError(f"array {key!r} holds a non-finite value")
            return a.astype(np.float64) if a.dtype.kind == "f" else a.astype(np.int64)

        n_labels = spec["n_labels"]
        if not (isinstance(n_labels, int) and n_labels >= 2):
            raise ValueError("n_labels must be an integer >= 2")
        norm = None
        width = n_features
        if spec.get("normalizer") is not None:
            s = spec["normalizer"]
            mean, var = get("normalizer.prior_mean", "f", 1), get("normalizer.prior_var", "f", 1)
            cols = get("normalizer.columns", "iu", 1)
            cap = s["session_cap"]
            if mean.shape != (n_features,) or var.shape != mean.shape or (var <= 0).any():
                raise ValueError(f"normaliser statistics of shape {mean.shape} / {var.shape} for {n_features} features")
            if cols.size and (cols.min() < 0 or cols.max() >= n_features):
                raise ValueError("normaliser columns out of range")
            if s["mode"] not in NORMALIZE_MODES or not isinstance(s["scale"], bool) \
                    or not isinstance(s["prior_weight"], (int, float)) or not s["prior_weight"] >= 0 \
                    or not (cap is None or (isinstance(cap, (int, float)) and not isinstance(cap, bool) and cap > 0)):
                raise ValueError(f"normaliser settings {s!r}")  # a session cap is a positive count
            norm = NormalizerArrays(mean, var, cols, float(s["prior_weight"]), None if cap is None else float(cap),
                                    s["scale"], s["mode"])
            width = norm.n_features_out
        heads = {}
        for name, h in spec["heads"].items():
            if name not in ("main", "branch") or h.get("kind") not in HEAD_KINDS:
                raise ValueError(f"head {name!r} of kind {h.get('kind')!r}")
            p = f"{name}."
            classes, coef = get(p + "classes", "iu", 1), get(p + "coef", "f", 3)
            intercept, beta = get(p + "intercept", "f", 2), get(p + "beta", "f", 1)
            cols = get(p + "columns", "iu", 1, optional=True)
            mean = get(p + "scaler_mean", "f", 1, optional=True)
            scale = get(p + "scaler_scale", "f", 1, optional=True)
            m, n_out, n_in = coef.shape
            if classes.size < 2 or classes.min() < 0 or classes.max() >= n_labels or np.unique(classes).size != classes.size:
                raise ValueError(f"{name}.classes do not index the {n_labels} labels")
            if n_out != (1 if classes.size == 2 else classes.size) or intercept.shape != (m, n_out) or beta.shape != (m,):
                raise ValueError(f"head {name!r}: coef {coef.shape}, intercept {intercept.shape}, beta {beta.shape}")
            if m < 1 or (m > 1 and h["kind"] != "temperature"):
                raise ValueError(f"head {name!r}: {m} linear models")
            if not (beta > 0).all():  # a negative inverse temperature turns every ranking upside down
                raise ValueError(f"head {name!r}: inverse temperatures {beta.tolist()} are not all positive")
            if cols is not None and (cols.shape != (n_in,) or cols.min() < 0 or cols.max() >= width):
                raise ValueError(f"head {name!r}: column subset out of range")
            if cols is None and n_in != width:
                raise ValueError(f"head {name!r} reads {n_in} columns, the normaliser gives {width}")
            for a in (mean, scale):
                if a is not None and a.shape != (n_in,):
                    raise ValueError(f"head {name!r}: scaler of shape {a.shape} for {n_in} columns")
            heads[name] = LinearHead(h["kind"], classes, coef, intercept, beta, cols, mean, scale)
        if "main" not in heads:
            raise ValueError("no main head")
        route = None
        if spec.get("route") is not None:
            r = spec["route"]
            cut = get("route.threshold_db", "f", 1)
            if "branch" not in heads or cut.shape != (1,) or not isinstance(r["column"], int) \
                    or not 0 <= r["column"] < n_features or not isinstance(r["column_name"], str):
                raise ValueError(f"noise route {r!r}")
            if not np.array_equal(heads["branch"].classes, heads["main"].classes):
                raise ValueError("the noise branch has other classes than the main head")
            route = RouteArrays(r["column"], r["column_name"], float(cut[0]))
        elif "branch" in heads:
            raise ValueError("a noise branch without a route")
        W, b = get("recalibration.W", "f", 2, optional=True), get("recalibration.b", "f", 1, optional=True)
        if (W is None) != (b is None) or (W is not None and (W.shape != (n_labels, n_labels) or b.shape != (n_labels,))):
            raise ValueError("recalibration arrays of the wrong shape")
        extra = sorted(set(arrays) - used)
        if extra:
            raise ValueError(f"unknown arrays {', '.join(extra[:5])}")
        return cls(norm, heads["main"], n_labels, heads.get("branch"), route, W, b)

    def read_columns(self) -> np.ndarray | None:
        """The raw feature columns the model reads: int64, sorted, or None for all.

        A normaliser in ``"replace"`` mode maps column ``j`` to column ``j`` (its statistics
        are per column), so the heads' subsets are raw columns; the route's SNR column is
        added. In ``"append"`` mode, or without a subset, every column is read.
        """
        if self.normalizer is not None and self.normalizer.mode != "replace":
            return None
        cols = []
        for head in self.heads.values():
            if head.columns is None:
                return None
            cols.append(head.columns)
        if self.route is not None:
            cols.append(np.array([self.route.column]))
        return np.unique(np.concatenate(cols)).astype(np.int64)


from .arrays_file import FAST_FORMAT_VERSION, read_npz, save_npz  # noqa: E402  (re-exported: the file of these arrays)
