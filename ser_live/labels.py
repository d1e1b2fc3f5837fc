"""The emotion label vocabulary shared by the runtime, the dashboard and the training code.

One home for the canonical labels, the four classes every corpus shares, and the synonyms
corpora and users write for them (``"anger"``, ``"ANG"``, ``"pleasant surprise"`` ...).
"""

from __future__ import annotations

import re

__all__ = ["CANONICAL_LABELS", "CORE_LABELS", "LABEL_SYNONYMS", "canonical_label"]

#: The label vocabulary every corpus reader maps to, in the order reports list classes.
CANONICAL_LABELS: tuple[str, ...] = (
    "neutral",
    "calm",
    "happy",
    "sad",
    "angry",
    "fearful",
    "disgust",
    "surprised",
    "boredom",
)

#: The four classes every corpus shares (cross-corpus protocols score these), in
#: :data:`CANONICAL_LABELS` order.
CORE_LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry")

#: Synonyms seen in corpus names and in user folders / CSV files -> canonical label
#: (keys lower-case, ``_``-joined; every canonical label maps to itself).
LABEL_SYNONYMS: dict[str, str] = {
    **{c: c for c in CANONICAL_LABELS},
    "neu": "neutral",
    "happiness": "happy",
    "hap": "happy",
    "joy": "happy",
    "sadness": "sad",
    "anger": "angry",
    "ang": "angry",
    "fear": "fearful",
    "fea": "fearful",
    "afraid": "fearful",
    "disgusted": "disgust",
    "dis": "disgust",
    "surprise": "surprised",
    "sur": "surprised",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
    "bored": "boredom",
}


def canonical_label(name: str) -> str | None:
    """Map a label as written in a corpus or a user's folder to its canonical form.

    Parameters
    ----------
    name : str
        E.g. ``"Anger"``, ``"pleasant surprise"``, ``"FEA"``; case, surrounding spaces, inner
        spaces and hyphens are ignored.

    Returns
    -------
    str or None
        One of :data:`CANONICAL_LABELS`, or None when the name is not a known synonym.
    """
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    return LABEL_SYNONYMS.get(key)
