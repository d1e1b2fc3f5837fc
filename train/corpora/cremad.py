"""CREMA-D: ``AudioWAV/AAAA_SSS_EEE_LL.wav`` (not shipped; read from a folder the user gives).

References
----------
.. [1] H. Cao et al., "CREMA-D: Crowd-sourced emotional multimodal actors dataset", IEEE
   Trans. Affective Computing 5(4), 2014.
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, name_parser, read_tree

__all__ = ["read_cremad"]

_CREMAD_RE = re.compile(r"^(\d{4})_([A-Za-z]{3})_([A-Za-z]{3})_([A-Za-z]{2})$")
_CREMAD_EMOTIONS = {
    "ANG": "angry",
    "DIS": "disgust",
    "FEA": "fearful",
    "HAP": "happy",
    "NEU": "neutral",
    "SAD": "sad",
}
_CREMAD_LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": None}
_CREMAD_SENTENCES = {
    "IEO": "It's eleven o'clock",
    "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting",
    "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full",
    "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock",
    "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket",
    "ITS": "I think I've seen this before",
    "TSI": "The surface is slick",
    "WSI": "We'll stop in a couple of minutes",
}


def _build_cremad(m: re.Match[str], path: Path) -> Parsed:
    actor, sent, emo, level = (g.upper() for g in m.groups())
    if sent not in _CREMAD_SENTENCES:
        return f"unknown CREMA-D sentence code {sent}"
    if emo not in _CREMAD_EMOTIONS:
        return f"unknown CREMA-D emotion {emo} (ANG, DIS, FEA, HAP, NEU, SAD)"
    if level not in _CREMAD_LEVELS:
        return f"unknown CREMA-D level {level} (LO, MD, HI, XX)"
    record = Record.of(path, "cremad", actor, label=_CREMAD_EMOTIONS[emo], intensity=_CREMAD_LEVELS[level],
                       text=_CREMAD_SENTENCES[sent])
    return record, f"{actor}_{sent}_{emo}_{level}"


_parse_cremad = name_parser(_CREMAD_RE, "CREMA-D 'AAAA_SSS_EEE_LL' (actor, sentence, emotion, level)", _build_cremad)


def read_cremad(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read CREMA-D: ``AudioWAV/1001_DFA_ANG_XX.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the files.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Speaker ``"cremad-<actor>"``; gender None (the names do not give it; it is in the
        corpus' ``VideoDemographics.csv``); emotion ANG/DIS/FEA/HAP/NEU/SAD; intensity
        ``"low"``/``"medium"``/``"high"``, None for ``XX`` (unspecified); text the sentence.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] Cao et al. (2014).
    """
    return read_tree("cremad", root, _parse_cremad, check_audio=check_audio)
