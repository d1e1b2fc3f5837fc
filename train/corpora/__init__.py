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
from .records import CANONICAL_LABELS, CorpusNotFoundError, ReadResult, Record, canonical_label, label_histogram
from .savee import read_savee
from .scan import AUDIO_EXTENSIONS
from .tess import read_tess
from .user import read_csv, read_folder

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
        accepted).
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
        Unknown name, or no ``root`` for a corpus that is not shipped.
    CorpusNotFoundError
        The folder is missing or holds no audio (or, for ``ased``/``es_uem``, no
        ``labels.csv``).
    """
    squash = {re.sub(r"[\s_\-]+", "", k): k for k in CORPORA}
    key = squash.get(re.sub(r"[\s_\-]+", "", name.strip().lower()), "")
    if key not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    if root is None:
        if key not in SHIPPED_CORPORA:
            raise ValueError(
                f"corpus {key!r} is not in the shared data folder: it is read from a "
                f"{'CSV file' if key == 'csv' else 'folder'} you name, from Python: "
                f"read_corpus({key!r}, root=PATH)"
            )
        root = corpus_path(key)
    return CORPORA[key](root, check_audio=check_audio)
