"""Files written and read the one way: an atomic writer, and a reader of (path, column) CSVs.

:func:`atomic_writer` / :func:`write_atomic` replace a file so a reader sees either the old
content or the whole new one, never a torn file (a crash, a full disk, two writers): the
bytes go to a temporary file of an unguessable name, created exclusively
(``O_CREAT | O_EXCL | O_NOFOLLOW``, so a planted file or symlink is never written through)
in the destination's folder, are flushed to disk (``fsync``), and the temporary file is then
renamed over the destination (``os.replace``, atomic on POSIX and Windows within one file
system); on any error it is removed and the destination is untouched.

:func:`read_path_csv` reads the CSV lists users give (``predict`` inputs, ``--sessions``,
calibration lists, corpora): a header row naming the columns, one row per audio file, paths
relative to the CSV's folder.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Sequence

__all__ = ["atomic_writer", "write_atomic", "point_at_devnull", "expand_home", "PathRow", "CsvListError",
           "read_path_csv"]

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows
_O_BINARY = getattr(os, "O_BINARY", 0)  # Windows only


@contextlib.contextmanager
def atomic_writer(path: str | Path, *, mode: int = 0o644) -> Iterator[BinaryIO]:
    """Open a binary file whose content replaces ``path`` atomically when the block ends.

    Parameters
    ----------
    path : str or Path
        The destination; its folder must exist. A symlink at ``path`` is replaced by the
        file, not followed.
    mode : int, default 0o644
        Permission bits of the new file (before the umask).

    Yields
    ------
    BinaryIO
        Write the whole content to it (``np.save(f, x)``, ``f.write(data)``). Its attribute
        ``temporary_path`` (Path) is the temporary file, for a caller that must finish it
        under another name instead (then it renames it itself and ends the block with an
        exception).

    Raises
    ------
    OSError
        The folder is missing or not writable, the disk is full, ... : the destination is
        left as it was and the temporary file removed. An exception raised inside the block
        does the same and propagates.
    """
    dest = Path(path)
    tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.temporary_path = tmp  # type: ignore[attr-defined]
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(dest.parent)


def write_atomic(path: str | Path, data: bytes | str, *, mode: int = 0o644, encoding: str = "utf-8") -> Path:
    """Replace ``path`` with ``data`` atomically (:func:`atomic_writer`).

    Parameters
    ----------
    path : str or Path
    data : bytes or str
        ``str`` is encoded with ``encoding``.
    mode : int, default 0o644
    encoding : str, default "utf-8"

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OSError
        As :func:`atomic_writer` (the destination is left as it was).
    """
    with atomic_writer(path, mode=mode) as f:
        f.write(data.encode(encoding) if isinstance(data, str) else data)
    return Path(path)


def point_at_devnull(fd: int) -> None:
    """Point the open file descriptor ``fd`` at /dev/null (``os.dup2``): what is still written
    to it (a buffer flushed at close or at exit) goes nowhere. The descriptor number stays
    taken, so a file another thread opens meanwhile cannot get it (as closing it could let).

    Raises
    ------
    OSError
        /dev/null cannot be opened, or ``fd`` is not an open descriptor.
    """
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, fd)
    finally:
        os.close(null)


def expand_home(path: str) -> str:
    """A path given on the command line or in an environment variable, with a leading ``~``
    or ``~user`` expanded to the home folder (:func:`os.path.expanduser`), as a shell would.

    The shell expands a ``~`` only at the start of a word: it leaves the one of
    ``--option=~/x``, of a quoted ``"~/x"`` and of ``VAR="~/x"`` as it is, which would
    otherwise name a folder literally called ``~`` in the working folder.

    Parameters
    ----------
    path : str
        As given; ``-`` (stdout), an empty value and a path without a leading ``~`` come
        back unchanged, and so does ``~user`` for a user that does not exist.

    Returns
    -------
    str
    """
    return os.path.expanduser(path)


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry of the rename (POSIX; a no-op where folders cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - Windows
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse fsync on a folder
        pass
    finally:
        os.close(fd)


class CsvListError(ValueError):
    """A CSV list that cannot be read: unreadable file, missing columns, no rows, empty cells.
    The message is one line naming the file (and the line)."""


@dataclass(frozen=True)
class PathRow:
    """One row of a CSV list.

    Attributes
    ----------
    path : Path
        The audio path, resolved against the CSV's folder when relative (not checked to exist).
    raw_path : str
        The cell as written (stripped).
    values : dict of str to str
        The other requested columns, stripped (``""`` for an empty optional cell).
    line : int
        Line number in the file (the header is line 1).
    """

    path: Path
    raw_path: str
    values: dict[str, str]
    line: int


def read_path_csv(
    path: str | Path,
    *,
    required: Sequence[str] = ("path",),
    optional: Sequence[str] = (),
    what: str = "CSV list",
) -> list[PathRow]:
    """Read a CSV list with a header row: a ``path`` column and other named columns.

    Column names are matched case-insensitively and stripped; a UTF-8 byte-order mark is
    accepted; rows whose cells are all empty are skipped; other columns are ignored.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    required : sequence of str, default ("path",)
        Columns the header must name, ``"path"`` among them; an empty cell in one is an error.
    optional : sequence of str, default ()
        Columns read when present.
    what : str, default "CSV list"
        What the file is, for messages (``"sessions file"``, ``"calibration list"``).

    Returns
    -------
    list of PathRow
        In file order; repeated paths are kept (callers decide).

    Raises
    ------
    CsvListError
        Unreadable or undecodable file, malformed CSV, a required column missing from the
        header, no rows, an empty required cell (the message names the file and line).
    ValueError
        ``required`` does not include ``"path"``.
    """
    if "path" not in required:
        raise ValueError("required columns must include 'path'")
    p = Path(path)
    try:
        with open(p, encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = {(h or "").strip().lower(): h for h in (reader.fieldnames or [])}
            raw_rows = [(reader.line_num, r) for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CsvListError(f"{what} {p}: cannot read it ({exc})") from exc
    missing = [c for c in required if c.lower() not in header]
    if missing:
        raise CsvListError(
            f"{what} {p}: the header must name the columns {', '.join(f'`{c}`' for c in required)}; "
            f"missing {', '.join(f'`{c}`' for c in missing)} (found {', '.join(k for k in header if k) or 'no header'})"
        )
    base = p.resolve().parent
    out: list[PathRow] = []
    for line, row in raw_rows:
        cells = {c: (row.get(header[c.lower()]) or "").strip() if c.lower() in header else "" for c in (*required, *optional)}
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue
        empty = [c for c in required if not cells[c]]
        if empty:
            raise CsvListError(f"{what} {p}, line {line}: empty {', '.join(empty)}")
        raw = cells.pop("path")
        q = Path(raw).expanduser()
        out.append(PathRow(path=q if q.is_absolute() else base / q, raw_path=raw, values=cells, line=line))
    if not out:
        raise CsvListError(f"{what} {p}: no rows after the header")
    return out
