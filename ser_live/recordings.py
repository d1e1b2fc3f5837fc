"""Kept utterances: one WAV per utterance and a JSON-lines index, written safely.

:class:`RecordingsWriter` is what ``--save-utterances DIR`` (and
``Recognizer(save_dir=...)``) uses. Three promises:

* **No partial file.** Each WAV is built in memory, written to a hidden temporary file of
  an unguessable name in the same folder (created with ``O_EXCL | O_NOFOLLOW``, so a planted
  file or symlink is never written through), flushed and fsynced, then linked to its final
  name; only then is its index line appended (one ``write(2)`` to a descriptor opened with
  ``O_APPEND | O_NOFOLLOW``, then fsynced). A write that fails (disk full, quota, I/O error)
  removes the temporary file and the WAV, unless its whole index line was written (only
  the fsync failed: then both stay), so every complete index line names a complete WAV and
  every WAV has one index line.
* **The index is append-only.** Several runs may save into one folder at once, so the
  index is never rewritten or truncated: a line that lands only in part (the disk filled
  mid-line) is ended with a newline where possible, and readers skip a line that is not
  JSON; another run's lines are never touched. An index that ends in a partial line (a run
  killed mid-write) is ended with a newline when opened, said once, so the first line of
  this run starts a line of its own. A symlink at ``index.jsonl`` is refused
  (the index would be written outside the folder): :meth:`RecordingsWriter.open` raises.
  An index removed or moved away mid-run (the folder tidied, the index rotated) is started
  again at its name, said once each time, so each later line lies beside its WAV.
* **Unique names per run.** Names carry the run id (local start time to the second plus a
  random 6-hex-digit tag): ``utt-<YYYYmmdd-HHMMSS>-<tag>-<index:04d>.wav``. The final name
  is taken with ``link(2)``, which never replaces an existing file, so two runs writing into
  one folder at the same second can never overwrite each other's recordings. On a file
  system without hard links (FAT, exFAT: most USB sticks) the complete file is renamed to
  its name once the name is found free.
* **A failure stops saving, not the run.** The first failed write is logged once, with
  the path and the reason, saving stops (``error`` holds the reason), and the caller goes
  on classifying; :attr:`n_saved` counts what is really on disk.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import secrets
import stat
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .audiofile import SAMPLE_RATE_HZ, to_int16
from .forksafe import fork_guard
from .jsonl import json_line
from .records import index_record
from .types import Result, UncertaintyRule

__all__ = ["RecordingsWriter", "new_run_id", "INDEX_NAME"]

log = logging.getLogger(__name__)

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)  # absent on Windows
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # absent on Windows

#: File name of the index inside the recordings folder.
INDEX_NAME: str = "index.jsonl"


def new_run_id() -> str:
    """A run id unique across runs: local start time to the second and a random tag.

    Returns
    -------
    str
        ``"YYYYmmdd-HHMMSS-xxxxxx"`` (6 hex digits from :func:`secrets.token_hex`: two runs
        started in the same second collide with probability 2**-24; names are taken with
        ``link(2)`` anyway, which refuses an existing name).
    """
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


def wav_bytes(samples: np.ndarray, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    """A complete mono 16-bit PCM WAV file in memory.

    Parameters
    ----------
    samples : np.ndarray, int16 (written as is) or float32 in [-1, 1], shape (n_samples,)
    sample_rate_hz : int, default 16000

    Returns
    -------
    bytes
        Header and samples, as :func:`~ser_live.audiofile.write_wav` would write them.
    """
    x = samples if samples.dtype == np.int16 else to_int16(samples)
    buf = io.BytesIO()
    with fork_guard():  # soundfile's open lock: no fork meanwhile (ser_live.forksafe)
        sf.write(buf, x, sample_rate_hz, subtype="PCM_16", format="WAV")
    return buf.getvalue()


def _write_file_durably(path: Path, data: bytes) -> None:
    """Create ``path`` exclusively (``O_EXCL``), write all of ``data``, fsync, close.

    Raises
    ------
    OSError
        Existing path, or any write/fsync error (the caller removes the file).
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    finally:
        os.close(fd)


#: What link(2) says on a file system without hard links (FAT, exFAT, some network shares).
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS})


def _take_name(tmp: Path, final: Path) -> None:
    """Give the complete file ``tmp`` the name ``final``, never replacing a file there:
    ``link(2)`` (``tmp`` stays; the caller removes it). Where the file system has no hard
    links, ``tmp`` is renamed once ``final`` is found free: not atomic against another
    writer of that very name, but names carry the run's random tag.

    Raises
    ------
    OSError
        ``FileExistsError`` when ``final`` exists; any other error of the link or rename.
    """
    try:
        os.link(tmp, final)  # never replaces an existing file (FileExistsError)
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(final)) from exc
        os.rename(tmp, final)


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as exc:  # pragma: no cover - e.g. the folder vanished
        log.warning("could not remove %s: %s", path, exc)


