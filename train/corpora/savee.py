"""SAVEE: ``DC_a01.wav`` or ``DC/a01.wav`` (not shipped; read from a folder the user gives).

References
----------
.. [1] S. Haq, P. J. B. Jackson, "Speaker-dependent audio-visual emotion recognition",
   AVSP 2009 (SAVEE).
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, name_parser, read_tree

__all__ = ["read_savee"]

_SAVEE_SPEAKERS = ("DC", "JE", "JK", "KL")
_SAVEE_RE = re.compile(r"^(?:([A-Za-z]{2})_)?(sa|su|a|d|f|h|n)(\d{2})$", re.IGNORECASE)
_SAVEE_EMOTIONS = {
    "a": "angry",
    "d": "disgust",
    "f": "fearful",
    "h": "happy",
    "n": "neutral",
    "sa": "sad",
    "su": "surprised",
}


def _build_savee(m: re.Match[str], path: Path) -> Parsed:
    prefix, emo, num = m.groups()
    folder = path.parent.name.upper()
    folder_spk = folder if folder in _SAVEE_SPEAKERS else None
    if prefix is not None:
        speaker = prefix.upper()
        if speaker not in _SAVEE_SPEAKERS:
            return f"unknown SAVEE speaker {prefix!r} (DC, JE, JK, KL)"
        if folder_spk is not None and folder_spk != speaker:
            return f"name says speaker {speaker} but folder says {folder_spk}"
    elif folder_spk is not None:
        speaker = folder_spk
    else:
        return "no speaker: neither a DC_/JE_/JK_/KL_ prefix nor a speaker folder"
    emo = emo.lower()
    record = Record.of(path, "savee", speaker, gender="m", label=_SAVEE_EMOTIONS[emo])
    return record, f"{speaker}_{emo}{num}"


_parse_savee = name_parser(_SAVEE_RE, "SAVEE '<SPK>_<emotion><NN>' or '<SPK>/<emotion><NN>'", _build_savee)


def read_savee(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read SAVEE: ``DC_a01.wav`` (flat, as often redistributed) or ``DC/a01.wav`` (original).

    Parameters
    ----------
    root : str or Path
        Folder holding the files or the four speaker folders.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Speakers ``"savee-DC"``, ``-JE``, ``-JK``, ``-KL``, all male; emotion a -> angry,
        d -> disgust, f -> fearful, h -> happy, n -> neutral, sa -> sad, su -> surprised;
        text None (sentence numbers are not shared across emotions).

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] Haq & Jackson (2009).
    """
    return read_tree("savee", root, _parse_savee, check_audio=check_audio)
