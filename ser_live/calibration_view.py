"""What ``ser-live calibrate`` shows: the calibration state (prompts, takes accepted and
rejected, the level), its rich screen and its plain-text lines."""

from __future__ import annotations

from rich.panel import Panel
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .widgets import Bar, LevelBar, emotion_color, fmt_level
from .types import RecognizerStatus

__all__ = ["CalibrationState", "render_calibration", "format_calibration_event", "format_take", "format_takes_read"]


def format_take(number: int, total: int, *, label: str, duration_s: float, heard: tuple[str, float] | None = None,
                reason: str | None = None) -> str:
    """The line of one calibration take, guided or from a list.

    Parameters
    ----------
    number, total : int
        The take's number (from 1) and the takes asked for (guided) or listed (``--from``).
    label : str
        The emotion it was said in.
    duration_s : float
        Its length (s).
    heard : (str, float), optional
        What the model heard without a profile: top label and its probability.
    reason : str, optional
        Why it is left out (a ``--from`` take that fails the checks); None: accepted.

    Returns
    -------
    str
        ``"take 4/12 (happy, 2.6 s) accepted: heard as sad 0.61"`` or ``"take 4/12 (happy,
        0.3 s) left out: too short (...)"``.
    """
    head = f"take {number}/{total} ({label}, {duration_s:.1f} s)"
    if reason is not None:
        return f"{head} left out: {reason}"
    return f"{head} accepted" + (f": heard as {heard[0]} {heard[1]:.2f}" if heard is not None else "")


def format_takes_read(n_with: int, n_without: int, *, n_takes: int) -> str:
    """The closing line of a calibration: how many takes the profile reads as their labels
    (:func:`ser_live.calibrate.takes_read_as_labels`), said not to be a held-out score.

    Parameters
    ----------
    n_with, n_without : int
        Takes read as their labels with the profile, and by the model without it.
    n_takes : int
        Takes the profile was made from.

    Returns
    -------
    str
    """
    return (f"{n_with} of {n_takes} takes read as their labels with the profile, {n_without} without it "
            "(on the takes themselves, not a held-out score)")


class CalibrationState:
    """What ``ser-live calibrate`` shows: the prompt, progress and the last take's fate.

    Parameters
    ----------
    prompts : list of (str, str)
        ``(label, sentence)`` of every take to record, in order.
    model_name, source_name, profile_path : str
        Shown in the header.

    Attributes
    ----------
    done : int
        Takes accepted so far (the current prompt is ``prompts[done]``).
    rejected : int
        Takes rejected so far.
    last : str
        What happened to the last take ("" before the first).
    last_ok : bool
        Whether the last take was accepted.
    level_dbfs, vad_state
        From the recogniser's status (:meth:`set_status`).
    alert : str
        What is wrong with the input now, e.g. it delivers exact zeros (a muted microphone);
        "" while nothing is (:meth:`set_alert`).
    version : int
        Incremented at every change shown.
    """

    def __init__(self, prompts: list[tuple[str, str]], *, model_name: str, source_name: str, profile_path: str) -> None:
        self.prompts = list(prompts)
        self.model_name = model_name
        self.source_name = source_name
        self.profile_path = profile_path
        self.done = 0
        self.rejected = 0
        self.last = ""
        self.last_ok = True
        self.level_dbfs = -100.0
        self.vad_state = ""
        self.alert = ""
        self.version = 0

    @property
    def total(self) -> int:
        """Takes to record."""
        return len(self.prompts)

    @property
    def current(self) -> tuple[str, str] | None:
        """``(label, sentence)`` to say now; None when every take is in."""
        return self.prompts[self.done] if self.done < self.total else None

    def accept(self, duration_s: float, *, heard: tuple[str, float] | None = None) -> None:
        """The take for the current prompt is good (``duration_s``: its length, s; ``heard``:
        what the model heard in it without a profile, top label and probability)."""
        label = self.prompts[self.done][0]
        self.done += 1
        self.last, self.last_ok = format_take(self.done, self.total, label=label, duration_s=duration_s, heard=heard), True
        self.version += 1

    def reject(self, reason: str) -> None:
        """The take for the current prompt is rejected, for ``reason``; it is asked again."""
        self.rejected += 1
        self.last, self.last_ok = f"take rejected: {reason}; please say it again", False
        self.version += 1

    def set_status(self, status: RecognizerStatus) -> None:
        """Level and VAD state from :meth:`~ser_live.pipeline.Recognizer.status`."""
        key = (round(status.level_dbfs), status.vad_state)
        if key != (round(self.level_dbfs), self.vad_state):
            self.level_dbfs, self.vad_state = float(status.level_dbfs), str(status.vad_state)
            self.version += 1


    def set_alert(self, alert: str) -> None:
        """Show ``alert`` below the level ("" clears it)."""
        if alert != self.alert:
            self.alert = alert
            self.version += 1


