"""Readers of emotional speech corpora: files -> :class:`Record` lists with canonical labels.

Every reader walks a folder (or reads a CSV list) and returns a :class:`ReadResult`: the
records, plus every file it could not use with the reason (a name that does not parse, a
label list row that disagrees with its file, an unreadable or empty file, a duplicate).
Nothing is dropped silently; a warning is logged whenever problems exist.

Speakers are prefixed with the corpus name (``"ravdess-01"``, ``"tess-OAF"``,
``"emodb-03"``), so speaker ids never collide across corpora and speaker-independent splits
stay speaker-independent when corpora are mixed; :func:`speaker_group` joins the ids that may
be one person.

Labels are mapped to :data:`CANONICAL_LABELS` (``"anger"``, ``"ANG"``, ``"W"`` ... all become
``"angry"``). Audio files are ``.wav``, ``.flac`` or ``.ogg`` (any case, Ogg Vorbis or Opus);
libsndfile decodes them all.

One module per idea:

============================  ==========================================================
``records``                   :class:`Record`, :class:`ReadResult`, :func:`label_histogram`
``location``                  the data folder (``$SER_LIVE_DATA``), :func:`corpus_path`
``scan``                      walking a folder or a ``labels.csv``; checks, duplicates, logs
``ravdess``, ``tess``,        one reader per corpus (file names -> records)
``emodb``, ``cremad``,
``savee``, ``emotiontts_kor``
``ased``, ``es_uem``          readers of a corpus' own ``labels.csv``, checked against names
``user``                      user data: a folder per label, or a CSV list
``groups``                    :func:`speaker_group` (ids that may be one person)
============================  ==========================================================

The shipped corpora (:data:`SHIPPED_CORPORA`) and their references are described in the
shared data folder's ``README.md`` and in each reader's module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable

from .ased import read_ased
from .cremad import read_cremad
from .emodb import read_emodb
from .emotiontts_kor import read_emotiontts_kor
from .es_uem import read_es_uem
from .groups import speaker_group
from .location import DATA_ENV_VAR, SHIPPED_CORPORA, corpus_path, default_data_root
from .ravdess import RAVDESS_EMOTIONS, read_ravdess
from .records import CANONICAL_LABELS, CorpusNotFoundError, ReadResult, Record, canonical_label, example_lines, label_histogram
from .savee import read_savee
from .scan import AUDIO_EXTENSIONS
from .tess import read_tess
from .user import corpus_name_of, read_csv, read_folder

__all__ = [
    "CANONICAL_LABELS",
    "AUDIO_EXTENSIONS",
    "CORPORA",
    "SHIPPED_CORPORA",
    "DATA_ENV_VAR",
    "RAVDESS_EMOTIONS",
    "Record",
    "ReadResult",
    "CorpusNotFoundError",
    "canonical_label",
    "read_ravdess",
    "read_tess",
    "read_emodb",
    "read_cremad",
    "read_savee",
    "read_emotiontts_kor",
    "read_ased",
    "read_es_uem",
    "speaker_group",
    "read_folder",
    "read_csv",
    "read_corpus",
    "corpus_name",
    "is_corpus_path",
    "default_data_root",
    "corpus_path",
    "label_histogram",
]

#: Reader of each corpus name accepted by :func:`read_corpus`.
CORPORA: dict[str, Callable[..., ReadResult]] = {
    "ravdess": read_ravdess,
    "tess": read_tess,
    "emodb": read_emodb,
    "cremad": read_cremad,
    "savee": read_savee,
    "emotiontts_kor": read_emotiontts_kor,
    "ased": read_ased,
    "es_uem": read_es_uem,
    "folder": read_folder,
    "csv": read_csv,
}


def is_corpus_path(spec: str) -> bool:
    """Whether a corpus named on the command line or in a recipe is a path of one's own.

    Parameters
    ----------
    spec : str
        A corpus as given: a name (``"ravdess"``) or a path (``"/data/mycalls"``,
        ``"./mycalls"``, ``"~/calls.csv"``).

    Returns
    -------
    bool
        True when ``spec`` holds a path separator, starts with ``~`` or ``.``, or ends in
        ``.csv``: :func:`read_corpus` reads it as a folder (or CSV list) of one's own.
    """
    s = spec.strip()
    return "/" in s or os.sep in s or s.startswith(("~", ".")) or s.lower().endswith(".csv")


def corpus_name(spec: str) -> str:
    """The corpus name the records of ``spec`` carry (:attr:`Record.corpus`, the speaker prefix).

    Parameters
    ----------
    spec : str
        A corpus name (case-insensitive, ``-`` or ``_``) or a path (:func:`is_corpus_path`).

    Returns
    -------
    str
        A known name as :data:`CORPORA` spells it (``"emotiontts-kor"`` -> ``"emotiontts_kor"``);
        for a path, its folder's name (a CSV list's: its stem; ``labels.csv``'s: its folder's)
        lower-cased to ``[a-z0-9-]`` as :func:`read_folder` and :func:`read_csv` name it; else
        ``spec`` lower-cased.
    """
    if is_corpus_path(spec):
        return corpus_name_of(Path(spec.strip()).expanduser())
    return _known_key(spec) or spec.strip().lower()


def _known_key(name: str) -> str:
    squash = {re.sub(r"[\s_\-]+", "", k): k for k in CORPORA}
    return squash.get(re.sub(r"[\s_\-]+", "", name.strip().lower()), "")


def read_corpus(
    name: str, root: str | Path | None = None, *, check_audio: bool = True
) -> ReadResult:
    """Read a corpus by name.

    Parameters
    ----------
    name : str
        One of :data:`CORPORA`: ``"ravdess"``, ``"tess"``, ``"emodb"``, ``"cremad"``,
        ``"savee"``, ``"emotiontts_kor"``, ``"ased"``, ``"es_uem"``, ``"folder"``, ``"csv"``
        (case-insensitive; ``"crema-d"``, ``"emo-db"``, ``"emotiontts-kor"``, ``"es-uem"``
        accepted); or a path of one's own (:func:`is_corpus_path`, e.g. ``"/data/mycalls"``,
        ``"./calls.csv"``): a ``.csv`` file is read by :func:`read_csv`, a folder holding a
        ``labels.csv`` by :func:`read_csv` on that file, any other folder by :func:`read_folder`
        (``<label>/[<speaker>/]<file>``); the records' corpus is :func:`corpus_name` of it.
    root : str or Path, optional
        The corpus folder (the CSV file for ``"csv"``). Default for the shipped corpora:
        :func:`corpus_path` (``$SER_LIVE_DATA/<name>``); required for the others.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult

    Raises
    ------
    ValueError
        Unknown name, or no ``root`` for a corpus that is not shipped; a CSV list without
        ``path`` and ``label`` columns.
    CorpusNotFoundError
        The folder is missing or holds no audio (or, for ``ased``/``es_uem``, no
        ``labels.csv``), or every file in it was left out (the message lists some, with
        the reasons).
    """
    result = _read(name, root, check_audio=check_audio)
    if not result.records and result.problems:  # every file left out: say why here, not as an empty matrix later
        raise CorpusNotFoundError(
            f"{result.corpus} ({result.root}): no usable file, {len(result.problems)} left out, e.g.:\n"
            + "\n".join(example_lines(result.problems, 5))
        )
    return result


def _read(name: str, root: str | Path | None, *, check_audio: bool) -> ReadResult:
    if root is None and is_corpus_path(name):
        path = Path(name.strip()).expanduser().absolute()
        own = corpus_name_of(path)
        if path.suffix.lower() == ".csv":
            return read_csv(path, corpus=own, check_audio=check_audio)
        if (path / "labels.csv").is_file():
            return read_csv(path / "labels.csv", corpus=own, check_audio=check_audio)
        return read_folder(path, corpus=own, check_audio=check_audio)
    key = _known_key(name)
    if key not in CORPORA:
        raise ValueError(
            f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}, or give the path of a "
            f"folder of one's own (<label>/[<speaker>/]<file>, or with a labels.csv) or of a CSV list "
            f"(path,label[,speaker]), e.g. ./{name}"
        )
    if root is None:
        if key not in SHIPPED_CORPORA:
            raise ValueError(
                f"corpus {key!r} is not in the shared data folder: it is read from a "
                f"{'CSV file' if key == 'csv' else 'folder'} you name, from Python: "
                f"read_corpus({key!r}, root=PATH)"
            )
        root = corpus_path(key)
    return CORPORA[key](root, check_audio=check_audio)
