"""Arousal and valence read off a categorical model's class probabilities: the one definition.

Every place that gives arousal or valence uses this module: the live records (``--jsonl``,
the recordings index, ``--revisions``), ``ser-live predict`` records and columns, the
dashboard, the Python API (:attr:`Prediction.arousal <ser_live.types.Prediction.arousal>`)
and the evaluation reports (:mod:`train.roc`).

The values are **derived from the categorical model**, not from a head trained for them.
Each label has a position on Russell's circumplex of affect [1]_ on each axis
(:data:`AROUSAL`, :data:`VALENCE`: +1 high / positive, -1 low / negative, 0 neither), and an
utterance's score is the probability-weighted sum of its labels' positions:

.. math::

    \\text{arousal} = \\sum_c P(c)\\, a_c, \\qquad \\text{valence} = \\sum_c P(c)\\, v_c

in [-1, 1] (probabilities summing to 1, positions in {-1, 0, +1}). For the four core labels:
arousal = P(angry) + P(happy) - P(neutral) - P(sad), valence = P(happy) - P(angry) - P(sad).
A rolling arousal or valence is the same sum over the rolling estimate's probabilities
(:class:`~ser_live.rolling.RollingEstimate`), which is the same recency-weighted average of
the utterances' arousal (the sum is linear).

Every canonical label (:data:`ser_live.labels.CANONICAL_LABELS`) has a position on both axes,
0 where the circumplex gives none (the reason is stated beside each table). A label outside
the tables (a model trained on a user's own labels, say ``"contempt"``) has **no** position:
:func:`affect_scores` raises rather than count it as 0, because a silent 0 would pull every
score towards the middle by that label's probability and hide that the mapping does not
cover the model. The record-level helper :func:`affect_of` turns that error into None, so a
run with such a model goes on and its records carry ``"arousal": null`` (logged once).

Scored on six-corpus ``loco`` as two-class UA of the sign (README, "Scores"; ``python -m
train evaluate --protocol loco``): the arousal score carries to unseen voices far better than
the four classes; valence less so.

References
----------
.. [1] J. A. Russell, "A circumplex model of affect", Journal of Personality and Social
   Psychology 39(6), 1161-1178, 1980 (anger: high arousal, unpleasant; happiness/delight:
   high arousal, pleasant; sadness: low arousal, unpleasant; calm/relaxed: low arousal,
   pleasant; neutral taken as low arousal, neither pleasant nor unpleasant).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["AFFECT_AXES", "AROUSAL", "VALENCE", "MAPPING_NOTE", "UnmappedLabelError", "affect_formula", "affect_of",
           "affect_record", "affect_scores", "affect_weights", "has_affect"]

log = logging.getLogger(__name__)

#: The two axes, in the order :func:`affect_weights` stacks them and records list them.
AFFECT_AXES: tuple[str, str] = ("arousal", "valence")

#: Arousal position of each canonical label (+1 high, -1 low, 0 none): Russell (1980), Fig. 2;
#: fearful ("afraid", "alarmed") and surprised ("astonished") high, boredom ("bored",
#: "tired") and calm low; neutral taken as low (an unmarked, unaroused state). Disgust is 0:
#: the circumplex does not place it (it is unpleasant, its arousal is not given).
AROUSAL: dict[str, int] = {
    "angry": 1, "happy": 1, "fearful": 1, "surprised": 1,
    "neutral": -1, "sad": -1, "calm": -1, "boredom": -1,
    "disgust": 0,
}

#: Valence position of each canonical label (+1 positive, -1 negative, 0 neither): Russell
#: (1980). Neutral is 0 (neither pleasant nor unpleasant), and so is surprised ("astonished"
#: sits on the arousal axis; a surprise may be pleasant or not).
VALENCE: dict[str, int] = {
    "happy": 1, "calm": 1,
    "angry": -1, "sad": -1, "fearful": -1, "disgust": -1, "boredom": -1,
    "neutral": 0, "surprised": 0,
}

#: The mapping as the reports and model cards state it.
MAPPING_NOTE = (
    "Derived from the categorical model's class probabilities (not a trained head): arousal = sum of P(class) x "
    "(+1 high: angry, happy, fearful, surprised; -1 low: neutral, sad, calm, boredom), valence = sum of P(class) x "
    "(+1 positive: happy, calm; -1 negative: angry, sad, fearful, disgust, boredom; neutral, surprised 0), "
    "after Russell's circumplex (J. A. Russell, J. Pers. Soc. Psychol. 39(6), 1980); UA = balanced accuracy of "
    "the score's sign (> 0 high / positive) over the utterances whose class has a side (valence: not neutral)"
)

#: Largest distance of a probability row's sum from 1 that :func:`affect_scores` accepts.
_SUM_TOLERANCE = 1e-5


class UnmappedLabelError(ValueError):
    """A label has no position on the circumplex (not in :data:`AROUSAL` / :data:`VALENCE`)."""


@functools.lru_cache(maxsize=64)
def _weights(labels: tuple[str, ...]) -> np.ndarray:
    missing = [lab for lab in labels if lab not in AROUSAL or lab not in VALENCE]
    if missing:
        raise UnmappedLabelError(
            f"no arousal/valence position for label(s) {missing}: the circumplex mapping "
            f"(ser_live/affect.py) covers {sorted(AROUSAL)}")
    w = np.array([[AROUSAL[lab] for lab in labels], [VALENCE[lab] for lab in labels]], dtype=np.float64)
    w.setflags(write=False)
    return w


def affect_weights(labels: Sequence[str]) -> np.ndarray:
    """The circumplex positions of ``labels``, one row per axis.

    Parameters
    ----------
    labels : sequence of str
        Canonical label names (:data:`ser_live.labels.CANONICAL_LABELS`), e.g. a model's
        ``labels`` in its order.

    Returns
    -------
    np.ndarray, float64, shape (2, len(labels))
        Row 0 the arousal positions (:data:`AROUSAL`), row 1 the valence positions
        (:data:`VALENCE`), each -1, 0 or +1; read-only (cached per label tuple).

    Raises
    ------
    UnmappedLabelError
        (a ValueError) A label not in the tables, named in the message.
    """
    return _weights(tuple(labels))


def has_affect(labels: Sequence[str]) -> bool:
    """Whether every label of ``labels`` has a position on both axes (a model whose
    outputs carry arousal and valence).

    Parameters
    ----------
    labels : sequence of str

    Returns
    -------
    bool
    """
    return all(lab in AROUSAL and lab in VALENCE for lab in labels)


def affect_scores(labels: Sequence[str], P: np.ndarray) -> dict[str, np.ndarray]:
    """Arousal and valence of utterances from their class probabilities (module doc).

    Parameters
    ----------
    labels : sequence of str
        Columns of ``P``, canonical label names.
    P : np.ndarray, float, shape (n, len(labels))
        Probabilities, each row summing to 1 (within 1e-5), every value in [0, 1].

    Returns
    -------
    dict
        ``"arousal"``, ``"valence"``: np.ndarray, float64, shape (n,), in [-1, 1]
        (``P @ positions``; clipped to [-1, 1] against rounding only, which moves a value by
        at most 1e-5).

    Raises
    ------
    UnmappedLabelError
        (a ValueError) A label without a position (:func:`affect_weights`).
    ValueError
        ``P`` not 2-D with ``len(labels)`` columns, not finite, a value outside [0, 1], or a
        row not summing to 1.

    References
    ----------
    J. A. Russell, "A circumplex model of affect", J. Pers. Soc. Psychol. 39(6), 1980.

    Examples
    --------
    >>> s = affect_scores(["neutral", "happy", "sad", "angry"], np.array([[0.1, 0.6, 0.1, 0.2]]))
    >>> [round(float(s["arousal"][0]), 6), round(float(s["valence"][0]), 6)]
    [0.6, 0.3]
    """
    W = affect_weights(labels)
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] != W.shape[1]:
        raise ValueError(f"probabilities must have shape (n, {W.shape[1]}) for {len(labels)} labels, got {P.shape}")
    if P.size:
        if not np.isfinite(P).all() or P.min() < -_SUM_TOLERANCE or P.max() > 1 + _SUM_TOLERANCE:
            raise ValueError("probabilities must be finite and in [0, 1]")
        worst = float(np.abs(P.sum(axis=1) - 1.0).max())
        if worst > _SUM_TOLERANCE:
            raise ValueError(f"probability rows must sum to 1 (a row is {worst:.3g} off)")
    S = np.clip(P @ W.T, -1.0, 1.0)
    return {axis: np.ascontiguousarray(S[:, i]) for i, axis in enumerate(AFFECT_AXES)}


#: Label sets already reported as unmapped by :func:`affect_of` (logged once each).
_WARNED: set[tuple[str, ...]] = set()


def affect_of(probabilities: Mapping[str, float]) -> tuple[float, float] | None:
    """Arousal and valence of one probability vector: an utterance's, or a rolling estimate's.

    What every record and view uses (:meth:`Result.to_json <ser_live.types.Result.to_json>`,
    :func:`ser_live.records.prediction_record`, the dashboard): :func:`affect_scores` on one
    row.

    Parameters
    ----------
    probabilities : mapping of str to float
        Label -> probability (summing to 1), e.g. :attr:`Prediction.probabilities
        <ser_live.types.Prediction.probabilities>` or :attr:`Result.rolling
        <ser_live.types.Result.rolling>`.

    Returns
    -------
    tuple of (float, float) or None
        ``(arousal, valence)``, Python floats in [-1, 1]; None for an empty mapping (no
        rolling estimate yet) or when a label has no position on the circumplex (a model
        trained on labels outside :data:`AROUSAL`; logged once per label set).

    Raises
    ------
    ValueError
        Probabilities that are not a distribution (:func:`affect_scores`).
    """
    if not probabilities:
        return None
    labels = tuple(probabilities)
    try:
        s = affect_scores(labels, np.fromiter(probabilities.values(), dtype=np.float64, count=len(labels))[None, :])
    except UnmappedLabelError as exc:
        if labels not in _WARNED:
            _WARNED.add(labels)
            log.warning("arousal and valence are null: %s", exc)
        return None
    return float(s["arousal"][0]), float(s["valence"][0])


def affect_record(probabilities: Mapping[str, float] | None, *, prefix: str = "", digits: int = 4) -> dict[str, float | None]:
    """The arousal and valence keys of a record, from its probabilities (:func:`affect_of`).

    Parameters
    ----------
    probabilities : mapping of str to float, or None
        Label -> probability; None or empty (an error record, no rolling estimate yet)
        gives null values.
    prefix : str, default ""
        Put before the key names: ``"rolling_"`` gives ``rolling_arousal`` and
        ``rolling_valence``.
    digits : int, default 4
        Decimals kept (the records' probabilities keep 4).

    Returns
    -------
    dict
        ``{prefix + "arousal": a, prefix + "valence": v}``, floats in [-1, 1] rounded to
        ``digits``, or None each when :func:`affect_of` gives None.
    """
    av = affect_of(probabilities) if probabilities else None
    return {prefix + axis: (None if av is None else round(av[i], digits)) for i, axis in enumerate(AFFECT_AXES)}


def affect_formula(labels: Sequence[str]) -> str:
    """The mapping for a model's labels, written out (model cards, :mod:`train.card`).

    Parameters
    ----------
    labels : sequence of str
        The model's labels, in its order.

    Returns
    -------
    str
        E.g. ``"arousal = P(happy) + P(angry) - P(neutral) - P(sad); valence = P(happy) -
        P(sad) - P(angry)"`` (terms in label order, positive first; an axis with no term is
        ``0``), or, when a label has no position, a sentence saying which labels and that
        outputs carry null.
    """
    if not has_affect(labels):
        missing = [lab for lab in labels if lab not in AROUSAL or lab not in VALENCE]
        return f"none (null in every output): {', '.join(missing)} have no position on the circumplex"
    parts = []
    for axis, table in zip(AFFECT_AXES, (AROUSAL, VALENCE)):
        terms = [f"+ P({lab})" for lab in labels if table[lab] > 0] + [f"- P({lab})" for lab in labels if table[lab] < 0]
        expr = " ".join(terms).removeprefix("+ ").replace("- ", "-", 1 if terms and terms[0][0] == "-" else 0)
        parts.append(f"{axis} = {expr or '0'}")
    return "; ".join(parts)
