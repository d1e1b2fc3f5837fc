"""Speaker-independent evaluation protocols: which records train and which test, fold by fold.

The protocol names are those of ``DESIGN.md``; results are compared on them.

==========================  =========  ==================  ====================================
name                        corpus     classes             folds
==========================  =========  ==================  ====================================
``ravdess-6fold``           RAVDESS    8                   fold k (1..6) tests actors k, k+6,
                                                           k+12, k+18; trains on the other 20
``emodb-loso``              EmoDB      7                   leave one speaker out (10)
``tess-loso``               TESS       7                   train on one speaker, test the other
``cross:<train>-><test>``   any two    labels both share   train all of one, test all of other
==========================  =========  ==================  ====================================

Data loading is injectable: :func:`make_folds` takes the records per corpus (a mapping or a
loader function), so tests can run the protocols on small hand-made record lists.

References
----------
.. [1] Z. Ma et al., "EmoBox: Multilingual multi-corpus speech emotion recognition toolkit
   and benchmark", Interspeech 2024 (the RAVDESS 6-fold split by actor).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping, Sequence, Union

import numpy as np

from .corpora import CANONICAL_LABELS, ReadResult, Record, read_corpus

__all__ = ["PROTOCOLS", "Fold", "FoldSet", "RecordSource", "make_folds", "protocol_classes"]

log = logging.getLogger(__name__)

#: Protocol name -> description. ``cross:<train>-><test>`` stands for any pair of corpora.
PROTOCOLS: dict[str, str] = {
    "ravdess-6fold": (
        "RAVDESS speech, 8 classes, 6 folds by actor: fold k (1..6) tests actors k, k+6, "
        "k+12, k+18 and trains on the other 20 (the EmoBox protocol)"
    ),
    "emodb-loso": "EmoDB, 7 classes, leave one speaker out: 10 folds",
    "tess-loso": "TESS, 7 classes, train on one speaker and test the other: 2 folds",
    "cross:<train>-><test>": (
        "train on all of one corpus, test on all of another (e.g. cross:ravdess->emodb), "
        "restricted to the labels both share: 1 fold"
    ),
}

_WITHIN: dict[str, tuple[str, tuple[str, ...]]] = {
    "ravdess-6fold": (
        "ravdess",
        ("neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
    ),
    "emodb-loso": (
        "emodb",
        ("neutral", "happy", "sad", "angry", "fearful", "disgust", "boredom"),
    ),
    "tess-loso": (
        "tess",
        ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised"),
    ),
}

_CROSS_RE = re.compile(r"^cross:\s*([A-Za-z0-9_\-]+?)\s*->\s*([A-Za-z0-9_\-]+)\s*$")

#: Records per corpus: a mapping ``{corpus: records}``, a loader ``name -> records`` (or
#: ``-> ReadResult``), or None to read the shipped corpora with :func:`train.corpora.read_corpus`.
RecordSource = Union[
    Mapping[str, Sequence[Record]], Callable[[str], Union[Sequence[Record], ReadResult]], None
]


@dataclass
class Fold:
    """One train/test split of a protocol.

    Attributes
    ----------
    name : str
        ``"fold1"`` ... for ``ravdess-6fold``, the test speaker (``"emodb-03"``) for the
        leave-one-speaker-out protocols, ``"ravdess->emodb"`` for a cross protocol.
    train_idx : np.ndarray, int64, shape (n_train,)
        Indices into the protocol's records, ascending.
    test_idx : np.ndarray, int64, shape (n_test,)
        Indices into the protocol's records, ascending; no speaker of these is in
        ``train_idx``.
    test_speakers : tuple of str
        Sorted speaker ids of the test records.
    """

    name: str
    train_idx: np.ndarray
    test_idx: np.ndarray
    test_speakers: tuple[str, ...]

    def __post_init__(self) -> None:
        self.train_idx = np.asarray(self.train_idx, dtype=np.int64)
        self.test_idx = np.asarray(self.test_idx, dtype=np.int64)
        self.test_speakers = tuple(self.test_speakers)


@dataclass(frozen=True)
class FoldSet:
    """A protocol made concrete: records, class list and folds.

    Unpacks as ``records, labels, folds = make_folds(...)``.

    Attributes
    ----------
    protocol : str
        Protocol name, normalised (lower case, no spaces), e.g. ``"cross:ravdess->emodb"``.
    records : list of Record
        Every record the protocol uses; fold indices point into this list.
    labels : list of str
        The protocol's classes present in ``records``, in :data:`CANONICAL_LABELS` order.
    folds : list of Fold
    dropped : dict of str to int
        Records left out because their label is not one of the protocol's classes, per
        label (e.g. ``{"calm": 192, "surprised": 192, "boredom": 81}`` for
        ``cross:ravdess->emodb``).
    """

    protocol: str
    records: list[Record]
    labels: list[str]
    folds: list[Fold]
    dropped: dict[str, int] = field(default_factory=dict)

    def __iter__(self) -> Iterator:
        return iter((self.records, self.labels, self.folds))

    @property
    def y(self) -> np.ndarray:
        """Class index of each record into :attr:`labels`, int64, shape (n_records,)."""
        index = {lab: i for i, lab in enumerate(self.labels)}
        return np.array([index[r.label] for r in self.records], dtype=np.int64)

    @property
    def speakers(self) -> np.ndarray:
        """Speaker id per record: object array of str, shape (n_records,), for group splits."""
        return np.array([r.speaker for r in self.records], dtype=object)


def _valid_names() -> str:
    return ", ".join(PROTOCOLS)


def protocol_classes(protocol: str) -> tuple[str, ...] | None:
    """The classes a protocol defines.

    Parameters
    ----------
    protocol : str
        A name of :data:`PROTOCOLS` (``cross:<train>-><test>`` with real corpus names).

    Returns
    -------
    tuple of str or None
        The within-corpus protocol's classes in :data:`CANONICAL_LABELS` order; None for a
        ``cross:`` protocol, whose classes are the labels the two corpora share.

    Raises
    ------
    ValueError
        Unknown protocol name.
    """
    name = protocol.strip().lower()
    if name in _WITHIN:
        return _WITHIN[name][1]
    if _CROSS_RE.match(name):
        return None
    raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")


def _load(corpus: str, source: RecordSource) -> list[Record]:
    if source is None:
        out: Sequence[Record] | ReadResult = read_corpus(corpus)
    elif isinstance(source, Mapping):
        if corpus not in source:
            raise ValueError(
                f"no records given for corpus {corpus!r} (have: {', '.join(source) or 'none'})"
            )
        out = source[corpus]
    else:
        out = source(corpus)
    records = list(out.records if isinstance(out, ReadResult) else out)
    if not records:
        raise ValueError(f"corpus {corpus!r}: no records")
    wrong = {r.corpus for r in records} - {corpus}
    if wrong:
        raise ValueError(
            f"records given for corpus {corpus!r} include records of {sorted(wrong)}"
        )
    return records


def _restrict(
    records: Sequence[Record], classes: Sequence[str]
) -> tuple[list[Record], dict[str, int]]:
    keep = set(classes)
    kept = [r for r in records if r.label in keep]
    dropped = dict(sorted(Counter(r.label for r in records if r.label not in keep).items()))
    return kept, dropped


def _ordered(labels: set[str]) -> list[str]:
    order = {c: i for i, c in enumerate(CANONICAL_LABELS)}
    return sorted(labels, key=lambda k: (order.get(k, len(order)), k))


def _fold(name: str, speakers: np.ndarray, test_speakers: set[str]) -> Fold:
    is_test = np.isin(speakers, list(test_speakers))
    return Fold(
        name=name,
        train_idx=np.flatnonzero(~is_test),
        test_idx=np.flatnonzero(is_test),
        test_speakers=tuple(sorted(test_speakers)),
    )


def _ravdess_actor(speaker: str) -> int:
    m = re.fullmatch(r"ravdess-(\d{2})", speaker)
    if not m or not 1 <= int(m.group(1)) <= 24:
        raise ValueError(f"ravdess-6fold: speaker {speaker!r} is not ravdess-01 ... ravdess-24")
    return int(m.group(1))


def _check(protocol: str, folds: Sequence[Fold]) -> None:
    for f in folds:
        if f.test_idx.size == 0 or f.train_idx.size == 0:
            raise ValueError(
                f"{protocol}: fold {f.name} has {f.train_idx.size} training and "
                f"{f.test_idx.size} test records; the records lack the speakers it needs"
            )


def make_folds(protocol: str, source: RecordSource = None) -> FoldSet:
    """Build the folds of an evaluation protocol.

    Parameters
    ----------
    protocol : str
        ``"ravdess-6fold"``, ``"emodb-loso"``, ``"tess-loso"`` or ``"cross:<train>-><test>"``
        (e.g. ``"cross:ravdess->emodb"``); see :data:`PROTOCOLS`.
    source : mapping, callable or None
        Where records come from: ``{corpus: records}``, a function ``corpus -> records``
        (or ``-> ReadResult``), or None to read the shipped corpora from the shared data
        folder (:func:`train.corpora.read_corpus`).

    Returns
    -------
    FoldSet
        Unpacks as ``(records, labels, folds)``. Records whose label is not one of the
        protocol's classes are left out and counted in ``dropped`` (logged). Every fold is
        speaker-disjoint; in a within-corpus protocol every record is tested exactly once.

    Raises
    ------
    ValueError
        Unknown protocol (the message lists the valid ones); a cross protocol naming one
        corpus twice or corpora that share fewer than two labels; records that do not fit
        the protocol (a RAVDESS speaker outside 01-24, a fold left with no training or no
        test record, fewer than two speakers for leave-one-speaker-out).

    References
    ----------
    .. [1] Ma et al., EmoBox (Interspeech 2024), for ``ravdess-6fold``.
    """
    name = protocol.strip().lower()
    if name in _WITHIN:
        corpus, classes = _WITHIN[name]
        records, dropped = _restrict(_load(corpus, source), classes)
        if not records:
            raise ValueError(f"{name}: no records with a label among {classes}")
        speakers = np.array([r.speaker for r in records], dtype=object)
        if name == "ravdess-6fold":
            actors = {s: _ravdess_actor(s) for s in set(speakers)}
            folds = [
                _fold(
                    f"fold{k}",
                    speakers,
                    {s for s, a in actors.items() if (a - 1) % 6 == k - 1},
                )
                for k in range(1, 7)
            ]
        else:
            distinct = sorted(set(speakers))
            if len(distinct) < 2:
                raise ValueError(f"{name}: needs at least two speakers, got {distinct}")
            folds = [_fold(s, speakers, {s}) for s in distinct]
        labels = _ordered({r.label for r in records})
        absent = [c for c in classes if c not in labels]
        if absent:
            log.warning("%s: classes with no record: %s", name, absent)
    else:
        m = _CROSS_RE.match(name)
        if not m:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")
        train_c, test_c = m.groups()
        name = f"cross:{train_c}->{test_c}"
        if train_c == test_c:
            raise ValueError(
                f"{name}: train and test corpus are the same; use a within-corpus protocol "
                f"({', '.join(_WITHIN)})"
            )
        train_r, test_r = _load(train_c, source), _load(test_c, source)
        shared = {r.label for r in train_r} & {r.label for r in test_r}
        if len(shared) < 2:
            raise ValueError(
                f"{name}: the corpora share {len(shared)} label(s) {sorted(shared)}; need two"
            )
        labels = _ordered(shared)
        train_k, train_d = _restrict(train_r, labels)
        test_k, test_d = _restrict(test_r, labels)
        dropped = dict(sorted((Counter(train_d) + Counter(test_d)).items()))
        records = train_k + test_k
        overlap = {r.speaker for r in train_k} & {r.speaker for r in test_k}
        if overlap:  # only when speaker ids are not corpus-prefixed
            raise ValueError(f"{name}: speakers on both sides: {sorted(overlap)[:5]}")
        n_train = len(train_k)
        folds = [
            Fold(
                name=f"{train_c}->{test_c}",
                train_idx=np.arange(n_train),
                test_idx=np.arange(n_train, len(records)),
                test_speakers=tuple(sorted({r.speaker for r in test_k})),
            )
        ]
    _check(name, folds)
    if dropped:
        log.info(
            "%s: %d records left out (labels not in the protocol): %s",
            name,
            sum(dropped.values()),
            dropped,
        )
    return FoldSet(protocol=name, records=records, labels=labels, folds=folds, dropped=dropped)
