"""Where ``ser-live listen`` results go: dashboard, plain lines, JSON lines (file or stdout)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import stat
import sys
from pathlib import Path
from typing import Any, TextIO

from ..jsonl import json_line
from ..records import speakers_moved_record, utterance_record
from ..fsutil import point_at_devnull
from .options import _err, _err_raw, _profile_text, _silence_stream, _uncertainty_rule
from .signals import _at_most, _signals_deferred
from .stream_events import StreamEvents

#: Longest wait (s) of the listening loop for a result before it looks at the stream's status
#: and end again (a result ends the wait at once). Also how late a Ctrl-C, the end of the
#: stream or a no-audio alert may be noticed.
POLL_S = 0.25
#: Longest time (s) a stop signal waits for a result line being written: a write still blocked
#: then (a pipe whose reader stopped reading) is given up, so Ctrl-C still ends the run promptly.
STALLED_WRITE_S = 0.5


class _Outputs:
    """Where results go: dashboard, plain lines, JSON lines (file or stdout).

    A result stream that cannot be written (``--jsonl /dev/full``, stdout closed by
    ``| head``) is reported once on stderr and dropped; the others, the recordings and the
    run go on. :attr:`write_error` keeps the first such error.
    """

    def __init__(
        self, args: argparse.Namespace, *, labels: list[str], model_name: str, source_name: str,
        session_norm: bool | None = None, profile: Any = None, noise_branch: bool = False,
    ) -> None:
        self.profile = profile
        self._in_stream_write = False  # a result being written to a pipe or terminal (signals_held)
        self.uncertainty = _uncertainty_rule(args, len(labels))
        # --partial: every JSONL line gets "final"; "uncertain" is on every line in any case
        self.json_flags = self.uncertainty if getattr(args, "partial", False) else None
        #: final utterances shown as "uncertain", per predicted label (the exit summary's count)
        self.uncertain: dict[str, int] = {}
        from ..revision import RevisedTally

        #: the results as session revision leaves them (the exit summary's revised lines)
        self.revised = RevisedTally(self.uncertainty)
        self.jsonl_stdout = args.jsonl == "-"
        self.jsonl_file: TextIO | None = None
        #: (st_dev, st_ino) of ``--jsonl PATH`` when this run created it, else None: only such
        #: a file, left empty, is removed when the run fails at start (:meth:`discard_new_results`)
        self._jsonl_created: tuple[int, int] | None = None
        #: the folders of ``--jsonl PATH`` this run made, deepest first: removed with the file
        #: when the run fails at start and they are still empty (:meth:`discard_new_results`)
        self._jsonl_dirs: list[Path] = []
        if args.jsonl and not self.jsonl_stdout:
            parent = Path(args.jsonl).parent
            missing = [d for d in (parent, *parent.parents) if not d.exists()]
            parent.mkdir(parents=True, exist_ok=True)
            self._jsonl_dirs = missing  # each one made by the mkdir just above
            mode = "a" if getattr(args, "append", False) else "w"  # listen refused "w" on earlier records unasked
            self.jsonl_file, created = _open_results(args.jsonl, mode)
            if created:
                st = os.fstat(self.jsonl_file.fileno())
                self._jsonl_created = (st.st_dev, st.st_ino)
        self.jsonl_path = args.jsonl
        self.write_error: OSError | None = None
        #: --save-utterances: a result stream that fails leaves the recordings going (said so)
        self.saving = getattr(args, "save_utterances", None) is not None
        #: --revisions: a {"kind": "revision"} line after an utterance's line that revised others
        self.revisions = bool(getattr(args, "revisions", False))
        self.plain_stream: TextIO | None = None
        #: a stop signal ended the run: the dashboard's last redraws may wait for the terminal
        #: only so long (:meth:`_draw`)
        self.stopping = False
        self.dashboard = None
        self.state = None
        self._live = False
        self.alert: str | None = None
        #: the stream events of the run (audio dropped, input silent or back), for :meth:`watch`
        self.events = StreamEvents()
        from ..widgets import stdout_redraws

        if self.jsonl_stdout:
            self.plain_stream = sys.stderr if args.plain else None
        elif args.plain or not stdout_redraws():  # a pipe, a file, TERM=dumb
            self.plain_stream = sys.stdout
        else:
            from ..dashboard import DashboardState, LiveDashboard

            self.state = DashboardState(labels=labels, model_name=model_name, source_name=source_name,
                                        session_norm=session_norm, uncertainty=self.uncertainty,
                                        profile=_profile_text(profile) if profile is not None else None,
                                        noise_branch=noise_branch)
            self.dashboard = LiveDashboard(self.state)
        if self.jsonl_file is not None and getattr(args, "append", False):
            self._end_torn_line(self.jsonl_file)

    def _end_torn_line(self, stream: TextIO) -> None:
        """``--jsonl PATH --append``: end a last line of ``stream``'s file that has no newline
        (an earlier run killed mid-write, a file another program wrote) with one, said once,
        so this run's first record starts a line of its own instead of being glued to that
        fragment (and lost to a reader that skips what is not JSON). The fragment is left as
        it is. A newline that cannot be written gives the stream up (:meth:`_fail`)."""
        try:
            fd = stream.fileno()
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                return
            rd = os.open(self.jsonl_path, os.O_RDONLY)  # the append descriptor cannot read
            try:
                torn = os.pread(rd, 1, info.st_size - 1) != b"\n"
            finally:
                os.close(rd)
        except (OSError, ValueError):
            return  # not readable (write-only, a special file): nothing known to end
        if not torn:
            return
        if self._write(stream, "\n", str(self.jsonl_path)):
            _err(f"warning: {self.jsonl_path} ended in a partial line (a run stopped mid-write?); it is left as "
                 "it is (not JSON: readers skip it) and this run's records start on a new line")

    def __enter__(self) -> "_Outputs":
        if self.dashboard is not None:
            self.dashboard.__enter__()
            self._live = True
        return self

    def _write(self, stream: TextIO, text: str, what: str) -> bool:
        """Write and flush; on failure report once, note the error, return False. A regular
        file (``--jsonl PATH``, or stdout redirected to one) whose disk fills is cut back to
        its last whole line (:func:`_cut_back`), and ``--jsonl PATH`` closed."""
        whole = _file_offset(stream)
        try:
            if whole is None:  # a pipe or terminal: the write blocks while its reader takes nothing
                self._in_stream_write = True
                try:  # once the run is stopping, nobody may be left to send another signal: a limit
                    with _at_most(STALLED_WRITE_S) if self.stopping else contextlib.nullcontext():
                        stream.write(text)
                        stream.flush()
                finally:
                    self._in_stream_write = False
            else:  # straight to the file: a buffered flush may return with part of a line kept back
                data = memoryview(text.encode(stream.encoding or "utf-8", getattr(stream, "errors", None) or "strict"))
                while data:
                    data = data[os.write(stream.fileno(), data):]
            return True
        except KeyboardInterrupt:
            # A stop signal held for STALLED_WRITE_S (signals_held) ended this write: its
            # reader takes nothing (a full pipe). The stream is given up and pointed at
            # /dev/null, so neither the rest of the run nor the flush at exit waits for that
            # reader again.
            _to_devnull_with_its_twin(stream)  # stderr too when it is that terminal: the message below
            if stream is sys.stdout:
                self.jsonl_stdout = False
            if stream is self.plain_stream:
                self.plain_stream = None
            self._fail(stream, None, what, TimeoutError(
                errno.ETIMEDOUT, f"its reader took nothing for {STALLED_WRITE_S:g} s after the stop signal"),
                stopping=True)
            if self.stopping:  # already ending: the other outputs still take what is left
                return False
            raise
        except OSError as exc:
            self._fail(stream, whole, what, exc)
            return False

    def signals_held(self) -> Any:
        """Ctrl-C and the stop signals held while a block of the listening loop takes results
        and writes them (:func:`ser_live.signals.signals_deferred`), so one never lands between
        the two; after :data:`STALLED_WRITE_S` a held signal cuts a result write to a pipe or
        terminal whose reader stopped reading (the one step that can block for ever), never
        anything else."""
        return _signals_deferred(at_most_s=STALLED_WRITE_S, interruptible=lambda: self._in_stream_write)

    def _fail(self, stream: TextIO, whole: int | None, what: str, exc: OSError, *, stopping: bool = False) -> None:
        """Give up the result stream ``stream`` after ``exc``: cut a regular file back to
        ``whole`` bytes (:func:`_cut_back`), stop writing to it, keep the first error in
        :attr:`write_error` and say so once on stderr (``stopping``: the run is ending)."""
        others = self._taken_elsewhere(failed=stream)  # before sys.stdout is replaced below
        if stream is sys.stdout:  # silence the flush at exit
            _cut_back(stream, whole)
            _silence_stream("stdout")
        elif stream is self.jsonl_file:
            self.jsonl_file = None
            _cut_back(stream, whole)
        if self.write_error is None:
            self.write_error = exc
        if stopping:
            tail = "the results after that point were not written there"
        elif others:
            tail = "no more results go there, the run goes on" + (" (recordings are still saved)" if self.saving else "")
        else:
            tail = "no more results go there, and nothing else takes them: the run ends"
        _err(f"error: cannot write the results to {what} ({exc.strerror or exc}); {tail}")

    def emit(self, result: Any) -> None:
        if result.final and self.uncertainty.applies(result.prediction):
            self.uncertain[result.label] = self.uncertain.get(result.label, 0) + 1
        self.revised.add(result)
        if self.jsonl_stdout or self.jsonl_file is not None:
            record = utterance_record(result, flags=self.json_flags, uncertainty=self.uncertainty,
                                      profile=self.profile.name if self.profile is not None else None)
            line = json_line(record)
            # the moves first: the revision after them re-scores the moved utterances in their new sessions
            if self.revisions and result.final and getattr(result, "speakers_moved", None):
                line += json_line(speakers_moved_record(result))
            revision = getattr(result, "revision", None)
            if self.revisions and result.final and revision is not None:
                line += json_line(revision.to_json())
            self._send_json(line)
        if self.plain_stream is not None:
            from ..plaintext import format_plain

            self._send_plain(format_plain(result, uncertainty=self.uncertainty))
        if self.state is not None:
            if result.final:
                self.state.add_result(result)
            else:
                self.state.add_partial(result)

    def _send_json(self, text: str) -> None:
        """JSON lines (``\\n``-terminated) to ``--jsonl``'s stream, if it is still written."""
        if self.jsonl_stdout:
            self.jsonl_stdout = self._write(sys.stdout, text, "stdout")
        elif self.jsonl_file is not None:
            self._write(self.jsonl_file, text, str(self.jsonl_path))

    def _send_plain(self, line: str) -> None:
        """A ``--plain`` line (no newline) to its stream, if it is still written."""
        if self.plain_stream is not None:
            what = "stdout" if self.plain_stream is sys.stdout else "stderr"
            if not self._write(self.plain_stream, line + "\n", what):
                self.plain_stream = None

    def watch(self, status: Any, *, source: Any = None, final: bool = False) -> None:
        """Write the stream events due now (:class:`~ser_live.cli.stream_events.StreamEvents`:
        audio dropped, input silent or back) to ``--jsonl`` and ``--plain``; the dashboard
        shows the same in its status panel.

        Parameters
        ----------
        status : RecognizerStatus
        source : object, optional
            The audio source (a microphone tells when no samples come).
        final : bool, default False
            The run is over: every loss not yet reported is.
        """
        from ..plaintext import format_event

        for record in self.events.poll(status, source=source, final=final):
            self._send_json(json_line(record))
            self._send_plain(format_event(record))

    def _taken_elsewhere(self, *, failed: TextIO | None = None) -> bool:
        """Whether anything but the stream ``failed`` still takes the run's results: the
        recordings, the dashboard, ``--jsonl``'s stream or the ``--plain`` stream."""
        return (self.saving or self.dashboard is not None or (self.jsonl_stdout and failed is not sys.stdout)
                or any(s is not None and s is not failed for s in (self.plain_stream, self.jsonl_file)))

    @property
    def nobody_reads(self) -> bool:
        """Every result output failed (the reader of stdout went away: ``| head``) and no
        recording is saved: nothing the run does from now on reaches anyone."""
        return self.write_error is not None and not self._taken_elsewhere()

    def poll_s(self) -> float:
        """How long the listening loop may wait for the next result (seconds).

        Without a dashboard nothing shows the status between results: :data:`POLL_S`. With
        one, until its next status redraw is due (:meth:`LiveDashboard.status_due_in_s`), so
        the level meter keeps its rate while the loop wakes 4 times a second instead of 20;
        :data:`POLL_S` when that time has passed without a change to draw.
        """
        if self.dashboard is None or not self._live:
            return POLL_S
        due = self.dashboard.status_due_in_s()
        return due if 0.005 < due < POLL_S else POLL_S

    def status(self, status: Any, *, alert: str | None = None) -> None:
        """Show the recogniser's ``status`` (and ``alert``) on the dashboard, if any. A terminal
        that went away (closed: writes fail with EIO) ends the dashboard: said once, as a
        result stream that cannot be written (:attr:`write_error`), the run goes on while
        anything else takes the results."""
        if self.state is not None and self._live:
            self.state.set_status(status, alert=alert or "")
            try:
                self._draw(self.dashboard.refresh)
            except OSError as exc:
                self.dashboard, self.state, self._live = None, None, False
                self._fail(sys.stdout, None, "the terminal", exc)

    def _draw(self, draw: Any) -> None:
        """Run ``draw`` (a dashboard redraw) with the stop signals held as for a result write
        (:meth:`signals_held`): a redraw blocked because the terminal takes no output (Ctrl-S,
        a frozen terminal or ssh link) is cut by a stop signal after :data:`STALLED_WRITE_S`;
        once the run is stopping (:attr:`stopping`), a redraw is cut after that long in any
        case. Either way the terminal is given up (:meth:`_give_up_terminal`) before the
        KeyboardInterrupt goes on; without this, Ctrl-C left the run blocked in a redraw for
        ever."""
        with _at_most(STALLED_WRITE_S) if self.stopping else self.signals_held():
            self._in_stream_write = True
            try:
                draw()
            except KeyboardInterrupt:
                self._give_up_terminal()
                raise
            finally:
                self._in_stream_write = False

    def _give_up_terminal(self) -> None:
        """The terminal takes no output and a stop signal came: point stdout (and stderr, when
        it is the same terminal) at /dev/null, so nothing written later (the dashboard's last
        frame, the summary) blocks, take the dashboard down and say so once (exit 1)."""
        dashboard, self.dashboard, self.state, self._live = self.dashboard, None, None, False
        _terminal_to_devnull(lambda: dashboard.__exit__(None, None, None))
        self._fail(sys.stdout, None, "the terminal", TimeoutError(
            errno.ETIMEDOUT, f"it took nothing for {STALLED_WRITE_S:g} s after the stop signal"), stopping=True)

    def close(self, *, results: bool = True) -> None:
        """Take the dashboard down; with ``results``, also close ``--jsonl PATH``
        (:meth:`close_results`). Idempotent. A terminal gone meanwhile (closed, which also
        sends the SIGHUP that ends the run) only loses the dashboard's last frame: stdout
        is pointed at /dev/null and the run ends as it would (summary, exit status)."""
        if self.dashboard is not None and self._live:
            dashboard = self.dashboard
            try:
                self._draw(lambda: (dashboard.refresh(force=True), dashboard.__exit__(None, None, None)))
            except OSError:
                _silence_stream("stdout")
            except KeyboardInterrupt:  # the terminal took no output (given up): the run ends as it would
                pass
        self.dashboard = None
        self._live = False
        if results:
            self.close_results()

    def write_record(self, record: dict) -> None:
        """One more ``--jsonl`` record (the ``--jsonl-summary`` record), if ``--jsonl`` is
        still written."""
        self._send_json(json_line(record))

    def close_results(self) -> None:
        """Close ``--jsonl PATH``; a failure (its last bytes not written) is said and kept in
        :attr:`write_error`. Idempotent."""
        if self.jsonl_file is not None:
            f, self.jsonl_file = self.jsonl_file, None
            try:
                f.close()
            except OSError as exc:  # the last buffered bytes could not be written
                self.write_error = self.write_error or exc
                _err(f"error: cannot write the results to {self.jsonl_path} ({exc.strerror or exc})")

    def discard_new_results(self) -> None:
        """The run failed at start (the recordings folder, the device): close ``--jsonl PATH``
        (:meth:`close_results`) and remove it when this run created it and it is still empty
        and still the file at that path. A file that existed before the run (even an empty
        one) is never removed. A file that cannot be removed is left as it is. The folders this
        run made for it go too, deepest first, each only while empty."""
        self.close_results()
        created, self._jsonl_created = self._jsonl_created, None
        dirs, self._jsonl_dirs = self._jsonl_dirs, []
        if created is None:
            return
        with contextlib.suppress(OSError):
            st = os.stat(self.jsonl_path, follow_symlinks=False)
            if (st.st_dev, st.st_ino) == created and stat.S_ISREG(st.st_mode) and st.st_size == 0:
                os.unlink(self.jsonl_path)
        for d in dirs:  # os.rmdir refuses a folder that holds anything (another run's file)
            try:
                os.rmdir(d)
            except OSError:
                break


