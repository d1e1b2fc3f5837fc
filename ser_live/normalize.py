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

from .fastpath import NORMALIZE_MODES, VAR_FLOOR, NormalizerArrays, SessionState, check_rows, group_codes, group_moments

__all__ = ["SessionNormalizer", "SessionState", "NORMALIZE_MODES"]

_VAR_FLOOR = VAR_FLOOR


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
        X = check_rows(X, None)
        codes, n_groups = group_codes(groups, X.shape[0])
        _, means, variances = group_moments(X, codes, n_groups)
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
        """Normalise each group with all of its rows' statistics, shrunk to the prior: runs
        :meth:`ser_live.fastpath.NormalizerArrays.transform` of :meth:`compiled` (its
        parameters, returns and errors)."""
        return self.compiled().transform(X, groups=groups)

    # ------------------------------------------------------------------ online
    def new_session(self) -> SessionState:
        """Running statistics of one live session, starting from the prior alone.

        Returns
        -------
        SessionState
        """
        return SessionState(self.compiled())

    @property
    def n_features_out(self) -> int:
        """Number of output columns (see :meth:`transform`)."""
        return self.compiled().n_features_out

    def compiled(self) -> NormalizerArrays:
        """The fitted normaliser as arrays (:class:`~ser_live.fastpath.NormalizerArrays`),
        which every transform goes through.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        """
        check_is_fitted(self, "prior_mean_")
        return NormalizerArrays(self.prior_mean_, self.prior_var_, self.columns_, float(self.prior_weight),
                                None if self.session_cap is None else float(self.session_cap),
                                bool(self.scale), str(self.mode))
