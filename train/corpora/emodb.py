"""Berlin EmoDB: ``wav/SSTTTEV.wav``.

References
----------
.. [1] F. Burkhardt et al., "A database of German emotional speech", Interspeech 2005.
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, name_parser, read_tree

__all__ = ["read_emodb"]

_EMODB_RE = re.compile(r"^(\d{2})([ab]\d{2})([WLEAFTN])([a-z])$", re.IGNORECASE)
_EMODB_EMOTIONS = {
    "W": "angry",  # Ärger
    "L": "boredom",  # Langeweile
    "E": "disgust",  # Ekel
    "A": "fearful",  # Angst
    "F": "happy",  # Freude
    "T": "sad",  # Trauer
    "N": "neutral",
}
#: EmoDB speaker -> gender, from the corpus documentation.
_EMODB_GENDER = {
    "03": "m",
    "08": "f",
    "09": "f",
    "10": "m",
    "11": "m",
    "12": "m",
    "13": "f",
    "14": "f",
    "15": "m",
    "16": "f",
}


def _build_emodb(m: re.Match[str], path: Path) -> Parsed:
    spk, text, emo, _ver = m.groups()
    if spk not in _EMODB_GENDER:
        return f"unknown EmoDB speaker {spk} (03, 08-16)"
    record = Record.of(path, "emodb", spk, gender=_EMODB_GENDER[spk], label=_EMODB_EMOTIONS[emo.upper()], text=text.lower())
    return record, path.stem


_parse_emodb = name_parser(_EMODB_RE, "EmoDB 'SSTTTEV' (speaker, text code a01-b10, emotion letter, version)", _build_emodb)


def read_emodb(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read Berlin EmoDB: ``wav/SSTTTEV.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the files (the corpus' ``wav/`` or its parent).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Emotion letters W -> angry, L -> boredom, E -> disgust, A -> fearful, F -> happy,
        T -> sad, N -> neutral; gender from the speaker table (03, 10, 11, 12, 15 male;
        08, 09, 13, 14, 16 female); text the text code (``"a01"`` ... ``"b10"``).

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] Burkhardt et al. (2005).
    """
    return read_tree("emodb", root, _parse_emodb, check_audio=check_audio)
