"""Session normalisation: standardise features per speaker/session, shrunk towards a prior.

A live user is a speaker, a room and a microphone the model has never heard. Standardising
each feature with the statistics of the speaker's (session's) own utterances removes much of
what identifies the speaker and the channel [1]_ [2]_. With few utterances those statistics
are noisy, and a session that stays in one emotion (an angry caller) would be standardised
into the middle of the training data ("neutral"). :class:`SessionNormalizer` therefore

- shrinks the session's statistics towards a *prior* learnt on the training speakers, with a
  weight of ``prior_weight`` pseudo-utterances, and
- can normalise only some columns (``columns``) and keep the others absolute, or append the
  normalised columns to the absolute ones (``mode="append"``) so the classifier sees both
  the speaker-relative and the absolute arousal cues (energy, pitch range).

Shrinkage formula
-----------------
For one session (group) with ``n`` utterances ``x_1..x_n`` (one row each), per feature::

    m   = sum_i x_i / n                       (session mean; 0 when n = 0)
    v   = sum_i (x_i - m)**2 / n              (session variance about its own mean)
    k   = min(n, c)                           (the session's weight, capped at c)
    mu  = (k * m + w * mu0) / (k + w)         (shrunk mean)
    var = (k * v + w * var0) / (k + w)        (shrunk variance)
    z   = (x - mu) / sqrt(var)                (if ``scale``; else z = x - mu)

where ``w = prior_weight`` (in utterances), ``c = session_cap`` (utterances; no cap when
None), ``mu0`` is the mean over training speakers of their mean, and ``var0`` the mean over
training speakers of their within-speaker variance. With ``n = 0`` the statistics are the
prior's; as ``n`` grows they move towards the session's own, but never further than
``c / (c + w)`` of the way: the prior keeps a share however long the session, so a session
that stays in one emotion keeps part of its offset from the training speakers' average.
Offline (:meth:`SessionNormalizer.transform`) a session uses all of its rows (two passes);
online (:class:`SessionState`) the utterances heard so far, the current one included.

References
----------
.. [1] C. Busso, A. Metallinou, S. Narayanan, "Iterative feature normalization for emotional
   speech detection", ICASSP 2011.
.. [2] B. Schuller et al., "Cross-corpus acoustic emotion recognition: variances and
   strategies", IEEE Trans. Affective Computing 1(2), 2010 (speaker and corpus
   normalisation).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["SessionNormalizer", "SessionState", "NORMALIZE_MODES"]

#: ``"replace"``: output the normalised features; ``"append"``: output the absolute features
#: followed by the normalised copies of ``columns`` (2 x, or n + len(columns), columns).
NORMALIZE_MODES: tuple[str, ...] = ("replace", "append")

_VAR_FLOOR = 1e-8


def _group_codes(groups: np.ndarray, n_rows: int) -> tuple[np.ndarray, int]:
    groups = np.asarray(groups)
    if groups.shape != (n_rows,):
        raise ValueError(f"groups must have shape ({n_rows},), got {groups.shape}")
    _, codes = np.unique(groups.astype(str), return_inverse=True)
    return codes.ravel(), int(codes.max()) + 1 if n_rows else 0


def _group_moments(X: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Count, mean and (biased) variance per group: shapes (g,), (g, d), (g, d), float64."""
    counts = np.bincount(codes, minlength=n_groups).astype(np.float64)
    sums = np.zeros((n_groups, X.shape[1]))
    np.add.at(sums, codes, X)
    means = sums / np.maximum(counts, 1)[:, None]
    sq = np.zeros_like(sums)
    np.add.at(sq, codes, (X - means[codes]) ** 2)
    return counts, means, sq / np.maximum(counts, 1)[:, None]


