"""Readers of emotional speech corpora: file names -> :class:`Record` lists with canonical labels.

Every reader walks a folder (or a CSV file), parses each audio file's name into a
:class:`Record` and returns a :class:`ReadResult`: the records, plus every file it could not
use with the reason (a name that does not parse, an unreadable or empty file, a duplicate).
Nothing is dropped silently; a warning is logged whenever problems exist.

Speakers are prefixed with the corpus name (``"ravdess-01"``, ``"tess-OAF"``,
``"emodb-03"``), so speaker ids never collide across corpora and speaker-independent splits
stay speaker-independent when corpora are mixed.

Labels are mapped to :data:`CANONICAL_LABELS` (``"anger"``, ``"ANG"``, ``"W"`` ... all become
``"angry"``).

Audio files are ``.wav``, ``.flac`` or ``.ogg`` (any case). The shared corpora of the project
are FLAC; what users download is WAV; both read the same.

References
----------
.. [1] S. R. Livingstone, F. A. Russo, "The Ryerson Audio-Visual Database of Emotional
   Speech and Song (RAVDESS)", PLoS ONE 13(5), 2018.
.. [2] K. Dupuis, M. K. Pichora-Fuller, "Toronto emotional speech set (TESS)", University of
   Toronto, 2010.
.. [3] F. Burkhardt et al., "A database of German emotional speech", Interspeech 2005.
.. [4] H. Cao et al., "CREMA-D: Crowd-sourced emotional multimodal actors dataset", IEEE
   Trans. Affective Computing 5(4), 2014.
.. [5] S. Haq, P. J. B. Jackson, "Speaker-dependent audio-visual emotion recognition",
   AVSP 2009 (SAVEE).
.. [6] KAIST / Selvas AI, "emotiontts_open_db": Korean emotional speech database for TTS,
   2017-2018 (public 5 % sample), https://github.com/emotiontts/emotiontts_open_db
"""

from __future__ import annotations

import csv
import logging
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from ser_live.audiofile import audio_info
from ser_live.errors import AudioFileError, SerLiveError
from ser_live.labels import CANONICAL_LABELS, canonical_label

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
    "speaker_group",
    "read_folder",
    "read_csv",
    "read_corpus",
    "default_data_root",
    "corpus_path",
    "label_histogram",
]

log = logging.getLogger(__name__)

#: File extensions read as audio (compared lower-cased).
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg")

#: Audio formats users may have that libsndfile does not read: reported as problems, not skipped.
_UNSUPPORTED_AUDIO = frozenset({".mp3", ".m4a", ".aac", ".wma", ".mp4", ".opus", ".webm"})

#: Environment variable naming the folder that holds ``ravdess/``, ``tess/`` and ``emodb/``.
DATA_ENV_VAR = "SER_LIVE_DATA"

#: Corpora present in the project's shared data folder (see ``shared/data/README.md``).
SHIPPED_CORPORA: tuple[str, ...] = ("ravdess", "tess", "emodb", "emotiontts_kor")

class CorpusNotFoundError(SerLiveError, FileNotFoundError):
    """A corpus folder (or CSV list) is missing or holds no audio files.

    The message says where it looked and how to point ser-live elsewhere (the
    ``SER_LIVE_DATA`` environment variable or an explicit root).
    """

    exit_code = 3


@dataclass(frozen=True)
class Record:
    """One utterance of a corpus, as its file name describes it.

    Attributes
    ----------
    path : str
        Audio file path (absolute when the reader was given an absolute root).
    corpus : str
        Corpus name, e.g. ``"ravdess"``.
    speaker : str
        Corpus-prefixed speaker id, unique across corpora: ``"ravdess-01"``, ``"tess-OAF"``,
        ``"emodb-03"``, ``"cremad-1001"``, ``"savee-DC"``.
    gender : str or None
        ``"f"``, ``"m"``, or None where the corpus' names do not say.
    label : str
        Canonical emotion label (one of :data:`CANONICAL_LABELS`; a user folder/CSV may add
        its own, lower-cased).
    intensity : str or None
        Emotional intensity where the corpus has one: RAVDESS ``"normal"``/``"strong"``,
        CREMA-D ``"low"``/``"medium"``/``"high"`` (None for unspecified ``XX``).
    text : str or None
        What was said; equal values mean the same words. RAVDESS: the statement ("Kids are
        talking by the door"); TESS: "Say the word <word>"; EmoDB: the text code
        (``"a01"``); CREMA-D: the sentence; SAVEE and user data: None.
    """

    path: str
    corpus: str
    speaker: str
    gender: str | None
    label: str
    intensity: str | None = None
    text: str | None = None


