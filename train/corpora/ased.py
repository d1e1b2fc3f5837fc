"""ASED, the Amharic Speech Emotion Dataset: ``<NNEmotion>/<e><N>-NN-NN-NN-<SS>.ogg`` and ``labels.csv``.

65 participants (4 dialects) recorded themselves at a time and place of their choosing, so
rooms and microphones vary. The project's copy (``shared/data/ased``) is Ogg Opus at 16 kHz
mono, about 35 kb/s (a codec channel, as a VoIP call would be), decoded by libsndfile; its
fear files are not included. Most of the 27 sentences are spoken in one emotion only, so the
sentence code (:attr:`Record.text`) and the label are confounded: a model that hears words
could cheat, and speaker-independent folds do not remove that.

References
----------
.. [1] E. A. Retta, E. Almekhlafi, R. Sutcliffe, M. Mhamed, H. Ali, J. Feng, "A new Amharic
   speech emotion dataset and classification benchmark", ACM Trans. Asian and Low-Resource
   Language Information Processing (TALLIP), 2023, doi:10.1145/3529759 (arXiv:2201.02710).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

from ser_live.labels import canonical_label

from .records import ReadResult, Record
from .scan import Parsed, read_label_list

__all__ = ["ASED_FOLDERS", "read_ased"]

#: ASED emotion folder -> canonical label (``02Fear`` is not in the project's copy).
ASED_FOLDERS: dict[str, str] = {"01neutral": "neutral", "02fear": "fearful", "03happy": "happy", "04sad": "sad", "05angry": "angry"}
#: First letter of a file name -> canonical label.
_ASED_LETTERS = {"n": "neutral", "f": "fearful", "h": "happy", "s": "sad", "a": "angry"}
_ASED_RE = re.compile(r"^([nfhsa])(\d)-(\d{2})-(\d{2})-(\d{2})-(\d{2})$", re.IGNORECASE)
_GENDERS = {"f": "f", "m": "m"}


def _parse_ased(path: Path, root: Path, row: Mapping[str, str]) -> Parsed:
    m = _ASED_RE.match(path.stem)
    if not m:
        return "name is not ASED '<e><N>-NN-NN-NN-<speaker>' (emotion letter, digit, four two-digit fields)"
    letter, speaker = m.group(1).lower(), m.group(6)
    label = canonical_label(row["label"])
    if label is None:
        return f"unknown label {row['label']!r}"
    if _ASED_LETTERS[letter] != label:
        return f"labels.csv says {label} but the name's letter {m.group(1)!r} says {_ASED_LETTERS[letter]}"
    folder = ASED_FOLDERS.get(path.parent.name.lower())
    if folder is not None and folder != label:
        return f"labels.csv says {label} but folder {path.parent.name} says {folder}"
    if row["speaker"] != speaker:
        return f"labels.csv says speaker {row['speaker']!r} but the name's last field says {speaker}"
    gender = _GENDERS.get(row["gender"].lower())
    if gender is None:
        return f"gender {row['gender']!r} is not F or M"
    record = Record(path=str(path), corpus="ased", speaker=f"ased-{speaker}", gender=gender, label=label, text=row["text"] or None)
    return record, path.stem.lower()


def read_ased(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read ASED from its ``labels.csv`` (``path,label,speaker,gender,text``).

    Each row is checked against its file: the name's first letter (n neutral, h happy, s sad,
    a angry, f fear) and the ``NNEmotion`` folder must agree with the label, the name's last
    field with the speaker.

    Parameters
    ----------
    root : str or Path
        The corpus folder: ``labels.csv`` and ``01Neutral/``, ``03Happy/``, ``04Sad/``,
        ``05Angry/``.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Speaker ``"ased-<SS>"`` (two digits; 64 speakers in the project's copy: 01-65
        without 40), gender ``f``/``m``, text the sentence code (``"n01"`` ... ``"s07"``:
        each code is spoken in one emotion only). Rows that disagree with their file, listed
        files that do not exist and audio files no row lists are problems.

    Raises
    ------
    CorpusNotFoundError, ValueError
        As :func:`train.corpora.scan.read_label_list`: no folder or no ``labels.csv``; a column missing.

    References
    ----------
    .. [1] Retta et al. (2022).
    """
    return read_label_list("ased", root, _parse_ased, check_audio=check_audio)
