"""Keep a fixed subset of feature columns: the first step of a model whose recipe uses only
some feature groups (``[features] include/exclude`` in ``train/recipes/*.toml``).

scikit-learn's own way to do this, ``ColumnTransformer`` with ``"passthrough"``, stores a
``FunctionTransformer`` (a slot for arbitrary code) in the fitted model, so a model file that
holds one could not be loaded with a short list of trusted types
(:data:`ser_live.model.TRUSTED_TYPES`). :class:`FeatureSubset` holds one index array.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

__all__ = ["FeatureSubset"]


class FeatureSubset(TransformerMixin, BaseEstimator):
    """Select columns by index: ``X[:, columns]``.

    Parameters
    ----------
    columns : np.ndarray, int64, shape (k,)
        Indices of the kept columns, in output order (``train.recipe.select_columns`` gives
        them from feature-name prefixes).

    Attributes
    ----------
    columns_ : np.ndarray, int64, shape (k,)
    n_features_in_ : int
        Width of the input the subset was fitted on (every later input must have it).

    Examples
    --------
    >>> import numpy as np
    >>> FeatureSubset(np.array([2, 0])).fit(np.zeros((1, 3))).transform(np.arange(6.0).reshape(2, 3))
    array([[2., 0.],
           [5., 3.]])
    """

    def __init__(self, columns: np.ndarray | None = None) -> None:
        self.columns = columns

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "FeatureSubset":
        """Check the indices against the input width.

        Parameters
        ----------
        X : np.ndarray, shape (n, n_features)
            Only its width is used.
        y : None
            Unused (scikit-learn's signature).

        Returns
        -------
        FeatureSubset
            ``self``, fitted.

        Raises
        ------
        ValueError
            No columns, indices not integers, or an index outside ``0 .. n_features - 1``.
        """
        cols = np.asarray(self.columns if self.columns is not None else [])
        if cols.ndim != 1 or cols.size == 0 or not np.issubdtype(cols.dtype, np.integer):
            raise ValueError(f"columns must be a non-empty 1-D integer array, got {cols!r}")
        n = np.asarray(X).shape[1]
        if cols.min() < 0 or cols.max() >= n:
            raise ValueError(f"column indices must be in 0..{n - 1}, got {int(cols.min())}..{int(cols.max())}")
        self.columns_ = cols.astype(np.int64)
        self.n_features_in_ = int(n)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The kept columns.

        Parameters
        ----------
        X : np.ndarray, shape (n, n_features_in_)

        Returns
        -------
        np.ndarray, shape (n, k), the input's dtype

        Raises
        ------
        ValueError
            ``X`` of another width than at fit.
        """
        check_is_fitted(self, "columns_")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected shape (n, {self.n_features_in_}), got {X.shape}")
        return X[:, self.columns_]
