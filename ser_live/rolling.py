"""The rolling estimate: a conversation's emotion as a recency-weighted average of its
utterances' probabilities (:class:`RollingEstimate`), shared by the live recogniser and
offline segment prediction."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from .types import Result

__all__ = ["RollingEstimate", "DEFAULT_HALF_LIFE_S"]

#: Default half-life of the rolling estimate (stream seconds).
DEFAULT_HALF_LIFE_S: float = 20.0
#: Weights below this fraction of the newest utterance's decay are forgotten.
_FORGET_BELOW: float = 1e-6


class RollingEstimate:
    """Recency-weighted average of utterance probabilities over a conversation.

    After utterances ``i = 1..n`` (probability vectors ``p_i``, lengths ``d_i`` in seconds,
    confidences ``c_i`` = the top probability, ends ``e_i`` in stream seconds) the estimate is

    .. math::

        r = \\frac{\\sum_i w_i \\, p_i}{\\sum_i w_i}, \\qquad
        w_i = d_i \\cdot c_i \\cdot 0.5^{(e_n - e_i) / h}

    with ``h`` the half-life in stream seconds and ``e_n`` the end of the latest utterance.
    Longer and more confident utterances count more; an utterance ``h`` seconds older than
    the latest counts half as much as it did. One odd utterance among several therefore
    moves the estimate only partly, and a lasting change of mood takes over within a few
    utterances. The first utterance gives ``r = p_1``. Utterances whose decay factor falls
    below 1e-6 (about 20 half-lives) are forgotten, so memory stays bounded.

    Parameters
    ----------
    labels : list of str
        Label order of the estimate (the model's labels).
    half_life_s : float, default 20.0
        Age (stream seconds) at which an utterance's weight has halved; ``inf`` averages
        everything equally (weighted by duration and confidence only).

    Attributes
    ----------
    estimate : dict of str to float
        The current estimate (label -> probability, summing to 1); empty before the first
        update.

    Raises
    ------
    ValueError
        ``half_life_s`` not positive, or no labels.
    """

    def __init__(self, labels: list[str], *, half_life_s: float = DEFAULT_HALF_LIFE_S) -> None:
        if not labels:
            raise ValueError("labels must not be empty")
        if not (half_life_s > 0):
            raise ValueError(f"half_life_s must be positive, got {half_life_s}")
        self.labels = list(labels)
        self.half_life_s = float(half_life_s)
        self._items: list[tuple[np.ndarray, float, float]] = []  # (p, d*c, end_s)
        self._latest_end_s = -math.inf
        self.estimate: dict[str, float] = {}

    def reset(self) -> None:
        """Forget every utterance."""
        self._items.clear()
        self._latest_end_s = -math.inf
        self.estimate = {}

    def update(
        self,
        result: Result | Mapping[str, float],
        *,
        duration_s: float | None = None,
        confidence: float | None = None,
        end_s: float | None = None,
    ) -> dict[str, float]:
        """Add one utterance and return the new estimate.

        Parameters
        ----------
        result : Result or mapping of str to float
            A classified utterance (its probabilities, duration, confidence and end are
            used), or the probabilities (label -> probability) themselves, in which case
            ``duration_s``, ``end_s`` are required and ``confidence`` defaults to the
            largest probability.
        duration_s : float, optional
            Utterance length (seconds).
        confidence : float, optional
            Confidence in [0, 1].
        end_s : float, optional
            End of the utterance in stream seconds.

        Returns
        -------
        dict of str to float
            The estimate after this utterance (a new dict; also kept in :attr:`estimate`).

        Raises
        ------
        ValueError
            Missing keywords with a bare mapping, or a label the estimate does not know.
        """
        if isinstance(result, Result):
            probs: Mapping[str, float] = result.prediction.probabilities
            duration_s = result.utterance.duration_s
            confidence = result.prediction.confidence
            end_s = result.utterance.end_s
        else:
            probs = result
            if duration_s is None or end_s is None:
                raise ValueError("duration_s and end_s are needed with bare probabilities")
        unknown = set(probs) - set(self.labels)
        if unknown:
            raise ValueError(f"labels not in the estimate: {sorted(unknown)}")
        p = np.array([float(probs.get(lab, 0.0)) for lab in self.labels], dtype=np.float64)
        if confidence is None:
            confidence = float(p.max())
        self._items.append((p, max(float(duration_s), 0.0) * max(float(confidence), 0.0), float(end_s)))
        self._latest_end_s = max(self._latest_end_s, float(end_s))
        return self._recompute()

    def _recompute(self) -> dict[str, float]:
        latest = self._latest_end_s
        h = self.half_life_s
        decays = [0.5 ** (max(latest - e, 0.0) / h) for _p, _w, e in self._items]
        keep = [i for i, dec in enumerate(decays) if dec >= _FORGET_BELOW]
        self._items = [self._items[i] for i in keep]
        decays = [decays[i] for i in keep]
        weights = np.array([w * dec for (_p, w, _e), dec in zip(self._items, decays)])
        P = np.vstack([p for p, _w, _e in self._items])
        total = float(weights.sum())
        if total > 0:
            r = weights @ P / total
        else:  # only zero-length or zero-confidence utterances: plain mean
            r = P.mean(axis=0)
        s = float(r.sum())
        if s > 0:
            r = r / s
        self.estimate = {lab: float(v) for lab, v in zip(self.labels, r)}
        return dict(self.estimate)
