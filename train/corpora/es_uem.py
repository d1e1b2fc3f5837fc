"""Spanish students' emotional speech (Universidad Europea de Madrid, 2020): ``data/<N>/<Emotion>_<K>.ogg``.

16 non-professional speakers, one folder each: ``data/0`` ... ``data/13`` and
``tests/Test1``, ``tests/Test2``. Whether Test1 and Test2 are two further people or repeat
folders 0-13 is unknown, so :func:`train.corpora.speaker_group` keeps them in one group of
their own (``"es_uem-tests"``) in speaker-independent folds. The project's copy is Ogg Opus
at 16 kHz mono, about 55 kb/s; its other three emotions are not included. 45 of the original
files reach clipping: they are kept (clipping is what a loud speaker on a laptop microphone
gives too), and the reader does not decode audio to find them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser_live.labels import canonical_label

from .records import ReadResult, Record
from .scan import Parsed, read_label_list

__all__ = ["ES_UEM_EMOTIONS", "ES_UEM_TESTS_GROUP", "read_es_uem"]

#: Spanish emotion word of a file name -> canonical label.
ES_UEM_EMOTIONS: dict[str, str] = {
    "alegria": "happy",
    "ira": "angry",
    "neutro": "neutral",
    "tristeza": "sad",
    "asco": "disgust",
    "miedo": "fearful",
    "sorpresa": "surprised",
}
#: Split group of the two ``tests/`` folders (:func:`train.corpora.speaker_group`).
ES_UEM_TESTS_GROUP = "es_uem-tests"
#: ``Alegria_1``, ``Ira__4`` (double underscore in some names), ``Neutro`` (one file, no number).
_ES_UEM_RE = re.compile(r"^([A-Za-z]+)(?:_{1,2}(\d+))?$")
_SPEAKER_RE = re.compile(r"^(?:data/(\d+)|tests/(Test\d+))$")


def _parse_es_uem(path: Path, root: Path, row: Mapping[str, str]) -> Parsed:
    folder = path.parent.relative_to(root).as_posix()
    spk = _SPEAKER_RE.match(folder)
    if not spk:
        return f"folder {folder!r} is not data/<N> or tests/Test<N>"
    speaker = spk.group(1) or spk.group(2)
    m = _ES_UEM_RE.match(path.stem)
    if not m or m.group(1).lower() not in ES_UEM_EMOTIONS:
        return f"name is not es_uem '<Emotion>_<K>' with Emotion one of {sorted(ES_UEM_EMOTIONS)}"
    named = ES_UEM_EMOTIONS[m.group(1).lower()]
    label = canonical_label(row["label"])
    if label is None:
        return f"unknown label {row['label']!r}"
    if label != named:
        return f"labels.csv says {label} but the name says {m.group(1)} ({named})"
    if row["speaker"] != speaker:
        return f"labels.csv says speaker {row['speaker']!r} but the folder says {speaker}"
    gender = {"f": "f", "m": "m"}.get(row["gender"].lower())
    record = Record(path=str(path), corpus="es_uem", speaker=f"es_uem-{speaker}", gender=gender, label=label, text=None)
    return record, f"{folder}/{path.stem}".lower()


def read_es_uem(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read es_uem from its ``labels.csv`` (``path,label,speaker,gender,text``).

    Each row is checked against its file: the name's emotion word (Alegria happy, Ira angry,
    Neutro neutral, Tristeza sad) must agree with the label, the folder with the speaker.

    Parameters
    ----------
    root : str or Path
        The corpus folder: ``labels.csv``, ``data/<N>/`` and ``tests/Test1|Test2/``.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Speaker ``"es_uem-<N>"`` or ``"es_uem-Test1"``/``"es_uem-Test2"`` (one split group,
        :data:`ES_UEM_TESTS_GROUP`); gender from the list (empty in the project's copy:
        None); text None (the list's ``text`` column is the take number K of the file
        name, which does not say what was said). Rows that disagree with their file, listed
        files that do not exist and audio files no row lists are problems.

    Raises
    ------
    CorpusNotFoundError, ValueError
        As :func:`train.corpora.scan.read_label_list`: no folder or no ``labels.csv``; a column missing.
    """
    return read_label_list("es_uem", root, _parse_es_uem, check_audio=check_audio)
