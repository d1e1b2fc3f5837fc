"""TESS, the Toronto emotional speech set: ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav``.

References
----------
.. [1] K. Dupuis, M. K. Pichora-Fuller, "Toronto emotional speech set (TESS)", University of
   Toronto, 2010.
"""

from __future__ import annotations

from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, read_tree

__all__ = ["read_tess"]

_TESS_SPEAKERS = ("OAF", "YAF")
_TESS_EMOTIONS = {
    "angry": "angry",
    "disgust": "disgust",
    "fear": "fearful",
    "happy": "happy",
    "neutral": "neutral",
    "sad": "sad",
    "ps": "surprised",
    "pleasant_surprise": "surprised",
    "pleasant_surprised": "surprised",
}


def _split_tess_folder(name: str) -> tuple[str | None, str | None]:
    """``"OAF_pleasant_surprise"`` -> ("OAF", "surprised"); (None, None) when it is not one."""
    spk, _, emo = name.partition("_")
    spk = spk.upper()
    label = _TESS_EMOTIONS.get(emo.lower())
    if spk not in _TESS_SPEAKERS or label is None:
        return None, None
    return spk, label


def _parse_tess(path: Path, root: Path) -> Parsed:
    parts = path.stem.split("_")
    if len(parts) < 3:
        return "name is not TESS '<SPK>_<word>_<emotion>'"
    spk_tok, word, emo_tok = parts[0].upper(), parts[1].lower(), "_".join(parts[2:]).lower()
    label = _TESS_EMOTIONS.get(emo_tok)
    if label is None:
        return f"unknown TESS emotion {emo_tok!r} (expected one of {sorted(_TESS_EMOTIONS)})"
    folder_spk, folder_label = _split_tess_folder(path.parent.name)
    if folder_label is not None and folder_label != label:
        return f"name says {label} but folder {path.parent.name} says {folder_label}"
    if spk_tok in _TESS_SPEAKERS:
        if folder_spk is not None and folder_spk != spk_tok:
            return f"name says speaker {spk_tok} but folder {path.parent.name} says {folder_spk}"
        speaker = spk_tok
    elif folder_spk is not None:
        # The original corpus has one misnamed file, OA_bite_neutral, in folder OAF_neutral.
        speaker = folder_spk
    else:
        return f"unknown TESS speaker {parts[0]!r} (OAF or YAF) and no <SPK>_<emotion> folder"
    record = Record.of(path, "tess", speaker, gender="f", label=label, text=f"Say the word {word}")
    return record, f"{speaker}_{word}_{label}"


def read_tess(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read TESS: ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the 14 ``OAF_angry`` ... ``YAF_sad`` folders (or the files directly).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Both speakers are female (``"tess-OAF"`` aged 64, ``"tess-YAF"`` aged 26); emotion
        ``fear`` -> ``"fearful"``, ``ps``/``pleasant_surprise`` -> ``"surprised"``; text
        "Say the word <word>". A name whose speaker token is not OAF/YAF (the original's
        ``OA_bite_neutral``) takes its speaker from the ``<SPK>_<emotion>`` folder. A name
        and folder that disagree are reported as problems.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] Dupuis & Pichora-Fuller (2010).
    """
    return read_tree("tess", root, _parse_tess, check_audio=check_audio)
