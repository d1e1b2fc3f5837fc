"""Walking a corpus: audio files of a folder tree or of a label list, parsed into records.

Every reader is a parser (file -> :class:`Record` and an identity, or the reason it failed)
run over the files by :func:`read_tree` (a folder walked) or :func:`read_label_list` (a
corpus' own ``labels.csv``). Both go through :func:`collect`, which checks each file's header,
catches two copies of one recording and logs a summary: nothing is dropped silently.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path
from typing import Callable, Mapping, Sequence, Union

from ser_live.audiofile import audio_info, unreadable_folder_reason
from ser_live.errors import AudioFileError
from ser_live.features import FeatureConfig
from ser_live.offline import WHOLE_FILE_MAX_S

from .location import check_root
from .records import CorpusNotFoundError, ReadResult, Record

__all__ = ["AUDIO_EXTENSIONS", "MIN_FILE_S", "MAX_FILE_S", "Parsed", "walk", "collect", "read_tree", "read_label_list",
           "name_parser"]

log = logging.getLogger(__name__)

#: File extensions read as audio (compared lower-cased).
AUDIO_EXTENSIONS: tuple[str, ...] = (".wav", ".flac", ".ogg")

#: Audio formats users may have that libsndfile does not read: reported as problems, not skipped.
UNSUPPORTED_AUDIO = frozenset({".mp3", ".m4a", ".aac", ".wma", ".mp4", ".opus", ".webm"})

#: Shortest file kept (s): the extractor's minimum input (``FeatureConfig.min_samples``, 65 ms
#: at 16 kHz). A shorter file cannot give a feature row at all, so it is left out when read.
MIN_FILE_S: float = FeatureConfig().min_samples / FeatureConfig().sample_rate_hz

#: Longest file (s) taken as one utterance without a warning: ``ser_live.offline.WHOLE_FILE_MAX_S``,
#: the limit ``predict`` puts on one utterance. The corpora's files last 0.9-11 s and the live
#: segmenter cuts at 8 s; a file over a minute is a session or a whole recording, whose one
#: feature row would pool many utterances (and decode minutes of audio into memory). It is kept
#: (it may be one long read passage) but named, so a mislabelled recording is seen.
MAX_FILE_S: float = WHOLE_FILE_MAX_S

#: What a parser returns: ``(record, identity)`` (the identity says which recording a file
#: is, so two copies of one recording are caught), or the reason the file cannot be used.
Parsed = Union[tuple[Record, str], str]


def walk(root: Path) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """Audio files under ``root`` (sorted), files in audio formats we cannot read, and the
    folders that could not be read.

    Hidden entries (``.DS_Store``, AppleDouble ``._x.wav``) and ``__MACOSX`` folders from
    macOS zip files are not audio and are skipped.

    Parameters
    ----------
    root : Path
        An existing folder.

    Returns
    -------
    audio, unsupported : list of Path
        Files ending in one of :data:`AUDIO_EXTENSIONS`, and files in
        :data:`UNSUPPORTED_AUDIO` formats; each in walk order (folders and names sorted).
    unreadable : list of (str, str)
        Folders under ``root`` (or ``root`` itself) that could not be listed (no
        permission), with the reason: problems of the corpus, never skipped without a word.
    """
    audio: list[Path] = []
    unsupported: list[Path] = []
    unreadable: list[tuple[str, str]] = []

    def cannot_list(exc: OSError) -> None:
        unreadable.append((str(exc.filename or root), unreadable_folder_reason(exc, missed="read")))

    for dirpath, dirnames, filenames in os.walk(root, onerror=cannot_list):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            suffix = os.path.splitext(name)[1].lower()
            if suffix in AUDIO_EXTENSIONS:
                audio.append(Path(dirpath) / name)
            elif suffix in UNSUPPORTED_AUDIO:
                unsupported.append(Path(dirpath) / name)
    return audio, unsupported, unreadable


def _audio_reasons(path: Path) -> tuple[str | None, str | None]:
    """Why a file is left out (unreadable, empty, shorter than :data:`MIN_FILE_S`) and why it
    is kept with a warning (longer than :data:`MAX_FILE_S`); each None when it does not apply.
    Header only, no decoding."""
    try:
        info = audio_info(path)
    except AudioFileError as exc:
        reason = str(exc)
        prefix = f"{path}: "
        return (reason[len(prefix):] if reason.startswith(prefix) else reason), None
    if info.duration_s < MIN_FILE_S:
        return f"too short ({info.duration_s * 1000:.0f} ms; the extractor needs {MIN_FILE_S * 1000:.0f} ms)", None
    if info.duration_s > MAX_FILE_S:
        return None, f"{info.duration_s:.0f} s long, more than {MAX_FILE_S:.0f} s for one utterance (kept)"
    return None, None


def _unsupported_problems(unsupported: Sequence[Path]) -> list[tuple[str, str]]:
    return [
        (str(p), f"unsupported format {p.suffix}; convert to WAV or FLAC (e.g. with ffmpeg)")
        for p in unsupported
    ]


def collect(
    corpus: str,
    root: Path,
    candidates: Sequence[tuple[Path, Parsed]],
    problems: list[tuple[str, str]],
    *,
    check_audio: bool,
    sort: bool = True,
) -> ReadResult:
    """Turn parser outputs into a :class:`ReadResult`: check audio, catch duplicates, log.

    Parameters
    ----------
    corpus : str
        Corpus name.
    root : Path
        What was read (a folder or a list file), for the summary.
    candidates : sequence of (Path, Parsed)
        Each file with what its parser made of it.
    problems : list of (str, str)
        Problems found before parsing (extended in place).
    check_audio : bool
        Read each file's header (no decoding): leave out unreadable or empty files and files
        shorter than :data:`MIN_FILE_S`; keep files longer than :data:`MAX_FILE_S` with a
        warning (:attr:`ReadResult.warnings`).
    sort : bool, default True
        Sort the records by path (else keep the candidates' order).

    Returns
    -------
    ReadResult
        Logged as a warning when there are problems or warnings, else at INFO.
    """
    records: list[Record] = []
    warnings: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for path, parsed in candidates:
        if isinstance(parsed, str):
            problems.append((str(path), parsed))
            continue
        record, identity = parsed
        if check_audio:
            reason, warning = _audio_reasons(path)
            if reason is not None:
                problems.append((str(path), reason))
                continue
        else:
            warning = None
        if identity in seen:
            problems.append((str(path), f"duplicate of {seen[identity]} (same recording)"))
            continue
        seen[identity] = str(path)
        records.append(record)
        if warning is not None:
            warnings.append((str(path), warning))
    if sort:
        records.sort(key=lambda r: r.path)
    result = ReadResult(corpus=corpus, root=str(root), records=records, problems=problems, warnings=warnings)
    if problems or warnings:
        log.warning("%s", result.summary())
    else:
        log.info("%s", result.summary())
    return result


def name_parser(
    pattern: re.Pattern[str], expected: str, build: Callable[[re.Match[str], Path], Parsed]
) -> Callable[[Path, Path], Parsed]:
    """A :func:`read_tree` parser for a corpus whose file names follow one pattern.

    Parameters
    ----------
    pattern : re.Pattern
        Matched against the file's stem (name without extension).
    expected : str
        What a name should look like, for the reason given when it does not match
        (``"name is not <expected>"``).
    build : callable
        ``build(match, path) -> Parsed``: the record and identity of a matching name, or the
        reason it cannot be used.

    Returns
    -------
    callable
        ``parse(path, root) -> Parsed``.
    """
    def parse(path: Path, root: Path) -> Parsed:
        m = pattern.match(path.stem)
        return build(m, path) if m else f"name is not {expected}"

    return parse


def read_tree(
    corpus: str,
    root: str | Path,
    parse: Callable[[Path, Path], Parsed],
    *,
    check_audio: bool,
) -> ReadResult:
    """Read a corpus whose file names (and folders) say everything: walk, parse, collect.

    Parameters
    ----------
    corpus : str
        Corpus name.
    root : str or Path
        The corpus folder.
    parse : callable
        ``parse(path, root) -> Parsed``.
    check_audio : bool
        Check each file's header as :func:`collect` does.

    Returns
    -------
    ReadResult

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or holds no audio files.
    """
    base = check_root(root, corpus)
    files, unsupported, unreadable = walk(base)
    if not files and not unsupported and not unreadable:
        raise CorpusNotFoundError(
            f"{corpus}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) under {base}; "
            "is this the folder that holds the corpus?"
        )
    candidates = [(p, parse(p, base)) for p in files]
    return collect(corpus, base, candidates, unreadable + _unsupported_problems(unsupported), check_audio=check_audio)


#: Columns a corpus' ``labels.csv`` must have (``gender`` and ``text`` may be empty).
LABEL_LIST_COLUMNS = ("path", "label", "speaker", "gender", "text")


def read_label_list(
    corpus: str,
    root: str | Path,
    parse: Callable[[Path, Path, Mapping[str, str]], Parsed],
    *,
    check_audio: bool,
    list_name: str = "labels.csv",
) -> ReadResult:
    """Read a corpus from its own label list, ``<root>/labels.csv`` (``path,label,speaker,gender,text``).

    Each row's path is relative to ``root``; ``parse(path, root, row)`` checks the row against
    what the file's name and folders say and makes the record. Audio files under ``root``
    that no row lists are problems too ("not in labels.csv"), so nothing is left out silently.

    Parameters
    ----------
    corpus : str
        Corpus name.
    root : str or Path
        The corpus folder (holding ``labels.csv``).
    parse : callable
        ``parse(path, root, row) -> Parsed``, ``row`` the CSV row (column -> stripped str).
    check_audio : bool
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.
    list_name : str, default "labels.csv"
        The list's file name.

    Returns
    -------
    ReadResult
        Records sorted by path; problems name the CSV line.

    Raises
    ------
    CorpusNotFoundError
        ``root`` is not a folder or has no label list.
    ValueError
        The list lacks one of :data:`LABEL_LIST_COLUMNS`.
    """
    base = check_root(root, corpus)
    list_path = base / list_name
    if not list_path.is_file():
        raise CorpusNotFoundError(
            f"{corpus}: no {list_name} in {base}; this reader reads the corpus' label list "
            f"({','.join(LABEL_LIST_COLUMNS)}, paths relative to the corpus folder)"
        )
    candidates: list[tuple[Path, Parsed]] = []
    problems: list[tuple[str, str]] = []
    listed: set[Path] = set()
    with open(list_path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        missing = [c for c in LABEL_LIST_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(
                f"{list_path}: no column {', '.join(missing)}; expected the header "
                f"{','.join(LABEL_LIST_COLUMNS)}, found {reader.fieldnames}"
            )
        for line_no, raw in enumerate(reader, start=2):
            row = {k: (v or "").strip() for k, v in raw.items() if k is not None}
            where = f"{list_name}:{line_no}"
            if not row["path"]:
                problems.append((f"{list_path}:{line_no}", "empty path"))
                continue
            audio = Path(os.path.normpath(base / row["path"]))
            listed.add(audio)
            if not audio.is_file():
                candidates.append((audio, f"listed in {where} but no such file"))
                continue
            parsed = parse(audio, base, row)
            candidates.append((audio, parsed if not isinstance(parsed, str) else f"{parsed} ({where})"))
    files, unsupported, unreadable = walk(base)
    problems += [(str(p), f"not in {list_name}: no label") for p in files if p not in listed]
    problems += unreadable + _unsupported_problems(unsupported)
    return collect(corpus, base, candidates, problems, check_audio=check_audio)
