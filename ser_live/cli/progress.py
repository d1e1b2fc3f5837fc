"""Progress of a ``ser-live predict`` run on stderr: a rich bar on a terminal once the run has
lasted a moment, nothing on a pipe, and a closing summary line (files, failed, files/s) always."""

from __future__ import annotations

import os
import time
from typing import Any

from .options import _err

#: Seconds a run lasts before its progress bar appears (``$SER_LIVE_PROGRESS_AFTER_S``).
PROGRESS_AFTER_S: float = 2.0

#: Shortest time (s) between two redraws that :meth:`FileProgress.heard` forces (the first
#: of each file is drawn at once).
HEARD_REDRAW_S: float = 0.25


def _after_s() -> float:
    try:
        return max(0.0, float(os.environ.get("SER_LIVE_PROGRESS_AFTER_S", PROGRESS_AFTER_S)))
    except ValueError:
        return PROGRESS_AFTER_S


class FileProgress:
    """Progress over ``total`` files: a rich progress bar on stderr (files done, files/s,
    elapsed) when stderr is a terminal and the run has lasted ``after_s``; never on a pipe
    or a file. :meth:`close` prints the summary line on stderr in every case.

    Parameters
    ----------
    total : int
        Files to go through.
    description : str, default "classifying"
    after_s : float, optional
        Seconds before the bar appears (default :data:`PROGRESS_AFTER_S`, or
        ``$SER_LIVE_PROGRESS_AFTER_S``): a quick run shows no bar at all.
    """

    def __init__(self, total: int, *, description: str = "classifying", after_s: float | None = None) -> None:
        self.total = int(total)
        self.description = description
        self.after_s = _after_s() if after_s is None else float(after_s)
        self.n_files = 0
        self.n_failed = 0
        self.t0 = time.perf_counter()
        self._bar: Any = None
        self._task: Any = None
        self._tty: bool | None = None
        self._heard_path: str | None = None  # the file heard() last drew, and when
        self._heard_drawn = -float("inf")

    def _start_bar(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        from ..batch import _RateColumn

        console = Console(stderr=True)
        self._tty = console.is_terminal
        if not self._tty:
            return
        self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                             _RateColumn(), TimeElapsedColumn(), console=console, transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.description, total=self.total, completed=self.n_files)

    def advance(self, *, failed: bool = False) -> None:
        """One more file done (``failed``: it is an error record)."""
        self.n_files += 1
        self.n_failed += int(failed)
        if self._bar is not None:
            self._bar.update(self._task, completed=self.n_files, description=self.description)
        elif self._tty is None and time.perf_counter() - self.t0 >= self.after_s:
            self._start_bar()

    def heard(self, path: str, seconds: float) -> None:
        """How far into the file under way the run is: the bar's description names the file
        and the time (``classifying call.wav at 12:34``), so one hour-long file shows
        progress too (the file count moves only when a file is done).

        Parameters
        ----------
        path : str
            The file being classified.
        seconds : float
            Audio time reached in it (seconds; e.g. the end of its last utterance).
        """
        if self._bar is None and self._tty is None and time.perf_counter() - self.t0 >= self.after_s:
            self._start_bar()
        if self._bar is not None:
            m, s = divmod(int(seconds), 60)
            self._bar.update(self._task, description=f"{self.description} {os.path.basename(path)} at {m}:{s:02d}")
            now = time.perf_counter()
            if path != self._heard_path or now - self._heard_drawn >= HEARD_REDRAW_S:  # drawn now, not at the
                self._bar.refresh()  # bar's next tick, by which a short file may be done
                self._heard_path, self._heard_drawn = path, now

    @property
    def seconds(self) -> float:
        """Wall time since the start."""
        return time.perf_counter() - self.t0

    def summary(self) -> str:
        """``12 files (1 failed) in 3.1 s, 3.9 files/s``."""
        s = self.seconds
        rate = self.n_files / s if s > 0 else 0.0
        return f"{self.n_files} files ({self.n_failed} failed) in {s:.1f} s, {rate:.1f} files/s"

    def close(self, *, where: str | None = None) -> None:
        """Remove the bar (it is transient) and print the summary line on stderr."""
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.stop()
        _err(f"done: {self.summary()}" + (f" -> {where}" if where else ""))

    def __enter__(self) -> "FileProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            bar, self._bar = self._bar, None
            bar.stop()
