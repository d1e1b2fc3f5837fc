"""User data: a folder per label (:func:`read_folder`) or a CSV list (:func:`read_csv`).

Labels are mapped to the canonical ones where they are known synonyms (``Anger`` ->
``"angry"``), else kept lower-cased with a warning. The corpus name (the folder's or the CSV
file's, lower-case ``[a-z0-9-]``) prefixes the speaker ids, so two user data sets never share
a speaker.
"""

from __future__ import annotations

import csv
import logging
import os
import re
from pathlib import Path
from typing import Sequence

from ser_live.labels import CANONICAL_LABELS, canonical_label

from .location import check_root
from .records import CorpusNotFoundError, ReadResult, Record
from .scan import AUDIO_EXTENSIONS, Parsed, collect, read_tree

__all__ = ["corpus_name_of", "read_folder", "read_csv"]

log = logging.getLogger(__name__)


def _corpus_name(raw: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", raw.lower()).strip("-")
    return name or "data"


def corpus_name_of(path: Path) -> str:
    """The corpus name of a folder or CSV list of one's own, as its records carry it.

    Parameters
    ----------
    path : Path
        A folder, a CSV list (its stem names it) or a folder's ``labels.csv`` (the folder
        names it); relative paths are taken from the working folder.

    Returns
    -------
    str
        Lower-case ``[a-z0-9-]`` (``"My Calls"`` -> ``"my-calls"``), ``"data"`` when nothing is left.
    """
    path = Path(path).expanduser().absolute()
    if path.suffix.lower() == ".csv":
        return _corpus_name(path.parent.name if path.stem.lower() == "labels" else path.stem)
    return _corpus_name(path.name)


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
        Read each file's header (no decoding) and report unreadable, empty, too short or too long files.

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
    base = check_root(root, corpus or "folder")
    name = _corpus_name(corpus if corpus is not None else base.name)

    def parse(path: Path, root_: Path) -> Parsed:
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

    result = read_tree(name, base, parse, check_audio=check_audio)
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
        Read each file's header (no decoding) and report unreadable, empty, too short or too
        long files (a listed file that does not exist is always reported).

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
    candidates: list[tuple[Path, Parsed]] = []
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
    result = collect(name, csv_path, candidates, problems, check_audio=check_audio, sort=False)
    _warn_custom_labels(name, result.records)
    return result