@dataclass
class ReadResult:
    """What a reader found: usable records, and every file it could not use with the reason.

    Attributes
    ----------
    corpus : str
        Corpus name.
    root : str
        Folder (or CSV file) that was read.
    records : list of Record
        Usable records, sorted by path (in file order for a CSV list).
    problems : list of (str, str)
        ``(path, reason)`` for each file left out: a name that does not parse, an unreadable
        or empty file, an unsupported format, a duplicate.
    """

    corpus: str
    root: str
    records: list[Record] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.records)

    @property
    def speakers(self) -> list[str]:
        """Sorted distinct speaker ids of the records."""
        return sorted({r.speaker for r in self.records})

    def summary(self, *, max_examples: int = 5) -> str:
        """One paragraph for a log or a terminal.

        Parameters
        ----------
        max_examples : int, default 5
            How many problem files to list by name.

        Returns
        -------
        str
            Record and speaker counts, then the number of problems and up to
            ``max_examples`` of them as ``path: reason`` lines.
        """
        head = (
            f"{self.corpus} ({self.root}): {len(self.records)} records, "
            f"{len(self.speakers)} speakers, {len(self.problems)} problem files"
        )
        if not self.problems:
            return head
        lines = [head + " left out, e.g.:"]
        for path, reason in self.problems[:max_examples]:
            lines.append(f"  {path}: {reason}")
        if len(self.problems) > max_examples:
            lines.append(f"  ... and {len(self.problems) - max_examples} more")
        return "\n".join(lines)


def label_histogram(records: Iterable[Record]) -> dict[str, int]:
    """Count records per label.

    Parameters
    ----------
    records : iterable of Record

    Returns
    -------
    dict of str to int
        Label -> count; canonical labels first in :data:`CANONICAL_LABELS` order, then any
        others alphabetically. Labels with no record are absent.
    """
    counts = Counter(r.label for r in records)
    order = {c: i for i, c in enumerate(CANONICAL_LABELS)}
    keys = sorted(counts, key=lambda k: (order.get(k, len(order)), k))
    return {k: counts[k] for k in keys}


# --------------------------------------------------------------------------------------
# Locating data
# --------------------------------------------------------------------------------------


