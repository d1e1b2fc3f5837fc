"""Korean emotional speech: ``<set>/<SPK>/wav/<SPK>NNNNN.flac``, the public sample of emotiontts_open_db.

References
----------
.. [1] KAIST / Selvas AI, "emotiontts_open_db": Korean emotional speech database for TTS,
   2017-2018 (public 5 % sample), https://github.com/emotiontts/emotiontts_open_db
"""

from __future__ import annotations

import re
from pathlib import Path

from .records import ReadResult, Record
from .scan import Parsed, read_tree

__all__ = ["read_emotiontts_kor"]

_KOR_SETS = ("plain-to-emotional", "emotional-to-emotional")
_KOR_FEMALE = frozenset({"ema", "emb", "nea", "neb", "nec", "ned", "nee"})
_KOR_MALE = frozenset({"emf", "emg", "emh", "nek", "nel", "nem", "nen", "neo"})
#: Speakers the corpus README calls by one letter in both sets ("speaker A", "speaker B"):
#: ema/nea and emb/neb may be the same people, so a split keeps each pair on one side.
_KOR_SAME_PERSON = {"nea": "ema", "neb": "emb"}
_KOR_RE = re.compile(r"^([a-z]{3})(\d{5})$")
#: File number ranges (inclusive) -> canonical label.
_KOR_RANGES = ((1, 100, "neutral"), (101, 200, "happy"), (201, 300, "angry"), (301, 400, "sad"))


def _parse_emotiontts_kor(path: Path, root: Path) -> Parsed:
    m = _KOR_RE.match(path.stem.lower())
    if not m:
        return "name is not emotiontts_kor '<spk><NNNNN>' (three letters, five digits)"
    spk, num = m.group(1), int(m.group(2))
    if spk not in _KOR_FEMALE | _KOR_MALE:
        return f"unknown emotiontts_kor speaker {spk!r}"
    folders = {p.lower() for p in path.relative_to(root).parts[:-1]}
    if folders and spk not in folders and any(f in _KOR_FEMALE | _KOR_MALE for f in folders):
        return f"name says speaker {spk} but a folder names another speaker"
    label = next((lab for lo, hi, lab in _KOR_RANGES if lo <= num <= hi), None)
    if label is None:
        return f"file number {num:05d} outside 00001-00400 (neutral, happy, angry, sad)"
    gender = "f" if spk in _KOR_FEMALE else "m"
    record = Record(path=str(path), corpus="emotiontts_kor", speaker=f"emotiontts_kor-{spk}", gender=gender, label=label)
    return record, f"{spk}{num:05d}"


def read_emotiontts_kor(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read the Korean emotional TTS corpus: ``<set>/<SPK>/wav/<SPK>NNNNN.flac``.

    Parameters
    ----------
    root : str or Path
        Folder holding ``plain-to-emotional/`` and ``emotional-to-emotional/``.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

    Returns
    -------
    ReadResult
        Speaker ``"emotiontts_kor-<spk>"`` (ema, emb, emf, emg, emh, nea-nee, nek-neo);
        gender from the corpus README (ema, emb, nea-nee female; the others male); label
        from the file number: 00001-00100 neutral, 00101-00200 happy, 00201-00300 angry,
        00301-00400 sad. Use :func:`speaker_group` to keep ema/nea and emb/neb (possibly the
        same two people) on one side of a split.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.

    References
    ----------
    .. [1] emotiontts_open_db README (KAIST / Selvas AI).
    """
    return read_tree("emotiontts_kor", root, _parse_emotiontts_kor, check_audio=check_audio)