class SessionNormalizer(TransformerMixin, BaseEstimator):
    """Per-session feature standardisation shrunk towards a training prior (see module doc).

    Parameters
    ----------
    prior_weight : float, default 10.0
        ``w`` in the shrinkage formula: how many utterances the prior counts as. 0 gives the
        plain per-session standardisation; a very large value gives a fixed global one.
    session_cap : float or None, default None
        ``c`` in the formula: the most utterances a session's own statistics count as.
    scale : bool, default True
        Divide by the shrunk standard deviation; False only subtracts the shrunk mean.
    columns : np.ndarray of int, shape (k,), optional
        Columns to normalise (others pass through absolute); None for all.
    mode : {"replace", "append"}, default "replace"
        ``"replace"``: normalised columns replace their absolute values (output shape
        ``(n, n_features)``); ``"append"``: output ``[x, z[columns]]``, shape
        ``(n, n_features + k)``.

    Attributes
    ----------
    prior_mean_ : np.ndarray, float64, shape (n_features,)
        Mean over training groups of the group mean (``mu0``).
    prior_var_ : np.ndarray, float64, shape (n_features,)
        Mean over training groups of the within-group variance (``var0``), floored at 1e-8.
    columns_ : np.ndarray, int64, shape (k,)
        The columns normalised.
    n_features_in_ : int
    n_groups_ : int
        Training groups (speakers) the prior rests on.
    """

    def __init__(
        self,
        *,
        prior_weight: float = 10.0,
        session_cap: float | None = None,
        scale: bool = True,
        columns: np.ndarray | None = None,
        mode: str = "replace",
    ) -> None:
        self.prior_weight = prior_weight
        self.session_cap = session_cap
        self.scale = scale
        self.columns = columns
        self.mode = mode

    # ------------------------------------------------------------------ fitting
    def fit(self, X: np.ndarray, y: np.ndarray | None = None, *, groups: np.ndarray) -> "SessionNormalizer":
        """Learn the prior from training speakers.

        Parameters
        ----------
        X : np.ndarray, float, shape (n, n_features)
        y : ignored
        groups : np.ndarray, shape (n,)
            Speaker (or session) of each row; each group weighs the same in the prior.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            Bad ``mode``, negative ``prior_weight``, ``groups`` of the wrong shape, no rows,
            non-finite features, or ``columns`` outside ``0..n_features-1``.
        """
        if self.mode not in NORMALIZE_MODES:
            raise ValueError(f"mode must be one of {NORMALIZE_MODES}, got {self.mode!r}")
        if not float(self.prior_weight) >= 0:
            raise ValueError(f"prior_weight must be >= 0 (utterances), got {self.prior_weight!r}")
        X = self._check_X(X, fitting=True)
        codes, n_groups = _group_codes(groups, X.shape[0])
        _, means, variances = _group_moments(X, codes, n_groups)
        self.prior_mean_ = means.mean(axis=0)
        self.prior_var_ = np.maximum(variances.mean(axis=0), _VAR_FLOOR)
        d = X.shape[1]
        cols = np.arange(d) if self.columns is None else np.asarray(self.columns, dtype=np.int64).ravel()
        if cols.size and (cols.min() < 0 or cols.max() >= d):
            raise ValueError(f"columns must lie in 0..{d - 1}")
        self.columns_ = cols
        self.n_features_in_ = d
        self.n_groups_ = n_groups
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None, *, groups: np.ndarray) -> np.ndarray:
        """:meth:`fit` then :meth:`transform` with the same ``groups``."""
        return self.fit(X, y, groups=groups).transform(X, groups=groups)

    # ------------------------------------------------------------------ offline
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
            ``n_features_out`` is ``n_features`` (``mode="replace"``) or
            ``n_features + len(columns_)`` (``"append"``).

        Raises
        ------
        ValueError
            Wrong number of features, non-finite values, ``groups`` of the wrong shape.
        """
        check_is_fitted(self, "prior_mean_")
        X = self._check_X(X)
        if groups is None:
            counts = np.ones(X.shape[0])
            means = X.astype(np.float64)
            variances = np.zeros_like(means)
            codes = np.arange(X.shape[0])
        else:
            codes, n_groups = _group_codes(groups, X.shape[0])
            counts, means, variances = _group_moments(X, codes, n_groups)
        mu, var = self._shrink(counts[:, None], means, variances)
        return self._apply(X, mu[codes], var[codes])

    # ------------------------------------------------------------------ online
    def new_session(self) -> "SessionState":
        """Running statistics of one live session, starting from the prior alone.

        Returns
        -------
        SessionState
        """
        check_is_fitted(self, "prior_mean_")
        return SessionState(self)

    @property
    def n_features_out(self) -> int:
        """Number of output columns (see :meth:`transform`)."""
        check_is_fitted(self, "prior_mean_")
        return self.n_features_in_ + (self.columns_.size if self.mode == "append" else 0)

    # ------------------------------------------------------------------ internals
    def _check_X(self, X: np.ndarray, *, fitting: bool = False) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (n_utterances, n_features), got shape {X.shape}")
        if not fitting and X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features; the normaliser was fitted on {self.n_features_in_}")
        if not np.isfinite(X).all():
            raise ValueError("X holds NaN or infinite values (failed feature extraction?)")
        return X

    def _shrink(self, n: np.ndarray | float, mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = float(self.prior_weight)
        if self.session_cap is not None:
            n = np.minimum(n, float(self.session_cap))
        c = self.columns_
        total = np.maximum(n + w, 1e-12)
        mu = (n * mean[..., c] + w * self.prior_mean_[c]) / total
        v = (n * var[..., c] + w * self.prior_var_[c]) / total
        # n = 0 and w = 0: nothing to go on; fall back on the prior
        empty = (n + w) <= 0
        if np.any(empty):
            mu = np.where(empty, self.prior_mean_[c], mu)
            v = np.where(empty, self.prior_var_[c], v)
        return mu, np.maximum(v, _VAR_FLOOR)

    def _apply(self, X: np.ndarray, mu: np.ndarray, var: np.ndarray) -> np.ndarray:
        c = self.columns_
        z = X[..., c] - mu
        if self.scale:
            z = z / np.sqrt(var)
        if self.mode == "append":
            return np.concatenate([X, z], axis=-1).astype(np.float32)
        out = X.copy()
        out[..., c] = z
        return out.astype(np.float32)


class SessionState:
    """Online running statistics of one live session (use :meth:`SessionNormalizer.new_session`).

    Call :meth:`update` with each utterance's features as it is heard, then
    :meth:`transform` it: the utterance is normalised with the statistics of the utterances
    heard so far, itself included, shrunk towards the prior (formula in the module doc).

    Attributes
    ----------
    n_utterances : int
        Utterances the running statistics rest on.
    """

    def __init__(self, normalizer: SessionNormalizer) -> None:
        self._norm = normalizer
        d = normalizer.n_features_in_
        self.n_utterances = 0
        self._mean = np.zeros(d)
        self._m2 = np.zeros(d)

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

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Normalise one utterance with the running statistics shrunk to the prior.

        Parameters
        ----------
        x : np.ndarray, float, shape (n_features,)

        Returns
        -------
        np.ndarray, float32, shape (n_features_out,)
            As one row of :meth:`SessionNormalizer.transform`.
        """
        x = self._check(x)
        n = float(self.n_utterances)
        var = self._m2 / n if n else np.zeros_like(self._m2)
        mu, v = self._norm._shrink(n, self._mean, var)
        return self._norm._apply(x, mu, v)

    def _check(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = self._norm.n_features_in_
        if x.shape != (d,):
            raise ValueError(f"expected one utterance's features, shape ({d},), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("features hold NaN or infinite values")
        return x
