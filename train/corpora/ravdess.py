"""RAVDESS speech: ``Actor_NN/03-01-EE-II-SS-RR-AA.wav`` (Livingstone & Russo 2018).

References
----------
.. [1] S. R. Livingstone, F. A. Russo, "The Ryerson Audio-Visual Database of Emotional
   Speech and Song (RAVDESS)", PLoS ONE 13(5), 2018.
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, read_tree

__all__ = ["RAVDESS_EMOTIONS", "read_ravdess"]

_RAVDESS_RE = re.compile(r"^(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})-(\d{2})$")
#: RAVDESS emotion codes (third field of the file name) -> canonical label.
RAVDESS_EMOTIONS: dict[str, str] = {
    "01": "neutral",
    "02": "calm",
    "03": "happy",
    "04": "sad",
    "05": "angry",
    "06": "fearful",
    "07": "disgust",
    "08": "surprised",
}
_RAVDESS_INTENSITY = {"01": "normal", "02": "strong"}
_RAVDESS_STATEMENTS = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}


def _parse_ravdess(path: Path, root: Path) -> Parsed:
    stem = path.stem
    m = _RAVDESS_RE.match(stem)
    if not m:
        return "name is not RAVDESS 'MM-VC-EE-II-SS-RR-AA' (seven two-digit fields)"
    modality, channel, emo, inten, stmt, _rep, actor = m.groups()
    if modality != "03":
        return f"modality {modality} is not audio-only (03)"
    if channel != "01":
        return f"vocal channel {channel} is not speech (01); song files are not used"
    if emo not in RAVDESS_EMOTIONS:
        return f"unknown emotion code {emo} (01-08)"
    if inten not in _RAVDESS_INTENSITY:
        return f"unknown intensity code {inten} (01 normal, 02 strong)"
    if emo == "01" and inten == "02":
        return "neutral with strong intensity (02) does not exist in RAVDESS"
    if stmt not in _RAVDESS_STATEMENTS:
        return f"unknown statement code {stmt} (01, 02)"
    n = int(actor)
    if not 1 <= n <= 24:
        return f"actor {actor} outside 01-24"
    record = Record.of(path, "ravdess", actor, gender="m" if n % 2 else "f", label=RAVDESS_EMOTIONS[emo],
                       intensity=_RAVDESS_INTENSITY[inten], text=_RAVDESS_STATEMENTS[stmt])
    return record, stem


def read_ravdess(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read RAVDESS speech: ``Actor_NN/03-01-EE-II-SS-RR-AA.wav`` (any folder depth).

    Parameters
    ----------
    root : str or Path
        Folder holding the files (usually ``Actor_01`` ... ``Actor_24``).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Labels from the emotion code (01 neutral, 02 calm, 03 happy, 04 sad, 05 angry,
        06 fearful, 07 disgust, 08 surprised); intensity ``"normal"``/``"strong"``; text the
        statement; gender from the actor number (odd male, even female). Song files
        (channel 02) and other modalities are reported as problems.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] Livingstone & Russo (2018), file naming in the RAVDESS README.
    """
    return read_tree("ravdess", root, _parse_ravdess, check_audio=check_audio)