def _open_results(path: str, mode: str) -> tuple[TextIO, bool]:
    """Open ``--jsonl PATH`` for text in ``mode`` (``"w"`` or ``"a"``); also whether this call
    created the file: it is first opened exclusively (``O_EXCL``), so a file that existed, or
    that another process made meanwhile, is never taken for this run's."""
    try:
        return open(path, mode, encoding="utf-8", opener=_exclusive), True  # noqa: SIM115 - closed in close()
    except FileExistsError:
        return open(path, mode, encoding="utf-8"), False  # noqa: SIM115 - closed in close()


def _exclusive(path: str, flags: int) -> int:
    """The ``opener`` of :func:`open` that fails (``FileExistsError``) when ``path`` exists."""
    return os.open(path, flags | os.O_CREAT | os.O_EXCL, 0o666)


def _terminal_to_devnull(take_down: Any) -> None:
    """Give up a terminal that takes no output: point stdout at /dev/null, and stderr too when
    it is the same terminal (:func:`_to_devnull_with_its_twin`), then call ``take_down()`` (a
    live view's stop, which restores rich's redirected stderr; what it writes goes nowhere,
    errors ignored), so that nothing written later (a last frame, the summary) blocks."""
    _to_devnull_with_its_twin(sys.stdout)
    with contextlib.suppress(Exception):
        take_down()


