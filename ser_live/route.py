"""A noise branch: a second classifier for utterances heard in noise, chosen per utterance
from the utterance's own signal-to-noise ratio.

A classifier trained on clean speech loses a third to a half of its UA when the same speech
arrives at 10 dB SNR, and one trained on clean *and* noisy copies loses a few points on clean
speech (``reports/room-loco-*.md``, ``reports/loco-ser-noisy-*.md``). A model with a
:class:`NoiseRoute` keeps both: the clean-speech classifier for utterances whose SNR is high,
the noise-trained one for the rest.

The SNR is read from a feature column the extractor already computes: by default
``rms_db_p5_95``, the spread in dB between the 95th and the 5th percentile of the utterance's
frame RMS level. The utterance is trimmed to its speech span (with the segmenter's padding),
live and in training alike, so the quietest frames are the pauses and the padding: the noise
floor, and the loudest are speech. Over the shipped default's training data the column reads
22.4-79.0 dB for the clean utterances and 11.0-17.6 dB for their copies mixed with white, pink
or brown noise at 10 dB SNR (5th-95th percentiles; ``models/ser-default.md``, written by
``python -m train fit``); see :func:`fit_threshold` for how the cut between them is set.

Live (and ``predict --segments``) the column may be read over a longer stretch than the
utterance: the utterance joined with those just before it, when the segmenter cut a sentence
at a short pause (:class:`ser_live.offline.SpeechStretch`, passed as ``route_db``); the
classifiers' input is always the utterance's own features.

The route decides per utterance and is *hard* (one classifier or the other, never a blend), so
the branch that spoke can be reported, and the probabilities are one calibrated classifier's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from .fastpath import below_cut, snr_column

__all__ = ["NoiseRoute", "fit_threshold", "decision_values", "DEFAULT_SNR_COLUMN"]

#: Feature column read as the utterance's SNR (dB): 95th minus 5th percentile of the frame
#: RMS level (``ser_live.features``, energy group).
DEFAULT_SNR_COLUMN: str = "rms_db_p5_95"


def fit_threshold(clean_db: np.ndarray, noisy_db: np.ndarray) -> float:
    """The SNR cut that best tells clean training utterances from their noise copies.

    The threshold maximises the balanced accuracy of the rule "noisy when below" over the
    pooled values (the mean of the two recalls, so the copies' count does not weigh), and
    sits halfway between the two neighbouring values it separates.

    Parameters
    ----------
    clean_db : np.ndarray, float, shape (n_clean,)
        The SNR column (dB) of the clean training utterances.
    noisy_db : np.ndarray, float, shape (n_noisy,)
        The same column of their noise-mixed copies.

    Returns
    -------
    float
        Threshold in dB: an utterance whose column is below it goes to the noise branch.

    Raises
    ------
    ValueError
        Either array empty or holding a non-finite value.

    Examples
    --------
    >>> fit_threshold(np.array([30.0, 40.0, 25.0]), np.array([10.0, 12.0, 14.0]))
    19.5
    """
    clean = np.asarray(clean_db, dtype=np.float64).ravel()
    noisy = np.asarray(noisy_db, dtype=np.float64).ravel()
    if clean.size == 0 or noisy.size == 0:
        raise ValueError("fit_threshold needs clean and noisy values, got "
                         f"{clean.size} clean and {noisy.size} noisy")
    if not (np.isfinite(clean).all() and np.isfinite(noisy).all()):
        raise ValueError("fit_threshold: the SNR column holds non-finite values")
    cand = np.unique(np.concatenate([clean, noisy]))
    # thresholds halfway between neighbouring values, plus one below and one above all
    cuts = np.concatenate([[cand[0] - 1.0], (cand[:-1] + cand[1:]) / 2.0, [cand[-1] + 1.0]])
    clean_s, noisy_s = np.sort(clean), np.sort(noisy)
    tpr = np.searchsorted(noisy_s, cuts, side="left") / noisy.size  # noisy below the cut
    tnr = 1.0 - np.searchsorted(clean_s, cuts, side="left") / clean.size  # clean at or above
    score = (tpr + tnr) / 2.0
    best = np.flatnonzero(score >= score.max() - 1e-12)
    # several equally good cuts: the middle one of them
    return float(cuts[best[len(best) // 2]])


def decision_values(estimator: Any, Z: np.ndarray) -> np.ndarray:
    """A fitted classifier's decision values, its log-probabilities when it has none.

    Parameters
    ----------
    estimator : sklearn estimator
        Fitted; a pipeline's final step decides which method is used.
    Z : np.ndarray, float, shape (n, n_inputs)

    Returns
    -------
    np.ndarray, float64, shape (n, n_classes)
        Columns in ``estimator.classes_`` order.
    """
    final = estimator.steps[-1][1] if hasattr(estimator, "steps") else estimator
    if hasattr(final, "decision_function") or not hasattr(estimator, "predict_proba"):
        try:
            dec = np.asarray(estimator.decision_function(Z), dtype=np.float64)
            if dec.ndim == 1:  # binary: sklearn gives the positive class's margin only
                dec = np.stack([-dec, dec], axis=1)
            return dec
        except AttributeError:
            pass
    return np.log(np.maximum(estimator.predict_proba(Z), 1e-12))


class NoiseRoute(ClassifierMixin, BaseEstimator):
    """A noise-routed classifier: a meta-estimator holding the clean-speech classifier, the
    noise branch and the SNR cut between them.

    As :class:`sklearn.calibration.CalibratedClassifierCV` wraps its estimator, this wraps
    two: ``estimator`` classifies the utterances whose SNR column is at or above the cut,
    ``branch`` the others. Both see the same input (the session-normalised features); the
    SNR is read from the raw extractor output and passed alongside (``snr_db``), so the route
    sits after the session normaliser in :class:`ser_live.estimator.EmotionEstimator`, which
    reads the column with :meth:`snr_db`.

    Parameters
    ----------
    estimator : sklearn classifier
        The clean-speech classifier (``predict_proba`` and/or ``decision_function``,
        ``classes_``).
    branch : sklearn classifier
        The noise branch, same classes.
    column : int, default 0
        Index of the SNR column in the extractor's full feature vector (before any subset or
        normalisation).
    column_name : str, default ``DEFAULT_SNR_COLUMN``
        Its feature name (checked against the extractor when a model is loaded).
    threshold_db : float, optional
        A fixed cut (dB); None: :meth:`fit` sets it with :func:`fit_threshold`.
    prefit : bool, default False
        ``estimator`` and ``branch`` are already fitted (e.g. by a grid search): :meth:`fit`
        only sets the cut.

    Attributes
    ----------
    threshold_db_ : float
        The cut (dB): utterances whose column is below it go to ``branch``.
    classes_ : np.ndarray
        ``estimator.classes_``.
    stats_ : dict
        From :meth:`fit`: 5th/95th percentiles (dB) of the column over the clean rows
        (``clean_db_p5_p95``) and the noise copies (``noisy_db_p5_p95``) and the percent of
        each on the wrong side of the cut (``clean_below_cut_pct``, ``noisy_above_cut_pct``).
    """

    def __init__(self, estimator: Any = None, branch: Any = None, *, column: int = 0,
                 column_name: str = DEFAULT_SNR_COLUMN, threshold_db: float | None = None,
                 prefit: bool = False) -> None:
        self.estimator = estimator
        self.branch = branch
        self.column = column
        self.column_name = column_name
        self.threshold_db = threshold_db
        self.prefit = prefit

    def fit(self, Z: np.ndarray, y: np.ndarray, *, snr_db: np.ndarray, noise_copy: np.ndarray,
            **fit_params: Any) -> "NoiseRoute":
        """Fit the clean classifier on the clean rows, the branch on all rows, and the cut.

        Parameters
        ----------
        Z : np.ndarray, float32, shape (n, n_inputs)
            Normalised training rows, clean rows and noise copies.
        y : np.ndarray, int, shape (n,)
        snr_db : np.ndarray, float, shape (n,)
            The SNR column of the raw rows (:meth:`snr_db`), dB.
        noise_copy : np.ndarray, bool, shape (n,)
            Rows that are noise-mixed copies (the branch's own training data).
        **fit_params
            Passed to both classifiers' ``fit``, row-aligned arrays sliced to their rows.

        Returns
        -------
        self

        Raises
        ------
        ValueError
            No clean or no noisy rows (from :func:`fit_threshold`); shapes that disagree.
        """
        noise = np.asarray(noise_copy, dtype=bool)
        snr = np.asarray(snr_db, dtype=np.float64)
        if not (len(noise) == len(snr) == len(Z) == len(y)):
            raise ValueError(f"NoiseRoute.fit: {len(Z)} rows, {len(y)} labels, {len(snr)} SNR values, "
                             f"{len(noise)} noise_copy flags")
        if not self.prefit:
            clean = ~noise

            def rows(mask: np.ndarray) -> dict:
                return {k: (v[mask] if isinstance(v, np.ndarray) and len(v) == len(noise) else v)
                        for k, v in fit_params.items()}

            self.estimator.fit(Z[clean], y[clean], **rows(clean))
            self.branch.fit(Z, y, **rows(np.ones_like(noise)))
        if list(self.estimator.classes_) != list(self.branch.classes_):
            raise ValueError("the noise branch was fitted on other classes than the main classifier")
        clean_db, noisy_db = snr[~noise], snr[noise]
        cut = fit_threshold(clean_db, noisy_db) if self.threshold_db is None else float(self.threshold_db)
        self.threshold_db_ = float(cut)
        self.classes_ = self.estimator.classes_
        self.stats_ = {
            "clean_db_p5_p95": [round(float(v), 1) for v in np.percentile(clean_db, [5, 95])],
            "noisy_db_p5_p95": [round(float(v), 1) for v in np.percentile(noisy_db, [5, 95])],
            "clean_below_cut_pct": round(100 * float(np.mean(clean_db < cut)), 2),
            "noisy_above_cut_pct": round(100 * float(np.mean(noisy_db >= cut)), 2),
        }
        return self

    def snr_db(self, X_raw: np.ndarray) -> np.ndarray:
        """The SNR column of raw feature rows.

        Parameters
        ----------
        X_raw : np.ndarray, float, shape (n, n_features)
            Extractor output, before normalisation.

        Returns
        -------
        np.ndarray, float64, shape (n,)
            dB.

        Raises
        ------
        ValueError
            An input narrower than ``column + 1``.
        """
        return snr_column(X_raw, column=self.column, column_name=self.column_name)

    def noisy(self, snr_db: np.ndarray) -> np.ndarray:
        """Which rows go to the noise branch.

        Parameters
        ----------
        snr_db : np.ndarray, float, shape (n,)
            :meth:`snr_db` of the raw rows.

        Returns
        -------
        np.ndarray, bool, shape (n,)
            True where the SNR is below :attr:`threshold_db_` (a non-finite value stays on
            the main classifier).
        """
        return below_cut(snr_db, self.threshold_db_)

    def predict_proba(self, Z: np.ndarray, *, snr_db: np.ndarray) -> np.ndarray:
        """Class probabilities, each row from the classifier its SNR picks.

        Parameters
        ----------
        Z : np.ndarray, float32, shape (n, n_inputs)
        snr_db : np.ndarray, float, shape (n,)

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)
            Columns in :attr:`classes_` order.
        """
        out = np.asarray(self.estimator.predict_proba(Z), dtype=np.float64)
        noisy = self.noisy(snr_db)
        if noisy.any():
            out[noisy] = self.branch.predict_proba(Z[noisy])
        return out

    def decision_function(self, Z: np.ndarray, *, snr_db: np.ndarray) -> np.ndarray:
        """Decision values (:func:`decision_values`), routed as :meth:`predict_proba`.

        Returns
        -------
        np.ndarray, float64, shape (n, n_classes)
        """
        dec = decision_values(self.estimator, Z)
        noisy = self.noisy(snr_db)
        if noisy.any():
            dec[noisy] = decision_values(self.branch, Z[noisy])
        return dec