def default_data_root() -> Path:
    """The folder that holds the shipped corpora.

    Returns
    -------
    Path
        ``$SER_LIVE_DATA`` when set, else ``<repo>/../shared/data`` (the project's shared
        data folder next to the repository). The folder may not exist.
    """
    env = os.environ.get(DATA_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


def corpus_path(name: str) -> Path:
    """Folder of a shipped corpus (:data:`SHIPPED_CORPORA`) under :func:`default_data_root`.

    Parameters
    ----------
    name : str
        ``"ravdess"``, ``"tess"``, ``"emodb"`` or ``"emotiontts_kor"``.

    Returns
    -------
    Path
        An existing folder.

    Raises
    ------
    ValueError
        ``name`` is not a shipped corpus.
    CorpusNotFoundError
        The folder does not exist.
    """
    if name not in SHIPPED_CORPORA:
        raise ValueError(
            f"{name!r} is not one of the shipped corpora {SHIPPED_CORPORA}; "
            "give the folder where it lives explicitly"
        )
    root = default_data_root()
    path = root / name
    if not path.is_dir():
        raise CorpusNotFoundError(_missing_message(name, path, from_default=True))
    return path


def _missing_message(name: str, path: Path, *, from_default: bool) -> str:
    msg = f"{name} corpus not found: looked in {path}, which is not a folder. "
    if from_default:
        env = os.environ.get(DATA_ENV_VAR)
        where = (
            f"${DATA_ENV_VAR}={env}"
            if env
            else f"the default {path.parent} (${DATA_ENV_VAR} unset)"
        )
        msg += (
            f"The data folder came from {where}; set {DATA_ENV_VAR} to the folder holding "
            f"{', '.join(s + '/' for s in SHIPPED_CORPORA)}, or pass the corpus folder explicitly."
        )
    else:
        msg += f"Pass the folder that holds the {name} audio files (or set {DATA_ENV_VAR})."
    return msg


def _check_root(root: str | Path, corpus: str) -> Path:
    path = Path(root).expanduser().absolute()
    if not path.is_dir():
        raise CorpusNotFoundError(_missing_message(corpus, path, from_default=False))
    return path


def _walk(root: Path) -> tuple[list[Path], list[Path]]:
    """Audio files under ``root`` (sorted) and files in audio formats we cannot read.

    Hidden entries (``.DS_Store``, AppleDouble ``._x.wav``) and ``__MACOSX`` folders from
    macOS zip files are not audio and are skipped.
    """
    audio: list[Path] = []
    unsupported: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix in AUDIO_EXTENSIONS:
                audio.append(Path(dirpath) / name)
            elif suffix in _UNSUPPORTED_AUDIO:
                unsupported.append(Path(dirpath) / name)
    return audio, unsupported


def _unreadable_reason(path: Path) -> str | None:
    """None when the header reads and holds samples, else why not (header only, no decoding)."""
    try:
        audio_info(path)
    except AudioFileError as exc:
        reason = str(exc)
        prefix = f"{path}: "
        return reason[len(prefix):] if reason.startswith(prefix) else reason
    return None


# A parser maps (file path, corpus root) to (record, identity) or to the reason it failed.
# The identity says which recording a file is, so two copies of one recording are caught.
_Parsed = tuple[Record, str] | str


def _collect(
    corpus: str,
    root: Path,
    candidates: Sequence[tuple[Path, _Parsed]],
    problems: list[tuple[str, str]],
    *,
    check_audio: bool,
    sort: bool = True,
) -> ReadResult:
    """Turn parser outputs into a :class:`ReadResult`: check audio, catch duplicates, log."""
    records: list[Record] = []
    seen: dict[str, str] = {}
    for path, parsed in candidates:
        if isinstance(parsed, str):
            problems.append((str(path), parsed))
            continue
        record, identity = parsed
        if check_audio:
            reason = _unreadable_reason(path)
            if reason is not None:
                problems.append((str(path), reason))
                continue
        if identity in seen:
            problems.append((str(path), f"duplicate of {seen[identity]} (same recording)"))
            continue
        seen[identity] = str(path)
        records.append(record)
    if sort:
        records.sort(key=lambda r: r.path)
    result = ReadResult(corpus=corpus, root=str(root), records=records, problems=problems)
    if problems:
        log.warning("%s", result.summary())
    else:
        log.info("%s", result.summary())
    return result


def _read_tree(
    corpus: str,
    root: str | Path,
    parse: Callable[[Path, Path], _Parsed],
    *,
    check_audio: bool,
) -> ReadResult:
    base = _check_root(root, corpus)
    files, unsupported = _walk(base)
    if not files and not unsupported:
        raise CorpusNotFoundError(
            f"{corpus}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {base}; "
            "is this the folder that holds the corpus?"
        )
    problems = [
        (str(p), f"unsupported format {p.suffix}; convert to WAV or FLAC (e.g. with ffmpeg)")
        for p in unsupported
    ]
    candidates = [(p, parse(p, base)) for p in files]
    return _collect(corpus, base, candidates, problems, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# RAVDESS
# --------------------------------------------------------------------------------------

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


def _parse_ravdess(path: Path, root: Path) -> _Parsed:
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
    record = Record(
        path=str(path),
        corpus="ravdess",
        speaker=f"ravdess-{actor}",
        gender="m" if n % 2 else "f",
        label=RAVDESS_EMOTIONS[emo],
        intensity=_RAVDESS_INTENSITY[inten],
        text=_RAVDESS_STATEMENTS[stmt],
    )
    return record, stem


def read_ravdess(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read RAVDESS speech: ``Actor_NN/03-01-EE-II-SS-RR-AA.wav`` (any folder depth).

    Parameters
    ----------
    root : str or Path
        Folder holding the files (usually ``Actor_01`` ... ``Actor_24``).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("ravdess", root, _parse_ravdess, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# TESS
# --------------------------------------------------------------------------------------

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


def _parse_tess(path: Path, root: Path) -> _Parsed:
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
    record = Record(
        path=str(path),
        corpus="tess",
        speaker=f"tess-{speaker}",
        gender="f",
        label=label,
        intensity=None,
        text=f"Say the word {word}",
    )
    return record, f"{speaker}_{word}_{label}"


def read_tess(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read TESS: ``<SPK>_<emotion>/<SPK>_<word>_<emotion>.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the 14 ``OAF_angry`` ... ``YAF_sad`` folders (or the files directly).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("tess", root, _parse_tess, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# EmoDB
# --------------------------------------------------------------------------------------

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


def _parse_emodb(path: Path, root: Path) -> _Parsed:
    m = _EMODB_RE.match(path.stem)
    if not m:
        return "name is not EmoDB 'SSTTTEV' (speaker, text code a01-b10, emotion letter, version)"
    spk, text, emo, _ver = m.groups()
    if spk not in _EMODB_GENDER:
        return f"unknown EmoDB speaker {spk} (03, 08-16)"
    record = Record(
        path=str(path),
        corpus="emodb",
        speaker=f"emodb-{spk}",
        gender=_EMODB_GENDER[spk],
        label=_EMODB_EMOTIONS[emo.upper()],
        intensity=None,
        text=text.lower(),
    )
    return record, path.stem


def read_emodb(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read Berlin EmoDB: ``wav/SSTTTEV.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the files (the corpus' ``wav/`` or its parent).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("emodb", root, _parse_emodb, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# CREMA-D
# --------------------------------------------------------------------------------------

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


def _parse_cremad(path: Path, root: Path) -> _Parsed:
    m = _CREMAD_RE.match(path.stem)
    if not m:
        return "name is not CREMA-D 'AAAA_SSS_EEE_LL' (actor, sentence, emotion, level)"
    actor, sent, emo, level = (g.upper() for g in m.groups())
    if sent not in _CREMAD_SENTENCES:
        return f"unknown CREMA-D sentence code {sent}"
    if emo not in _CREMAD_EMOTIONS:
        return f"unknown CREMA-D emotion {emo} (ANG, DIS, FEA, HAP, NEU, SAD)"
    if level not in _CREMAD_LEVELS:
        return f"unknown CREMA-D level {level} (LO, MD, HI, XX)"
    record = Record(
        path=str(path),
        corpus="cremad",
        speaker=f"cremad-{actor}",
        gender=None,
        label=_CREMAD_EMOTIONS[emo],
        intensity=_CREMAD_LEVELS[level],
        text=_CREMAD_SENTENCES[sent],
    )
    return record, f"{actor}_{sent}_{emo}_{level}"


def read_cremad(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read CREMA-D: ``AudioWAV/1001_DFA_ANG_XX.wav``.

    Parameters
    ----------
    root : str or Path
        Folder holding the files.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("cremad", root, _parse_cremad, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# SAVEE
# --------------------------------------------------------------------------------------

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


def _parse_savee(path: Path, root: Path) -> _Parsed:
    m = _SAVEE_RE.match(path.stem)
    if not m:
        return "name is not SAVEE '<SPK>_<emotion><NN>' or '<SPK>/<emotion><NN>'"
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
    record = Record(
        path=str(path),
        corpus="savee",
        speaker=f"savee-{speaker}",
        gender="m",
        label=_SAVEE_EMOTIONS[emo],
        intensity=None,
        text=None,
    )
    return record, f"{speaker}_{emo}{num}"


def read_savee(root: str | Path, *, check_audio: bool = True) -> ReadResult:
    """Read SAVEE: ``DC_a01.wav`` (flat, as often redistributed) or ``DC/a01.wav`` (original).

    Parameters
    ----------
    root : str or Path
        Folder holding the files or the four speaker folders.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("savee", root, _parse_savee, check_audio=check_audio)


# --------------------------------------------------------------------------------------
# emotiontts_kor (Korean emotional TTS database, public sample)
# --------------------------------------------------------------------------------------

_KOR_SETS = ("plain-to-emotional", "emotional-to-emotional")
_KOR_FEMALE = frozenset({"ema", "emb", "nea", "neb", "nec", "ned", "nee"})
_KOR_MALE = frozenset({"emf", "emg", "emh", "nek", "nel", "nem", "nen", "neo"})
#: Speakers the corpus README calls by one letter in both sets ("speaker A", "speaker B"):
#: ema/nea and emb/neb may be the same people, so a split keeps each pair on one side.
_KOR_SAME_PERSON = {"nea": "ema", "neb": "emb"}
_KOR_RE = re.compile(r"^([a-z]{3})(\d{5})$")
#: File number ranges (inclusive) -> canonical label.
_KOR_RANGES = ((1, 100, "neutral"), (101, 200, "happy"), (201, 300, "angry"), (301, 400, "sad"))


def _parse_emotiontts_kor(path: Path, root: Path) -> _Parsed:
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
        Read each file's header (no decoding) and report unreadable or empty files.

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
    return _read_tree("emotiontts_kor", root, _parse_emotiontts_kor, check_audio=check_audio)


def speaker_group(speaker: str) -> str:
    """The group a speaker id belongs to for speaker-independent splits.

    Parameters
    ----------
    speaker : str
        A corpus-prefixed speaker id (:attr:`Record.speaker`).

    Returns
    -------
    str
        The id itself, except for speakers who may be one person under two ids:
        ``"emotiontts_kor-nea"`` -> ``"emotiontts_kor-ema"`` and ``"emotiontts_kor-neb"``
        -> ``"emotiontts_kor-emb"``.
    """
    prefix, _, spk = speaker.partition("-")
    if prefix == "emotiontts_kor" and spk in _KOR_SAME_PERSON:
        return f"{prefix}-{_KOR_SAME_PERSON[spk]}"
    return speaker


# --------------------------------------------------------------------------------------
# User data: a folder per label, or a CSV list
# --------------------------------------------------------------------------------------


def _corpus_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name or "data"


def _user_label(raw: str) -> str:
    canon = canonical_label(raw)
    return canon if canon is not None else re.sub(r"[\s\-]+", "_", raw.strip().lower())


def _warn_custom_labels(corpus: str, records: Sequence[Record]) -> None:
    custom = sorted({r.label for r in records} - set(CANONICAL_LABELS))
    if custom:
        log.warning(
            "%s: labels outside the canonical set %s kept as given: %s",
            corpus,
            CANONICAL_LABELS,
            custom,
        )


def read_folder(
    root: str | Path, *, corpus: str | None = None, check_audio: bool = True
) -> ReadResult:
    """Read user data laid out as one folder per label.

    Layout: ``root/<label>/<file>`` or ``root/<label>/<speaker>/<file>`` (one level of
    speaker folders under each label folder; deeper folders are part of no speaker name and
    reported as problems). Files directly in ``root`` have no label and are reported.

    Parameters
    ----------
    root : str or Path
        The folder holding the label folders.
    corpus : str, optional
        Corpus name, also the speaker prefix; default the folder's name (lower-case,
        ``[a-z0-9-]``), so two user folders never share speaker ids.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

    Returns
    -------
    ReadResult
        Labels are the folder names mapped to canonical ones where they are known synonyms
        (``Anger`` -> ``"angry"``), else kept lower-cased (a warning lists them). Speaker
        ``"<corpus>-<speaker folder>"``, or ``"<corpus>-unknown"`` for files directly in a
        label folder: all such files count as ONE speaker, so a protocol can use this corpus
        as a cross-corpus test set but cannot split it by speaker. The label folder is never
        used as the speaker (that would make speaker and label the same split). Gender,
        intensity and text are None.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.
    """
    base = _check_root(root, corpus or "folder")
    name = _corpus_name(corpus if corpus is not None else base.name)

    def parse(path: Path, root_: Path) -> _Parsed:
        rel = path.relative_to(root_).parts
        if len(rel) == 1:
            return "file directly in the root folder: put it in a <label>/ folder"
        if len(rel) > 3:
            return "too deep: expected <label>/<file> or <label>/<speaker>/<file>"
        label = _user_label(rel[0])
        speaker = rel[1] if len(rel) == 3 else "unknown"
        record = Record(
            path=str(path),
            corpus=name,
            speaker=f"{name}-{speaker}",
            gender=None,
            label=label,
        )
        return record, str(path)

    result = _read_tree(name, base, parse, check_audio=check_audio)
    _warn_custom_labels(name, result.records)
    return result


_GENDERS = {"f": "f", "female": "f", "w": "f", "m": "m", "male": "m"}


def read_csv(
    path: str | Path, *, corpus: str | None = None, check_audio: bool = True
) -> ReadResult:
    """Read user data listed in a CSV file with a header row.

    Columns ``path`` and ``label`` are required; ``speaker``, ``gender``, ``intensity`` and
    ``text`` are used when present; others are ignored.

    Parameters
    ----------
    path : str or Path
        The CSV file. Relative audio paths in it are resolved against the CSV's folder.
    corpus : str, optional
        Corpus name and speaker prefix; default the CSV file's stem (lower-case, ``[a-z0-9-]``).
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files
        (a listed file that does not exist is always reported).

    Returns
    -------
    ReadResult
        Labels mapped as in :func:`read_folder`; speaker ``"<corpus>-<speaker>"``, or
        ``"<corpus>-unknown"`` when the column is absent or empty; gender ``f``/``m`` from
        ``f``/``female``/``m``/``male``, else None. Rows with no path or label, missing
        files, files of other formats and repeated paths are problems.

    Raises
    ------
    CorpusNotFoundError
        The CSV file does not exist.
    ValueError
        The CSV has no ``path`` or no ``label`` column.
    """
    csv_path = Path(path).expanduser().absolute()
    if not csv_path.is_file():
        raise CorpusNotFoundError(f"CSV list not found: {csv_path} is not a file")
    name = _corpus_name(corpus if corpus is not None else csv_path.stem)
    candidates: list[tuple[Path, _Parsed]] = []
    problems: list[tuple[str, str]] = []
    with open(csv_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        columns = {c.strip().lower(): c for c in (reader.fieldnames or [])}
        missing = [c for c in ("path", "label") if c not in columns]
        if missing:
            raise ValueError(
                f"{csv_path}: no column {' or '.join(missing)}; the header must name "
                f"'path' and 'label' (optional: speaker, gender, intensity, text), "
                f"found {reader.fieldnames}"
            )

        def get(row: dict, key: str) -> str:
            col = columns.get(key)
            return (row.get(col) or "").strip() if col is not None else ""

        for line_no, row in enumerate(reader, start=2):
            raw_path, raw_label = get(row, "path"), get(row, "label")
            where = f"{csv_path}:{line_no}"
            if not raw_path:
                problems.append((where, "empty path"))
                continue
            audio = Path(raw_path).expanduser()
            if not audio.is_absolute():
                audio = Path(os.path.normpath(csv_path.parent / audio))
            if not raw_label:
                candidates.append((audio, f"empty label ({where})"))
                continue
            if audio.suffix.lower() not in AUDIO_EXTENSIONS:
                candidates.append(
                    (audio, f"not a {'/'.join(AUDIO_EXTENSIONS)} file ({where}); convert it")
                )
                continue
            if not audio.is_file():
                candidates.append((audio, f"no such file ({where})"))
                continue
            speaker = get(row, "speaker") or "unknown"
            record = Record(
                path=str(audio),
                corpus=name,
                speaker=f"{name}-{speaker}",
                gender=_GENDERS.get(get(row, "gender").lower()),
                label=_user_label(raw_label),
                intensity=get(row, "intensity") or None,
                text=get(row, "text") or None,
            )
            candidates.append((audio, (record, str(audio.resolve()))))
    result = _collect(name, csv_path, candidates, problems, check_audio=check_audio, sort=False)
    _warn_custom_labels(name, result.records)
    return result


# --------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------

#: Reader of each corpus name accepted by :func:`read_corpus`.
CORPORA: dict[str, Callable[..., ReadResult]] = {
    "ravdess": read_ravdess,
    "tess": read_tess,
    "emodb": read_emodb,
    "cremad": read_cremad,
    "savee": read_savee,
    "emotiontts_kor": read_emotiontts_kor,
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
        ``"savee"``, ``"emotiontts_kor"``, ``"folder"``, ``"csv"`` (case-insensitive;
        ``"crema-d"``, ``"emo-db"``, ``"emotiontts-kor"`` accepted).
    root : str or Path, optional
        The corpus folder (the CSV file for ``"csv"``). Default for the shipped corpora:
        :func:`corpus_path` (``$SER_LIVE_DATA/<name>``); required for the others.
    check_audio : bool, default True
        Read each file's header (no decoding) and report unreadable or empty files.

    Returns
    -------
    ReadResult

    Raises
    ------
    ValueError
        Unknown name, or no ``root`` for a corpus that is not shipped.
    CorpusNotFoundError
        The folder is missing or holds no audio.
    """
    squash = {re.sub(r"[\s_\-]+", "", k): k for k in CORPORA}
    key = squash.get(re.sub(r"[\s_\-]+", "", name.strip().lower()), "")
    if key not in CORPORA:
        raise ValueError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")
    if root is None:
        if key not in SHIPPED_CORPORA:
            raise ValueError(
                f"corpus {key!r} is not in the shared data folder: give its "
                f"{'CSV file' if key == 'csv' else 'folder'} as root"
            )
        root = corpus_path(key)
    return CORPORA[key](root, check_audio=check_audio)
