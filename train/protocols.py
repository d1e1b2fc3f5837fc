"""Speaker-independent evaluation protocols: which records train and which test, fold by fold.

The protocol names are those of ``DESIGN.md``; results are compared on them.

==========================  =========  ==================  ====================================
name                        corpus     classes             folds
==========================  =========  ==================  ====================================
``ravdess-6fold``           RAVDESS    8                   fold k (1..6) tests actors k, k+6,
                                                           k+12, k+18; trains on the other 20
``emodb-loso``              EmoDB      7                   leave one speaker out (10)
``tess-loso``               TESS       7                   train on one speaker, test the other
``emotiontts_kor-loso``     Korean     4                   leave one speaker group out (13;
                                                           ema/nea and emb/neb are one group)
``cross:<train>-><test>``   any two    labels both share   train all of one, test all of other
``loco``                    all six    4 core (scored)     leave one corpus out: train on all
                                                           others, test on it (the headline)
``loco:<a>,<b>,...``        those      4 core (scored)     ``loco`` over the named corpora only
==========================  =========  ==================  ====================================

A recipe may train on other labels than it is scored on (``labels`` and ``label_map`` of
:func:`make_folds`): training records are mapped (e.g. RAVDESS ``calm`` -> ``neutral``) and
kept when the mapped label is one of ``labels``; test records are kept only when their
*original* label is one of the protocol's scored classes, so a mapping never changes what a
test utterance is scored as.

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

from dataclasses import replace

from ser_live.labels import CORE_LABELS

from .corpora import (
    CANONICAL_LABELS, SHIPPED_CORPORA, ReadResult, Record, corpus_name, default_data_root, is_corpus_path, read_corpus, speaker_group,
)
from .corpora.location import data_root_note

__all__ = [
    "PROTOCOLS",
    "CORE_LABELS",
    "Fold",
    "FoldSet",
    "RecordSource",
    "make_folds",
    "check_protocol",
    "protocol_classes",
    "loco_corpora",
    "loco_protocol",
]

log = logging.getLogger(__name__)

#: Protocol name -> description. ``cross:<train>-><test>`` stands for any pair of corpora.
PROTOCOLS: dict[str, str] = {
    "ravdess-6fold": (
        "RAVDESS speech, 8 classes, 6 folds by actor: fold k (1..6) tests actors k, k+6, "
        "k+12, k+18 and trains on the other 20 (the EmoBox protocol)"
    ),
    "emodb-loso": "EmoDB, 7 classes, leave one speaker out: 10 folds",
    "tess-loso": "TESS, 7 classes, train on one speaker and test the other: 2 folds",
    "emotiontts_kor-loso": (
        "Korean emotiontts_kor, 4 classes, leave one speaker group out: 13 folds (ema/nea and "
        "emb/neb, possibly the same two people, are one group each)"
    ),
    "loco": (
        "leave one corpus out over every corpus in the data folder (ravdess, tess, emodb, "
        "emotiontts_kor, ased, es_uem): train on all the others, test on it; scored on angry, "
        "happy, neutral, sad. The headline score"
    ),
    "loco:<a>,<b>,...": (
        "loco over the named corpora only (at least two, e.g. loco:ravdess,emodb,ased; "
        "`--corpora` of `python -m train evaluate`): the others neither train nor test"
    ),
    "personal": (
        "loco's folds; per held-out speaker, k = 0, 1, 3, 5 labelled utterances per class "
        "calibrate a profile and the rest test (train/personal.py; `python -m train evaluate "
        "--protocol personal`)"
    ),
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
    "emotiontts_kor-loso": ("emotiontts_kor", ("neutral", "happy", "sad", "angry")),
}

# a corpus: a name, or the path of a folder (or CSV list) of one's own (train.corpora.is_corpus_path)
_CROSS_RE = re.compile(r"^cross:\s*([^,\s][^,]*?)\s*->\s*([^,\s][^,]*?)\s*$")
_LOCO_RE = re.compile(r"^loco:\s*([^,\s][^,]*?(?:\s*,\s*[^,\s][^,]*?)*)\s*$")


def _normalised(protocol: str) -> str:
    """``protocol`` lower-cased, except the paths of corpora of one's own in it (a file
    system may tell ``Calls/`` from ``calls/``)."""
    s = protocol.strip()
    for prefix in ("loco:", "cross:"):
        if s.lower().startswith(prefix):
            parts = re.split(r"(\s*,\s*|\s*->\s*)", s[len(prefix):])
            return prefix + "".join(p if is_corpus_path(p) else p.lower() for p in parts)
    return s.lower()

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
    score_labels : list of str
        The classes test utterances are scored on (a subset of ``labels``; the model's
        prediction is the argmax over these, the same subset for every test speaker).
        Equal to ``labels`` unless the protocol trains on more classes than it scores.
    """

    protocol: str
    records: list[Record]
    labels: list[str]
    folds: list[Fold]
    dropped: dict[str, int] = field(default_factory=dict)
    score_labels: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.score_labels:
            object.__setattr__(self, "score_labels", list(self.labels))

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

    @property
    def groups(self) -> np.ndarray:
        """Split group per record (:func:`train.corpora.speaker_group`): speaker ids that
        may be one person share a group. Object array of str, shape (n_records,)."""
        return np.array([speaker_group(r.speaker) for r in self.records], dtype=object)

    @property
    def corpora(self) -> np.ndarray:
        """Corpus name per record: object array of str, shape (n_records,)."""
        return np.array([r.corpus for r in self.records], dtype=object)

    def split(self, X: object = None, y: object = None, groups: object = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The folds as a scikit-learn splitter: ``(train_idx, test_idx)`` per fold, in fold
        order, so a FoldSet can be any ``cv=`` (``cross_val_predict(est, X, fs.y, cv=fs)``).

        Parameters
        ----------
        X, y, groups : ignored
            The protocol fixed the folds (scikit-learn's splitter signature).

        Yields
        ------
        train_idx, test_idx : np.ndarray, int64
            Indices into :attr:`records` (the same arrays as :attr:`folds`; the evaluation
            engine narrows training rows to a recipe's corpora: ``train.engine.training_rows``).
        """
        for fold in self.folds:
            yield fold.train_idx, fold.test_idx

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        """Number of folds (scikit-learn's splitter signature; arguments ignored)."""
        return len(self.folds)

    def subset(self, keep: np.ndarray) -> "FoldSet":
        """The protocol without some of its records (files left out after the folds were made,
        e.g. silent ones): the same folds, their indices renumbered.

        Parameters
        ----------
        keep : np.ndarray, bool, shape (n_records,)
            True for the records that stay.

        Returns
        -------
        FoldSet
            :attr:`records` where ``keep``; labels, names and test speakers as before.

        Raises
        ------
        ValueError
            A fold is left with no training or no test record.
        """
        keep = np.asarray(keep, dtype=bool)
        new = np.cumsum(keep) - 1  # old index -> new index, for the kept ones
        folds = [
            Fold(name=f.name, train_idx=new[f.train_idx[keep[f.train_idx]]], test_idx=new[f.test_idx[keep[f.test_idx]]],
                 test_speakers=f.test_speakers)
            for f in self.folds
        ]
        _check(self.protocol, folds)
        return replace(self, records=[r for r, k in zip(self.records, keep) if k], folds=folds)


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
    if name in ("loco", "personal") or _LOCO_RE.match(name):
        return CORE_LABELS
    if _CROSS_RE.match(name):
        return None
    raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")


def check_protocol(protocol: str) -> None:
    """Refuse a protocol name :func:`make_folds` would refuse, before any work: reads no
    audio, only which corpus folders exist (for ``loco:<a>,<b>,...``).

    ``python -m train evaluate --protocol A B ...`` checks every name first, so a typo in
    the last one is not found after the first ones have run (an hour for ``loco``).

    Parameters
    ----------
    protocol : str
        A protocol as :func:`make_folds` takes it (shipped corpora only as ``source``).

    Raises
    ------
    ValueError
        Unknown protocol (the message lists the valid ones); a ``cross:`` protocol naming
        a corpus that is not a shipped one or a path of one's own, or one corpus twice; a
        ``loco:`` list :func:`loco_corpora` refuses, or of fewer than two corpora.
    """
    name = _normalised(protocol)
    if name in _WITHIN or name in ("loco", "personal"):
        return
    if name.startswith("loco:"):
        m = _LOCO_RE.match(name)
        if not m:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")
        corpora = loco_corpora(None, re.split(r"\s*,\s*", m.group(1)))
        if len(corpora) < 2:
            raise ValueError(f"loco: needs at least two corpora, found {corpora}")
        return
    m = _CROSS_RE.match(name)
    if not m:
        raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")
    _cross_corpora(*m.groups(), source=None)


def _cross_corpora(train_c: str, test_c: str, *, source: RecordSource) -> str:
    """The name ``cross:<train>-><test>``, after refusing an unknown corpus or one corpus
    on both sides (ValueError)."""
    name = f"cross:{train_c}->{test_c}"
    for c in (train_c, test_c):  # before the checks of make_folds blame something else
        _check_known(c, source, name)
    if train_c == test_c:
        raise ValueError(
            f"{name}: train and test corpus are the same; use a within-corpus protocol "
            f"({', '.join(_WITHIN)})"
        )
    return name


def _check_known(corpus: str, source: RecordSource, protocol: str = "") -> None:
    """Refuse a corpus name the source does not have, naming it and the ones it has (a
    loader function's names are known only by calling it)."""
    if source is None and corpus not in SHIPPED_CORPORA and not is_corpus_path(corpus):
        raise ValueError(f"{protocol}: unknown corpus {corpus!r} (not a shipped one); known: {', '.join(SHIPPED_CORPORA)}")
    if isinstance(source, Mapping) and corpus not in source:
        raise ValueError(
            f"no records given for corpus {corpus!r} (have: {', '.join(source) or 'none'})"
        )


def _load(corpus: str, source: RecordSource) -> list[Record]:
    if source is None:
        out: Sequence[Record] | ReadResult = read_corpus(corpus)
    elif isinstance(source, Mapping):
        _check_known(corpus, source)
        out = source[corpus]
    else:
        out = source(corpus)
    records = list(out.records if isinstance(out, ReadResult) else out)
    if not records:
        raise ValueError(f"corpus {corpus!r}: no records")
    wrong = {r.corpus for r in records} - {corpus_name(corpus) if source is None else corpus}
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


def loco_corpora(source: RecordSource = None, corpora: Sequence[str] | None = None) -> list[str]:
    """The corpora ``loco`` leaves out one by one.

    Parameters
    ----------
    source : mapping, callable or None
        A mapping's keys; otherwise the shipped corpora (:data:`SHIPPED_CORPORA`) whose
        folder exists under the data root.
    corpora : sequence of str, optional
        A subset to keep (``loco:<a>,<b>,...``; names case-insensitive, ``-`` for ``_``),
        returned in the order of the available ones; with ``source`` None, paths of corpora
        of one's own too (:func:`train.corpora.is_corpus_path`), after the shipped ones in
        the order given.

    Returns
    -------
    list of str

    Raises
    ------
    ValueError
        ``corpora`` names a corpus that is not available (the message lists those that
        are) or names one twice.
    """
    if isinstance(source, Mapping):
        available = list(source)
    else:
        root = default_data_root()
        available = [c for c in SHIPPED_CORPORA if (root / c).is_dir()]
    if corpora is None:
        return available
    own = [c.strip() for c in corpora if source is None and is_corpus_path(c)]
    lowered = [c.strip().lower() for c in corpora if c.strip() not in own]  # "es-uem" is es_uem, "my-calls" itself
    wanted = [c if c in available else c.replace("-", "_") for c in lowered]
    names = wanted + [corpus_name(c) for c in own]  # what the records of each are called
    repeated = sorted({c for c in names if names.count(c) > 1})
    if repeated:
        raise ValueError(f"loco: corpora named twice: {', '.join(repeated)} (a folder of one's own is "
                         "named after its folder: rename one)")
    unknown = [c for c in wanted if c not in available]
    if unknown:
        raise ValueError(
            f"loco: no corpus {', '.join(map(repr, unknown))} here; available: {', '.join(available) or 'none'}"
            + (", or the path of a folder of one's own (e.g. ./mycalls)" if source is None else "")
        )
    return [c for c in available if c in wanted] + own


def loco_protocol(corpora: Sequence[str] | None, source: RecordSource = None) -> str:
    """The protocol name of ``loco`` over a subset of corpora.

    Parameters
    ----------
    corpora : sequence of str or None
        Corpus names (``--corpora``); None for all of them.
    source : mapping, callable or None
        As :func:`make_folds` (which corpora are available).

    Returns
    -------
    str
        ``"loco"`` when ``corpora`` is None or names every available corpus, else
        ``"loco:<a>,<b>,..."`` in the order of the available corpora (a report's name then
        says which corpora it covers, and never overwrites the headline ``loco`` report).

    Raises
    ------
    ValueError
        As :func:`loco_corpora`.
    """
    if corpora is None:
        return "loco"
    chosen = loco_corpora(source, corpora)
    return "loco" if chosen == loco_corpora(source) else "loco:" + ",".join(chosen)


def _train_test_records(
    records: Sequence[Record], labels: Sequence[str], label_map: Mapping[str, str], scored: Sequence[str]
) -> tuple[list[Record], np.ndarray, dict[str, int]]:
    """Map training labels; mark records whose original label is scored.

    Returns the kept records (label mapped), a bool mask ``testable`` (original label in
    ``scored``) and the dropped counts per original label.
    """
    keep, score = set(labels), set(scored)
    out: list[Record] = []
    testable: list[bool] = []
    dropped: Counter = Counter()
    for r in records:
        mapped = label_map.get(r.label, r.label)
        if mapped not in keep:
            dropped[r.label] += 1
            continue
        out.append(r if mapped == r.label else replace(r, label=mapped))
        testable.append(r.label in score and mapped == r.label)
    return out, np.array(testable, dtype=bool), dict(sorted(dropped.items()))


def _loco(
    source: RecordSource,
    labels: Sequence[str] | None,
    label_map: Mapping[str, str],
    subset: Sequence[str] | None = None,
) -> tuple[list[Record], list[str], list[Fold], dict[str, int], list[str]]:
    corpora = loco_corpora(source, subset)
    if len(corpora) < 2:
        where = "" if isinstance(source, Mapping) or subset is not None else f" in the data folder {data_root_note()}"
        raise ValueError(f"loco: needs at least two corpora, found {corpora}{where}")
    train_labels = list(labels) if labels is not None else list(CORE_LABELS)
    scored = [c for c in CORE_LABELS if c in train_labels]
    if len(scored) < 2:
        raise ValueError(f"loco: the labels {train_labels} include fewer than two of {CORE_LABELS}")
    records: list[Record] = []
    testable_parts: list[np.ndarray] = []
    dropped: Counter = Counter()
    for c in corpora:
        recs, testable, d = _train_test_records(_load(c, source), train_labels, label_map, scored)
        records += recs
        testable_parts.append(testable)
        dropped.update(d)
    testable = np.concatenate(testable_parts)
    corpus = np.array([r.corpus for r in records], dtype=object)
    folds = []
    for c in corpora:
        held = corpus == (corpus_name(c) if source is None else c)
        folds.append(
            Fold(
                name=corpus_name(c) if source is None else c,
                train_idx=np.flatnonzero(~held),
                test_idx=np.flatnonzero(held & testable),
                test_speakers=tuple(sorted({r.speaker for r, h in zip(records, held & testable) if h})),
            )
        )
    return records, _ordered({r.label for r in records}), folds, dict(sorted(dropped.items())), scored


def _ordered(labels: set[str]) -> list[str]:
    order = {c: i for i, c in enumerate(CANONICAL_LABELS)}
    return sorted(labels, key=lambda k: (order.get(k, len(order)), k))


def _fold(
    name: str, speakers: np.ndarray, test_speakers: set[str], testable: np.ndarray | None = None
) -> Fold:
    is_test = np.isin(speakers, list(test_speakers))
    scored = is_test if testable is None else is_test & testable
    return Fold(
        name=name,
        train_idx=np.flatnonzero(~is_test),
        test_idx=np.flatnonzero(scored),
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


def make_folds(
    protocol: str,
    source: RecordSource = None,
    *,
    labels: Sequence[str] | None = None,
    label_map: Mapping[str, str] | None = None,
) -> FoldSet:
    """Build the folds of an evaluation protocol.

    Parameters
    ----------
    protocol : str
        ``"ravdess-6fold"``, ``"emodb-loso"``, ``"tess-loso"``, ``"emotiontts_kor-loso"``,
        ``"loco"``, ``"loco:<a>,<b>,..."`` (loco over the named corpora) or
        ``"cross:<train>-><test>"`` (e.g. ``"cross:ravdess->emodb"``); see :data:`PROTOCOLS`.
    source : mapping, callable or None
        Where records come from: ``{corpus: records}``, a function ``corpus -> records``
        (or ``-> ReadResult``), or None to read the shipped corpora from the shared data
        folder (:func:`train.corpora.read_corpus`).
    labels : sequence of str, optional
        Classes a recipe trains on (within-corpus protocols: intersected with the
        protocol's; ``loco``: default :data:`CORE_LABELS`; ``cross:``: the training corpus'
        records of these labels, the test corpus' of those of them it has). Without
        ``labels`` and ``label_map``, ``cross:`` trains and scores the labels both corpora
        share.
    label_map : mapping of str to str, optional
        Training-label mapping of a recipe (e.g. ``{"calm": "neutral"}``), applied before
        ``labels``; test records are scored only on their original label.

    Returns
    -------
    FoldSet
        Unpacks as ``(records, labels, folds)``. Records whose label is not one of the
        protocol's classes are left out and counted in ``dropped`` (logged). Every fold is
        speaker-disjoint; in a within-corpus protocol every record is tested exactly once.

    Raises
    ------
    ValueError
        Unknown protocol (the message lists the valid ones); a cross protocol naming a
        corpus the source does not have (the message lists those it has), one corpus twice,
        or corpora that share fewer than two labels (with a recipe's labels: fewer than two of
        them in the test corpus); a within-corpus protocol whose classes include fewer than two
        of ``labels``; or the same speakers on both sides; a ``loco:`` list
        :func:`loco_corpora` refuses (a corpus named twice or not available), fewer than
        two corpora for ``loco``, or ``labels`` with fewer than two of :data:`CORE_LABELS`
        there; a corpus whose source gives no records, or records of another corpus;
        records that do not fit the protocol (a RAVDESS speaker outside 01-24, a fold left
        with no training or no test record, fewer than two speakers for
        leave-one-speaker-out).
    CorpusNotFoundError
        With ``source`` None: a corpus folder (or CSV list) that is missing or holds no
        audio (:func:`train.corpora.read_corpus`).

    References
    ----------
    .. [1] Ma et al., EmoBox (Interspeech 2024), for ``ravdess-6fold``.
    """
    name = _normalised(protocol)
    label_map = dict(label_map or {})
    requested = None if labels is None else list(labels)
    score_labels: list[str] = []
    if name.startswith("loco:"):
        loco_subset = _LOCO_RE.match(name)
        if not loco_subset:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")
        name = loco_protocol(re.split(r"\s*,\s*", loco_subset.group(1)), source)
    if name == "loco" or name.startswith("loco:") or name == "personal":
        # personal: loco's folds, split per speaker (train/personal.py)
        subset = re.split(r"\s*,\s*", name[len("loco:"):]) if name.startswith("loco:") else None
        records, labels_, folds, dropped, score_labels = _loco(source, labels, label_map, subset)
        _check(name, folds)
        if dropped:
            log.info("loco: %d records left out (labels not trained on): %s", sum(dropped.values()), dropped)
        return FoldSet(
            protocol=name, records=records, labels=labels_, folds=folds, dropped=dropped, score_labels=score_labels
        )
    if name in _WITHIN:
        corpus, classes = _WITHIN[name]
        testable = None
        if labels is None and not label_map:
            records, dropped = _restrict(_load(corpus, source), classes)
        else:
            train_labels = [c for c in (labels if labels is not None else classes) if c in classes]
            if len(train_labels) < 2:  # else one class to train on: a scikit-learn error per fold
                raise ValueError(f"{name}: the recipe's labels {list(labels or [])} include fewer than two of the "
                                 f"protocol's classes ({', '.join(classes)}); name at least two of them")
            records, testable, dropped = _train_test_records(
                _load(corpus, source), train_labels, label_map, train_labels
            )
            score_labels = _ordered({r.label for r, t in zip(records, testable) if t})
        if not records:
            raise ValueError(f"{name}: no records with a label among {classes}")
        speakers = np.array([speaker_group(r.speaker) for r in records], dtype=object)
        if name == "ravdess-6fold":
            actors = {s: _ravdess_actor(s) for s in set(speakers)}
            folds = [
                _fold(
                    f"fold{k}",
                    speakers,
                    {s for s, a in actors.items() if (a - 1) % 6 == k - 1},
                    testable,
                )
                for k in range(1, 7)
            ]
        else:
            distinct = sorted(set(speakers))
            if len(distinct) < 2:
                raise ValueError(f"{name}: needs at least two speakers, got {distinct}")
            folds = [_fold(s, speakers, {s}, testable) for s in distinct]
        labels = _ordered({r.label for r in records})
        wanted = classes if requested is None else [c for c in classes if c in requested]
        absent = [c for c in wanted if c not in labels]
        if absent:
            log.warning("%s: classes with no record: %s", name, absent)
    else:
        m = _CROSS_RE.match(name)
        if not m:
            raise ValueError(f"unknown protocol {protocol!r}; valid: {_valid_names()}")
        train_c, test_c = m.groups()
        name = _cross_corpora(train_c, test_c, source=source)
        train_r, test_r = _load(train_c, source), _load(test_c, source)
        if labels is None and not label_map:
            shared = {r.label for r in train_r} & {r.label for r in test_r}
            if len(shared) < 2:
                raise ValueError(
                    f"{name}: the corpora share {len(shared)} label(s) {sorted(shared)}; need two"
                )
            labels = _ordered(shared)
            train_k, train_d = _restrict(train_r, labels)
            test_k, test_d = _restrict(test_r, labels)
        else:  # a recipe's: train on its (mapped) labels, score those the test corpus has as they are
            train_labels = list(labels) if labels is not None else _ordered({label_map.get(r.label, r.label) for r in train_r})
            train_k, _, train_d = _train_test_records(train_r, train_labels, label_map, train_labels)
            trained = {r.label for r in train_k}
            score_labels = _ordered(trained & {r.label for r in test_r})
            if len(score_labels) < 2:
                raise ValueError(
                    f"{name}: {test_c} has {len(score_labels)} of the labels trained on from {train_c} "
                    f"{sorted(trained)}: {score_labels}; need two"
                )
            test_k, test_d = _restrict(test_r, score_labels)
            labels = _ordered(trained)
        dropped = dict(sorted((Counter(train_d) + Counter(test_d)).items()))
        records = train_k + test_k
        overlap = {r.speaker for r in train_k} & {r.speaker for r in test_k}
        if overlap:  # only when speaker ids are not corpus-prefixed
            raise ValueError(f"{name}: speakers on both sides: {sorted(overlap)[:5]}")
        n_train = len(train_k)
        folds = [
            Fold(
                name=f"{corpus_name(train_c)}->{corpus_name(test_c)}" if source is None else f"{train_c}->{test_c}",
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
    return FoldSet(
        protocol=name, records=records, labels=labels, folds=folds, dropped=dropped, score_labels=score_labels
    )