def _twin(stream: TextIO) -> TextIO | None:
    """sys.stderr when ``stream`` is stdout, sys.stdout when it is stderr, if that one writes to
    the same file (one terminal for both), else None."""
    other = sys.stderr if stream is sys.stdout else sys.stdout if stream is sys.stderr else None
    with contextlib.suppress(OSError, ValueError, AttributeError):
        if other is not None and os.path.samestat(os.fstat(stream.fileno()), os.fstat(other.fileno())):
            return other
    return None


def _to_devnull_with_its_twin(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null, and stdout's or stderr's with it when that
    writes to the same file (:func:`_twin`): a terminal that takes nothing blocks both alike,
    and the message saying it was given up goes to stderr."""
    twin = _twin(stream)
    for s in (stream, twin):
        if s is not None:
            with contextlib.suppress(OSError, ValueError, AttributeError):
                point_at_devnull(s.fileno())


def stop_live_view(live: Any) -> bool:
    """Stop the rich :class:`~rich.live.Live` view ``live`` (it draws its last frame) after a
    stop signal, waiting for the terminal at most :data:`STALLED_WRITE_S`: a terminal that
    takes nothing then (Ctrl-S, frozen) is given up (:func:`_terminal_to_devnull`) instead of
    blocking the stop for ever. Returns whether it was given up."""
    try:
        with _at_most(STALLED_WRITE_S):
            live.stop()
        return False
    except KeyboardInterrupt:  # the time was up, or another stop signal came
        _terminal_to_devnull(live.stop)
        return True


def say_after_stop(msg: str, *, raw: bool = False) -> None:
    """Say ``msg`` on stderr (``ser-live: msg``; ``raw``: as it is) once a stop signal ended
    the run, waiting for it at most :data:`STALLED_WRITE_S`: a stderr that takes nothing then
    (a terminal paused by Ctrl-S or frozen) is given up, with stdout when it is the same
    terminal, instead of holding the exit for ever."""
    try:
        with _at_most(STALLED_WRITE_S):
            (_err_raw if raw else _err)(msg)
    except KeyboardInterrupt:  # the time was up, or another stop signal came
        _to_devnull_with_its_twin(sys.stderr)


def _appending(fd: int) -> bool:
    """Whether descriptor ``fd`` was opened for appending (``O_APPEND``); False where that
    cannot be asked (Windows has no ``fcntl``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return False
    return bool(fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_APPEND)


def _file_offset(stream: TextIO) -> int | None:
    """Where the next byte written to ``stream`` lands (bytes), when it is a regular file
    (its buffer flushed first); None for a terminal, a pipe or a device.

    A descriptor opened for appending (the shell's ``>>``) writes at the end of the file
    whatever its offset says, and its offset reads 0 until the process has written to it:
    the file's size is where the next byte lands, so a cut never reaches what was there
    before the run."""
    try:
        stream.flush()
        fd = stream.fileno()
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if _appending(fd):
            return info.st_size
        return os.lseek(fd, 0, os.SEEK_CUR)
    except (OSError, ValueError):
        return None


def _cut_back(stream: TextIO, whole: int | None) -> None:
    """After a failed write: cut the regular file under ``stream`` back to ``whole`` bytes,
    its last whole line (a full disk takes what fits of a line), and point its descriptor at
    /dev/null, so nothing left in Python's buffer lands after the cut (flushed at close or
    exit); the stream is closed unless it is stdout. No cut for ``whole`` None."""
    with contextlib.suppress(OSError, ValueError):
        if whole is None:
            raise ValueError("not a regular file: nothing to cut")
        fd = stream.fileno()
        os.ftruncate(fd, whole)
        point_at_devnull(fd)
    if stream is not sys.stdout:
        with contextlib.suppress(OSError, ValueError):
            stream.close()


#: Signals that end a listening run like Ctrl-C: summary printed, utterance in progress kept.