#: Width (cells) of the progress and level bars where the terminal has room for them.
_BAR_CELLS = 30


def render_calibration(state: CalibrationState) -> Panel:
    """The calibration screen: what to say and how, progress, the last take, the level.

    Parameters
    ----------
    state : CalibrationState
        The prompt, progress, last take and level to show.

    Returns
    -------
    rich.panel.Panel
    """
    body = Table.grid(padding=(0, 1))
    body.add_column(no_wrap=False)
    cur = state.current
    if cur is None:
        body.add_row(Text("All takes recorded: building the profile…", style="bold green"))
    else:
        label, sentence = cur
        t = Text()
        article = "an" if label[:1].lower() in "aeiou" else "a"
        t.append(f"Take {state.done + 1} of {state.total}: say, in {article} ", style="grey62")
        t.append(label.upper(), style=Style(color=emotion_color(label), bold=True))
        t.append(" voice:", style="grey62")
        body.add_row(t)
        body.add_row(Text(f"  \u201c{sentence}\u201d", style="bold"))
        body.add_row(Text("  then pause; the take ends by itself at the pause (no key to press)", style="grey50"))
    body.add_row(Text(""))
    # The bars are 30 cells where there is room and give way first where there is not (a
    # column that may wrap is the one rich's table narrows): the texts beside them stay whole.
    prog = Table.grid(padding=(0, 1))
    prog.add_column(no_wrap=True)
    prog.add_column(max_width=_BAR_CELLS)
    prog.add_column(no_wrap=True)
    prog.add_row(Text("progress", style="grey62"), Bar(state.done / max(state.total, 1), "green3"),
                 Text(f"{state.done}/{state.total}  ({state.rejected} rejected)", style="grey62"))
    body.add_row(prog)
    if state.last:
        body.add_row(Text(state.last, style="green" if state.last_ok else "bold yellow"))
    level = Table.grid(padding=(0, 1))
    level.add_column(no_wrap=True)
    level.add_column(max_width=_BAR_CELLS)
    level.add_column(no_wrap=True)
    level.add_row(Text("level   ", style="grey62"), LevelBar(state.level_dbfs),
                  Text(f"{fmt_level(state.level_dbfs)}  VAD {state.vad_state or '-'}", style="grey50"))
    body.add_row(level)
    if state.alert:
        body.add_row(Text(state.alert, style="bold yellow"))
    title = Text()
    title.append("ser-live calibrate", style="bold")
    title.append(f"  model {state.model_name}  source {state.source_name}  profile {state.profile_path}", style="grey50")
    return Panel(body, title=title, title_align="left", subtitle="Ctrl-C: stop without writing a profile",
                 subtitle_align="left", border_style="grey42")


def format_calibration_event(state: CalibrationState) -> str:
    """The plain-text line after a change: the last take's fate and the next prompt.

    Returns
    -------
    str
        E.g. ``"take 1/4 (neutral, 1.9 s) accepted: heard as sad 0.52 | prompt 2/4 [happy]: The
        chair is by the window."``; lines start with ``prompt``/``take`` so a script can follow them.
    """
    parts = [state.last] if state.last else []
    cur = state.current
    if cur is not None:
        parts.append(f"prompt {state.done + 1}/{state.total} [{cur[0]}]: {cur[1]}")
    else:
        parts.append("all takes recorded")
    return " | ".join(parts)