class RecordingsWriter:
    """Write utterance WAVs and their JSON-lines index into one folder (see module doc).

    Parameters
    ----------
    folder : str or Path
        Created on :meth:`open` if missing. May be shared with other runs.
    run_id : str, optional
        Part of every file name; default :func:`new_run_id`.
    source_name : str, default ""
        Written to each index line as ``"source"``.
    uncertainty : UncertaintyRule, optional
        The run's rule for each line's ``"uncertain"`` (``ser-live`` sets it); None leaves the
        key out, as :meth:`Result.to_json <ser_live.types.Result.to_json>` does.
    flags : UncertaintyRule, optional
        ``--partial``: each line has ``"final"`` too, as a ``--jsonl`` line then has.
    profile : str, optional
        The ``--profile``'s name, written to each line as ``"profile"``.

    Each index line is the ``--jsonl`` line of its utterance with these settings
    (:func:`~ser_live.records.index_record`) plus ``"wav"`` and ``"source"``; a caller that
    builds the recogniser first may set the three attributes before :meth:`open`.

    Attributes
    ----------
    folder : Path
    run_id : str
    n_saved : int
        Utterances whose WAV and index line are both on disk.
    error : OSError or None
        The failure that stopped saving; None while saving works.
    saved_paths : list of Path
        The WAVs this writer put on disk, in order.

    Notes
    -----
    Not thread-safe: one thread (the recogniser's worker) calls :meth:`save`.
    """

    def __init__(self, folder: str | Path, *, run_id: str | None = None, source_name: str = "",
                 uncertainty: UncertaintyRule | None = None, flags: UncertaintyRule | None = None,
                 profile: str | None = None) -> None:
        self.folder = Path(folder)
        self.run_id = run_id or new_run_id()
        self.source_name = source_name
        self.uncertainty = uncertainty
        self.flags = flags
        self.profile = profile
        self.n_saved = 0
        self.error: OSError | None = None
        self.saved_paths: list[Path] = []
        self._index: Any = None

    @property
    def active(self) -> bool:
        """True while open and no write has failed."""
        return self._index is not None and self.error is None

    @property
    def index_path(self) -> Path:
        """``<folder>/index.jsonl``."""
        return self.folder / INDEX_NAME

    def open(self) -> "RecordingsWriter":
        """Create the folder and open the index for appending.

        Returns
        -------
        RecordingsWriter
            ``self``.

        Raises
        ------
        OSError
            The folder cannot be created (``NotADirectoryError`` when it is a file: the
            message says a folder is needed), the index cannot be opened, is a symlink
            (``ELOOP``: the message says so) or not a regular file (a folder, a FIFO: said
            at once, never waited on), or the folder is a symlink to a folder that does not
            exist (``FileNotFoundError``: the message names the link's target).
        """
        if self.folder.exists() and not self.folder.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "it is a file, not a folder; recordings need a folder "
                                     "(created if missing)", str(self.folder))
        if self.folder.is_symlink() and not self.folder.exists():  # mkdir(2) would say "File exists"
            raise FileNotFoundError(errno.ENOENT, f"it is a symlink to {os.readlink(self.folder)}, which does not "
                                    "exist; create that folder or give another", str(self.folder))
        self.folder.mkdir(parents=True, exist_ok=True)
        self._index = self._open_index()
        self._end_torn_line()
        return self

    def _open_index(self) -> int:
        """Open (creating it) ``index.jsonl`` for appending; a symlink there raises (``ELOOP``),
        and so does anything but a regular file (a FIFO, opened without ``O_NONBLOCK``, would
        wait for a reader for good)."""
        not_regular = "it is not a regular file (a folder, a FIFO, a device?); the index must be one (remove it)"
        try:
            fd = os.open(self.index_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | _O_NOFOLLOW | _O_NONBLOCK, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise OSError(exc.errno, "it is a symlink; the index is not written through one (remove it)",
                              str(self.index_path)) from exc
            if exc.errno in (errno.EISDIR, errno.ENXIO):  # a folder; a FIFO no one reads
                raise OSError(errno.EINVAL, not_regular, str(self.index_path)) from exc
            raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, not_regular, str(self.index_path))
        if _O_NONBLOCK:
            os.set_blocking(fd, True)
        return fd

    def _follow_index(self) -> None:
        """Reopen the index when the file open is no longer the one at ``index.jsonl`` (removed
        or moved away mid-run, e.g. the folder tidied or the index rotated): lines written to
        it would be lost or land in the moved file, away from the WAVs they name."""
        try:
            here = os.path.samestat(os.stat(self.index_path, follow_symlinks=False), os.fstat(self._index))
        except FileNotFoundError:
            here = False
        if not here:
            fd = self._open_index()
            os.close(self._index)
            self._index = fd
            log.warning("%s was removed or moved during the run: a new index is started there with this run's "
                        "next utterances", self.index_path)

    def _end_torn_line(self) -> None:
        """End a partial last line of the index (a run killed mid-write) with a newline, said
        once: the index is append-only (other runs may be appending), so it is not cut, and
        readers skip the fragment, which is not JSON."""
        try:
            fd = os.open(self.index_path, os.O_RDONLY | _O_NOFOLLOW)
            try:
                size = os.fstat(fd).st_size
                torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            finally:
                os.close(fd)
            if torn:
                os.write(self._index, b"\n")
        except OSError as exc:  # e.g. the disk is full: saving stops, the run goes on
            self._fail(self.index_path, exc)
            return
        if torn:
            log.warning("%s ended in a partial line (a run stopped mid-write?); it is left as it is (not JSON: "
                        "readers skip it) and this run's lines start on a new line", self.index_path)

    def close(self) -> None:
        """Close the index (idempotent)."""
        fd, self._index = self._index, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError as exc:  # pragma: no cover - a write that can no longer land
                self._fail(self.index_path, exc)

    def wav_name(self, index: int) -> str:
        """File name of utterance ``index`` of this run."""
        return f"utt-{self.run_id}-{index:04d}.wav"

    def save(self, result: Result) -> Path | None:
        """Write one classified utterance and its index line.

        Parameters
        ----------
        result : Result
            Its utterance's samples (int16, 16 kHz mono) are written as they are; the index
            line is its ``--jsonl`` line (:func:`~ser_live.records.index_record`) plus
            ``"wav"`` (the file name) and ``"source"``.

        Returns
        -------
        Path or None
            The WAV written; None when saving is off (not open, or stopped by an earlier
            failure) or this write failed (then :attr:`error` says why, and it was logged).
        """
        if not self.active:
            return None
        utt = result.utterance
        name = self.wav_name(utt.index)
        final = self.folder / name
        tmp = self.folder / f".{name}.{secrets.token_hex(8)}.tmp"
        stage, target = "writing", final
        linked = False
        try:
            _write_file_durably(tmp, wav_bytes(utt.samples, sample_rate_hz=utt.sample_rate_hz))
            stage = "naming"
            _take_name(tmp, final)
            linked = True
            _unlink_quietly(tmp)
            stage, target = "indexing", self.index_path
            self._append_index(json_line(self.record(result, wav=name)))
        except OSError as exc:
            _unlink_quietly(tmp)
            indexed = getattr(exc, "ser_live_line_written", False)
            if linked and not indexed:
                _unlink_quietly(final)
            self._fail(target if stage != "naming" else final, exc)
            if indexed:  # its whole line is in the index (only the fsync failed): keep the pair
                self.n_saved += 1
                self.saved_paths.append(final)
                return final
            return None
        self.n_saved += 1
        self.saved_paths.append(final)
        return final

    def record(self, result: Result, *, wav: str) -> dict[str, Any]:
        """The index line of ``result`` saved as ``wav``: the ``--jsonl`` line with this
        writer's rule, flags and profile, plus ``"wav"`` and ``"source"``.

        Parameters
        ----------
        result : Result
        wav : str
            The WAV's file name in :attr:`folder`.

        Returns
        -------
        dict
        """
        return index_record(result, wav=wav, source=self.source_name, flags=self.flags, profile=self.profile,
                            uncertainty=self.uncertainty)

    def _append_index(self, line: str) -> None:
        """Append one line with one ``write(2)`` (``O_APPEND``: at the end, whatever other
        runs appended) and fsync. Nothing is ever truncated: a line that landed in part is
        ended with a newline where possible (readers skip it), and the error raised."""
        data = line.encode("utf-8")
        n = 0
        try:
            self._follow_index()
            fd = self._index
            n = os.write(fd, data)
            if n != len(data):
                raise OSError(errno.ENOSPC, f"only {n} of {len(data)} bytes of the index line were written")
            os.fsync(fd)
        except OSError as exc:
            if 0 < n < len(data):
                try:
                    os.write(fd, b"\n")
                except OSError:
                    pass
            # the whole line is in the index (the fsync failed): the caller keeps its WAV
            exc.ser_live_line_written = n == len(data)  # type: ignore[attr-defined]
            raise

    def _fail(self, path: Path, exc: OSError) -> None:
        if self.error is not None:
            return
        self.error = exc
        reason = exc.strerror or str(exc)
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            reason += " (the disk is full)"
        log.error(
            "saving recordings failed: %s: %s; saving stopped after %d utterance(s) "
            "(the run goes on; results are still shown and written to --jsonl)",
            path, reason, self.n_saved,
        )
        fd, self._index = self._index, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass
