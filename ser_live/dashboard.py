"""The recogniser's rich live dashboard (plain lines, JSON lines and the exit summary are in
:mod:`ser_live.plaintext`; the calibration screen in :mod:`ser_live.calibration_view`).

Rendering only: nothing here starts a thread, touches audio or blocks. The main thread owns a
:class:`DashboardState`, feeds it each :class:`~ser_live.types.Result` (:meth:`~DashboardState.add_result`)
and the stream's status (:meth:`~DashboardState.set_status`), and calls
:meth:`LiveDashboard.refresh`; rich draws on the same thread, so the state needs no lock.

The dashboard adapts to the terminal: at 80 columns or more the emotion bars and the status
sit on the left and the timeline on the right; below, the panels are stacked. In a live view
the timeline is shortened to fit the terminal's height. Probability bars list the labels in
the model's order (rows never jump), the most probable one in bold. The rolling estimate's
arousal and valence (:mod:`ser_live.affect`) sit in the emotion panel's bottom edge, as signed
bars when there is room; a timeline at least 54 columns wide gives each utterance's too.

Emotion colours are fixed per canonical label (:data:`EMOTION_COLORS`, with the spellings of
TESS and EmoDB mapped onto them); any other label gets a stable colour from a small palette
(:func:`emotion_color`).
"""

from __future__ import annotations

import math
import sys
import time
from collections import Counter, deque
from dataclasses import fields as _dataclass_fields, replace
from types import TracebackType
from typing import Any, Callable, Iterable

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.panel import Panel
from rich.segment import Segment, SegmentLines
from rich.style import Style
from rich.table import Table
from rich.text import Text

from .widgets import (  # noqa: F401  (re-exported: the dashboard's public names)
    BAR_EMPTY, BAR_FULL, EMOTION_COLORS, LEVEL_RANGE_DBFS, Bar, LevelBar, LineTable, emotion_color, fmt_level,
    terminal_console,
)
from .affect import affect_of
from .plaintext import UNCERTAIN_CONFIDENCE
from .types import RecognizerStatus, Result, UncertaintyRule, latency_stats

__all__ = [
    "EMOTION_COLORS",
    "LEVEL_RANGE_DBFS",
    "CLIPPED_WARN_FRACTION",
    "QUIET_SPEECH_DBFS",
    "BAR_FULL",
    "BAR_EMPTY",
    "emotion_color",
    "DashboardState",
    "DashboardView",
    "render_dashboard",
    "LiveDashboard",
]

#: Names of the :class:`~ser_live.types.RecognizerStatus` fields (readable as state attributes).
_STATUS_FIELDS: frozenset[str] = frozenset(f.name for f in _dataclass_fields(RecognizerStatus))

#: Fraction of full-scale samples in the last second above which the input is "clipped"
#: (0.1 %: a few peaks per second already distort the spectrum the features are taken from).
CLIPPED_WARN_FRACTION: float = 0.001
#: Loud-frame speech level (dBFS) below which the input is "too quiet": the training corpora
#: lie between -50 dBFS (RAVDESS) and -10 dBFS (EmoDB) (``python -m benchmarks.vad_noise``
#: session files, measured with ``train.sessions``' loud-frame level).
QUIET_SPEECH_DBFS: float = -50.0
#: Speech level over the noise floor (dB) below which the panel says the room is noisy. The
#: segmenter's loud-frame level over its 10th-percentile floor reads about 5 dB above the mixed
#: SNR (15.4 dB for the 10 dB SNR pink-noise session of ``tests/test_vad_noise.py``), so 20 here
#: is about 15 dB SNR, between the room conditions where a clean-speech model without a noise
#: branch keeps 0.75 (20 dB) and 0.56 (10 dB) of its clean UA (docs/room.md, ``python -m
#: train evaluate --protocol loco --condition room --recipe
#: train/recipes/experiments/lin-nospec-voice.toml``).
NOISY_ROOM_SNR_DB: float = 20.0
#: The model the noisy-room warning points to (``--model noisy``); no warning while it is in use.
NOISY_MODEL_NAME: str = "ser-noisy"

_PLACEHOLDER = "listening…"
#: Stream seconds of silence after a provisional estimate without its final result after
#: which the provisional line is taken down (the utterance was dropped).
_PARTIAL_STALE_S = 3.0
_WIDE_MIN_COLUMNS = 80  # two-column layout from this width on (an 80-column terminal keeps the timeline)
_TIMELINE_AFFECT_MIN_COLUMNS = 54  # timeline width from which it has arousal and valence columns (120-column terminal)
#: Input panel width (cells, borders included) from which the dropped rows keep the noise floor
#: beside them, in the column of the level and the clock; narrower, that column leaves them a
#: few cells, so they take the panel's whole width (the floor a line of its own below) and wrap
#: at word boundaries instead of folding every word.
_DROPPED_BESIDE_MIN_COLUMNS = 40


# --------------------------------------------------------------------------------- state
class DashboardState:
    """What the dashboard shows; plain data, updated by the main thread only.

    Parameters
    ----------
    labels : list of str
        The model's labels, in its order (the order of the bars).
    model_name : str
        Shown in the header.
    source_name : str
        The audio source (device name or file), shown in the header.
    history : int, default 12
        Utterances kept for the timeline.
    latency_window : int, default 1000
        Latency samples kept for the percentiles (the most recent ones).
    session_norm : bool or None, optional
        Session normalisation of the run, shown in the header: True "session norm: N utt."
        (the utterances the latest result's session statistics rest on), False "session
        norm: off", None (a model without a normaliser) nothing.
    uncertainty : UncertaintyRule, optional
        When a result is shown as "uncertain" instead of its label; None shows every label.
    profile : str, optional
        The personal profile in use, shown in the header (e.g. ``"anna (12 utt.)"``: its
        name and the calibration utterances it rests on); None for none.
    noise_branch : bool, default False
        The model has a noise branch (:mod:`ser_live.route`): the "noisy room" warning says
        so instead of pointing to ``--model noisy``, and a result the branch classified is
        marked "noise branch".

    Attributes
    ----------
    results : collections.deque of Result
        The last ``history`` results, oldest first.
    current : Result or None
        The latest result.
    partial : Result or None
        The latest provisional estimate (``final=False``) of the utterance in progress; None
        once its final result has come.
    rolling : dict[str, float]
        The rolling estimate of the latest result (label -> probability).
    n_results : int
        Results received in total.
    label_counts : collections.Counter
        Results per predicted label, uncertain ones left out.
    n_uncertain : int
        Results shown as "uncertain" (the :class:`~ser_live.types.UncertaintyRule` applied).
    processing_ms, end_of_speech_ms : collections.deque of float
        Latency samples (milliseconds), oldest first.
    status : RecognizerStatus
        The last status given to :meth:`set_status`; its fields also read as attributes
        (``state.level_dbfs``, ``state.vad_state``, ...).
    alert : str
        A problem with the input shown in the status panel ("" for none).
    version : int
        Incremented at every change of what is shown.
    status_version : int
        Incremented when :meth:`status_key` changes (what the status panel shows).
    results_version : int
        Incremented at every result (what the emotion and timeline panels show).

    Raises
    ------
    ValueError
        ``history`` or ``latency_window`` < 1.
    """

    def __init__(
        self,
        *,
        labels: list[str],
        model_name: str,
        source_name: str,
        history: int = 12,
        latency_window: int = 1000,
        session_norm: bool | None = None,
        uncertainty: UncertaintyRule | None = None,
        profile: str | None = None,
        noise_branch: bool = False,
    ) -> None:
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        if latency_window < 1:
            raise ValueError(f"latency_window must be >= 1, got {latency_window}")
        self.labels = list(labels)
        self.model_name = model_name
        self.source_name = source_name
        self.session_norm = session_norm
        self.profile = profile
        self.noise_branch = bool(noise_branch)
        self.history = int(history)
        self.results: deque[Result] = deque(maxlen=self.history)
        self.current: Result | None = None
        self.partial: Result | None = None
        self.uncertainty = uncertainty
        self.rolling: dict[str, float] = {}
        #: Each speaker's own rolling estimate (speaker turns), by speaker label.
        self.speaker_rolling: dict[str, dict[str, float]] = {}
        self.n_results = 0
        self.label_counts: Counter[str] = Counter()
        self.n_uncertain = 0
        self.processing_ms: deque[float] = deque(maxlen=int(latency_window))
        self.end_of_speech_ms: deque[float] = deque(maxlen=int(latency_window))
        self._latency: dict[str, dict[str, float]] = {}
        self.status = RecognizerStatus()
        self.alert = ""
        self.version = 0
        self.results_version = 0
        self.status_version = 0
        self._status_key: tuple = ()

    def add_result(self, result: Result) -> None:
        """Record one classified utterance.

        Parameters
        ----------
        result : Result
            Becomes the current utterance; its ``rolling`` becomes the rolling estimate (kept
            from before when empty); its latencies join the samples.
        """
        self.results.append(result)
        self.current = result
        if self.partial is not None and self.partial.utterance.index <= result.utterance.index:
            self.partial = None
        if result.rolling:
            self.rolling = dict(result.rolling)
        if result.speaker is not None and result.speaker_rolling:
            self.speaker_rolling[result.speaker] = dict(result.speaker_rolling)
        # the run re-clustered its speakers (earlier utterances' speakers) and/or the session
        # revision (ser_live/revision.py) re-scored them: the timeline shows both, one pass
        moved, rev = result.speakers_moved, result.revision
        if moved or rev is not None:
            preds = rev.predictions if rev is not None else {}
            self.results = deque((replace(r, speaker=moved.get(r.utterance.index, r.speaker),
                                          prediction=preds.get(r.utterance.index, r.prediction))
                                  for r in self.results), maxlen=self.history)
        if rev is not None:  # the rolling estimate revised too
            if rev.speaker is None:
                self.rolling = dict(rev.rolling)
            else:  # one speaker's session: that speaker's estimate, revised
                self.speaker_rolling[rev.speaker] = dict(rev.rolling)
        self.n_results += 1
        if self.is_uncertain(result):  # its own count, not counted under its label
            self.n_uncertain += 1
        else:
            self.label_counts[result.prediction.label] += 1
        self.results_version += 1
        self.processing_ms.append(float(result.processing_ms))
        self.end_of_speech_ms.append(float(result.end_of_speech_ms))
        self._latency = {
            "processing": _latency_stats(self.processing_ms),
            "end_of_speech": _latency_stats(self.end_of_speech_ms),
        }
        self.version += 1

    def add_partial(self, result: Result) -> None:
        """Show a provisional estimate of the utterance in progress until its final result.

        Parameters
        ----------
        result : Result
            With ``final=False``; neither the rolling estimate, the counts nor the latency
            samples change.
        """
        self.partial = result
        self.results_version += 1
        self.version += 1

    def is_uncertain(self, result: Result) -> bool:
        """Whether ``result`` is shown as "uncertain" (see :class:`~ser_live.types.UncertaintyRule`)."""
        return self.uncertainty is not None and self.uncertainty.applies(result.prediction)

    def __getattr__(self, name: str) -> Any:
        """The fields of :attr:`status` read as attributes (``state.level_dbfs``)."""
        status = self.__dict__.get("status")
        if status is not None and name in _STATUS_FIELDS:
            return getattr(status, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def set_status(self, status: RecognizerStatus | None = None, *, alert: str | None = None, **fields: Any) -> None:
        """Update the stream's status (the recogniser's :class:`~ser_live.types.RecognizerStatus`).

        Parameters
        ----------
        status : RecognizerStatus, optional
            The recogniser's latest status (:meth:`~ser_live.pipeline.Recognizer.status`),
            kept as it is.
        alert : str, optional
            A problem with the input to show in the status panel (e.g. "no audio from the
            microphone for 3 s"); "" clears it; None keeps it.
        **fields
            Single fields of :class:`~ser_live.types.RecognizerStatus` (e.g.
            ``level_dbfs=-12.0``) over ``status``; a field given as None keeps its value. The
            panel warns "clipped" above :data:`CLIPPED_WARN_FRACTION`, "too quiet" below
            :data:`QUIET_SPEECH_DBFS` and "noisy room" below :data:`NOISY_ROOM_SNR_DB`.

        Raises
        ------
        TypeError
            A keyword that is not a status field.
        """
        unknown = set(fields) - _STATUS_FIELDS
        if unknown:
            raise TypeError(f"set_status() got unknown status fields {sorted(unknown)}")
        if status is not None:
            self.status = status
        changes = {k: v for k, v in fields.items() if v is not None}
        if changes:
            self.status = replace(self.status, **changes)
        if alert is not None:
            self.alert = str(alert)
        part = self.partial
        if part is not None and self.vad_state == "silence" and self.stream_s > part.utterance.end_s + _PARTIAL_STALE_S:
            self.partial = None  # its final result never came (dropped): stop showing it
            self.results_version += 1
            self.version += 1
        key = self.status_key()
        if key != self._status_key:
            self._status_key = key
            self.status_version += 1
            self.version += 1

    def status_key(self) -> tuple:
        """What the status panel shows, as text and rounded values: equal keys draw equal
        panels (the key of its render cache, and how :meth:`set_status` tells a change)."""
        return (
            fmt_level(self.level_dbfs), self.vad_state, _fmt_stream(self.stream_s), self.dropped_samples,
            f"{self.dropped_s:.3f}", self.input_overflows, self.dropped_short, self.alert, self.dropped_utterances,
            _fmt_floor(self.noise_floor_dbfs), tuple(self.input_warnings()),
        )

    def input_warnings(self) -> list[str]:
        """Warnings about the input level: ``"clipped ..."`` when more than
        :data:`CLIPPED_WARN_FRACTION` of the last second's samples are at full scale, ``"too
        quiet ..."`` when the last utterance's loud-frame level is below
        :data:`QUIET_SPEECH_DBFS`, ``"noisy room ..."`` when it is less than
        :data:`NOISY_ROOM_SNR_DB` above the noise floor and the model is not
        :data:`NOISY_MODEL_NAME` (pointing to ``--model noisy``, or, for a model with a noise
        branch, saying that the branch is on).

        Returns
        -------
        list of str
        """
        out = []
        if self.clipped_fraction > CLIPPED_WARN_FRACTION:
            out.append(f"clipped: {100 * self.clipped_fraction:.1f} % of samples at full scale")
        heard = math.isfinite(self.speech_level_dbfs) and self.speech_level_dbfs > -99.0
        if heard and self.speech_level_dbfs < QUIET_SPEECH_DBFS:
            out.append(f"too quiet: speech at {self.speech_level_dbfs:.0f} dBFS")
        snr_db = self.speech_level_dbfs - self.noise_floor_dbfs
        if heard and math.isfinite(snr_db) and snr_db < NOISY_ROOM_SNR_DB and self.model_name != NOISY_MODEL_NAME:
            remedy = "the noise branch takes noisy utterances" if self.noise_branch else "--model noisy is trained for it"
            out.append(f"noisy room: speech {snr_db:.0f} dB above the noise floor; {remedy}")
        return out

    def latency(self, kind: str) -> dict[str, float]:
        """Latency figures of the kept samples.

        Parameters
        ----------
        kind : {"processing", "end_of_speech"}

        Returns
        -------
        dict
            ``last``, ``p50``, ``p95`` (milliseconds; percentiles by linear interpolation,
            as ``numpy.percentile``); empty before the first result.

        Raises
        ------
        ValueError
            Another ``kind``.
        """
        if kind not in ("processing", "end_of_speech"):
            raise ValueError(f"kind must be 'processing' or 'end_of_speech', got {kind!r}")
        return dict(self._latency.get(kind, {}))


def _latency_stats(values: Iterable[float]) -> dict[str, float]:
    """``last``, ``p50``, ``p95`` (ms) of the kept latencies, from :func:`latency_stats`."""
    values = list(values)
    stats = latency_stats(values)
    if not stats:
        return {}
    return {"last": float(values[-1]), "p50": stats["p50"], "p95": stats["p95"]}


# --------------------------------------------------------------------------------- panels
def _fmt_floor(floor_dbfs: float) -> str:
    if not math.isfinite(floor_dbfs):
        return "floor -"
    return f"floor {floor_dbfs:.0f} dBFS" if floor_dbfs > -99.0 else "floor silent"


def _fmt_stream(stream_s: float) -> str:
    """Stream time to the whole second (``m:ss``): the clock moves the dashboard once a second."""
    m, sec = divmod(int(max(stream_s, 0.0)), 60)
    return f"{m}:{sec:02d}"


def _fmt_ms(x: float | None) -> str:
    return "–" if x is None else f"{x:.1f}"


def _fmt_p(p: float | None) -> str:
    return "  – " if p is None else f"{p:.2f}"


def _label_text(label: str, *, bold: bool = False) -> Text:
    return Text(label, style=Style(color=emotion_color(label), bold=bold))


def _result_label(state: DashboardState, result: Result, *, bold: bool = False) -> Text:
    """The label of a result as shown: "uncertain" (italic) when the state's rule says so."""
    if state.is_uncertain(result):
        return Text("uncertain", style=Style(color="grey70", italic=True, bold=bold))
    return _label_text(result.label, bold=bold)


def _confidence_text(state: DashboardState, result: Result) -> str:
    """The confidence shown next to a result's label: ``"0.71"``, or ``UNCERTAIN_CONFIDENCE``
    for an uncertain one (no label is claimed, so no label's probability is shown; the
    probability bars still show every label's)."""
    return UNCERTAIN_CONFIDENCE if state.is_uncertain(result) else f"{result.confidence:.2f}"


def _partial_line(state: DashboardState) -> Text | None:
    """The dim italic "speaking… (provisional)" line of the utterance in progress; on a panel
    too narrow for it, it wraps at word boundaries (cut, it would lose the estimate's label and
    probability, which come after its own words)."""
    part = state.partial
    if part is None:
        return None
    u = part.utterance
    t = Text(no_wrap=False, overflow="fold", style=Style(color="grey58", italic=True))
    t.append(f"#{u.index}  speaking… (provisional) ")
    if state.is_uncertain(part):
        t.append("uncertain")
    else:
        t.append(part.label, style=Style(color=emotion_color(part.label), italic=True, dim=True))
    t.append(f"  {_confidence_text(state, part)}  {u.duration_s:.1f} s so far")
    return t


#: Utterances a session's running statistics take to settle: the dashboard says "learning your
#: voice: N of 5" until then. On an EmoDB ``loco`` fold model, live accuracy on each session's
#: first 5 utterances was 40-60 % against 67 % offline, and 77-84 % against 79 % after them
#: (docs/experiments.md, "Pause gate").
LEARNING_UTTERANCES: int = 5


def _header(state: DashboardState, *, width: int | None = None) -> Text:
    """The header line; at a narrow ``width`` the "(N labels)" note goes and the field names
    shorten (then the program's name goes), so that it stays one line as long as it can (it
    wraps at word boundaries after)."""
    n = state.current.session_utterances if state.current is not None else 0
    norm = None if state.session_norm is None else (f"{n or 0} utt." if state.session_norm else "off")
    if state.session_norm and (n or 0) < LEARNING_UTTERANCES:
        # The first utterances of a session are where live loses to offline (issue 20:
        # `python -m benchmarks.live_offline`, first 5 vs the rest): say so.
        norm = f"learning your voice: {n or 0} of {LEARNING_UTTERANCES}"
        norm_short = f"learning {n or 0}/{LEARNING_UTTERANCES}"
    else:
        norm_short = norm
    for compact in (0, 1, 2):
        t = Text(no_wrap=False, overflow="fold")
        if compact < 2:
            t.append("ser-live", style="bold")
            t.append("  model ", style="grey50")
        t.append(state.model_name, style="bold")
        if not compact:
            t.append(f" ({len(state.labels)} labels)", style="grey50")
        t.append("  source " if not compact else "  ", style="grey50")
        t.append(state.source_name)
        t.append("  utterances " if not compact else "  utt. ", style="grey50")
        t.append(str(state.n_results))
        if norm is not None:
            t.append("  session norm: " if not compact else "  norm ", style="grey50")
            t.append(norm if not compact else norm_short)
        if state.profile:
            t.append("  profile ", style="grey50")
            t.append(state.profile, style="bold")
        if width is None or len(t) <= width:
            break
    return t


def _emotion_panel(state: DashboardState, *, width: int) -> Panel:
    cur = state.current
    head = Text(no_wrap=True, overflow="ellipsis")
    if cur is None:
        head.append(_PLACEHOLDER, style="italic grey62")
        probs: dict[str, float] = {}
    else:
        u = cur.utterance
        head.append(f"#{u.index}  ", style="grey50")
        head.append_text(_result_label(state, cur, bold=True))
        head.append(f"  {_confidence_text(state, cur)}", style="bold")
        if cur.speaker is not None:
            head.append(f"  speaker {cur.speaker}", style="bold")
        head.append(f"  {u.start_s:.2f}–{u.end_s:.2f} s ({u.duration_s:.2f} s)", style="grey62")
        if u.cut_at_max:
            head.append("  cut", style="yellow")
        if cur.prediction.noise_branch:
            head.append("  noise branch", style="yellow")
        probs = cur.prediction.probabilities
    rolling = state.rolling
    rows = list(state.labels) + [k for k in probs if k not in state.labels]
    rows += [k for k in rolling if k not in rows]
    top_cur = max(probs, key=probs.__getitem__) if probs else None
    top_roll = max(rolling, key=rolling.__getitem__) if rolling else None

    table = Table(box=None, show_header=True, header_style="grey62", pad_edge=False, padding=(0, 1, 0, 0), expand=True)
    label_w = max((len(r) for r in rows), default=5)
    table.add_column("label", no_wrap=True, overflow="ellipsis", min_width=min(label_w, 8), max_width=max(label_w, 5))
    table.add_column("utterance" if cur is None else f"utterance #{cur.utterance.index}", ratio=1, no_wrap=True)
    table.add_column("", width=4, justify="right", no_wrap=True)
    table.add_column("", width=1, no_wrap=True)  # gap between the two groups
    # name the rolling estimate's top label in the column header when it fits the bar's width
    bar_w = (width - 4 - max(label_w, 5) - 4 - 1 - 4 - 5) // 2
    roll_head = "rolling" if top_roll is None or len(top_roll) + 9 > bar_w else f"rolling: {top_roll}"
    table.add_column(roll_head, ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("", width=4, justify="right", no_wrap=True)
    for lab in rows:
        color = emotion_color(lab)
        p = probs.get(lab)
        r = rolling.get(lab)
        table.add_row(
            _label_text(lab, bold=lab in (top_cur, top_roll)),
            Bar(p or 0.0, color),
            Text(_fmt_p(p), style="bold" if lab == top_cur else ""),
            "",
            Bar(r or 0.0, color),
            Text(_fmt_p(r), style="bold" if lab == top_roll else ""),
        )
    partial = _partial_line(state)
    parts: list[RenderableType] = [head] + ([partial] if partial is not None else []) + [table]
    if state.speaker_rolling:  # speaker turns: each speaker's own rolling estimate, its top label
        parts.extend(_speaker_lines(state, width=width - 4))  # the panel's borders and padding
    body = Group(*parts)
    return Panel(body, title="emotion", title_align="left", border_style="grey42", padding=(0, 1),
                 subtitle=_affect_caption(state, width=width), subtitle_align="left")


def _speaker_lines(state: DashboardState, *, width: int) -> list[Text]:
    """Each speaker's own rolling estimate, ``by speaker  A angry 0.54  B sad 0.43``, on as
    many lines of ``width`` cells as it takes: an entry that does not fit the line goes on the
    next one (indented under the first), so no speaker's estimate is cut off."""
    prefix = "by speaker  "
    lines: list[Text] = []
    line = Text(prefix, style="grey62", no_wrap=True, overflow="ellipsis")
    first = True
    for spk, est in sorted(state.speaker_rolling.items()):
        top = max(est, key=est.__getitem__)
        entry = Text(f"{spk} ", style="bold", no_wrap=True)
        entry.append_text(_label_text(top))
        entry.append(f" {est[top]:.2f}")
        if not first and line.cell_len + 2 + entry.cell_len > width:
            lines.append(line)
            line = Text(" " * len(prefix), no_wrap=True, overflow="ellipsis")
            first = True
        line.append("" if first else "  ")
        line.append_text(entry)
        first = False
    lines.append(line)
    return lines


#: Colours of the signed arousal and valence bars: (negative side, positive side).
_AFFECT_COLORS: dict[str, tuple[str, str]] = {"arousal": ("dodger_blue2", "dark_orange"), "valence": ("red1", "green3")}


def _signed_bar(value: float, cells: int, colors: tuple[str, str]) -> Text:
    """A bar of ``2 * cells + 1`` characters centred on 0: ``value`` in [-1, 1] fills
    ``round(|value| * cells)`` cells from the centre mark towards its side."""
    n = min(cells, int(round(abs(value) * cells)))
    bar = Text(no_wrap=True)
    left, right = (n, 0) if value < 0 else (0, n)
    bar.append(BAR_EMPTY * (cells - left), style="grey35")
    bar.append(BAR_FULL * left, style=colors[0])
    bar.append("│", style="grey62")
    bar.append(BAR_FULL * right, style=colors[1])
    bar.append(BAR_EMPTY * (cells - right), style="grey35")
    return bar


def _affect_caption(state: DashboardState, *, width: int) -> Text | None:
    """The rolling estimate's arousal and valence (:mod:`ser_live.affect`), drawn in the
    emotion panel's bottom edge, so the row costs no line of the screen: ``rolling arousal
    +0.42 ░░│██░ valence -0.10 ░█│░░`` (each bar signed around its centre mark, -1 left to
    +1 right), without the bars when the panel is narrow. None (no caption) before any
    rolling estimate or for a model with a label without a circumplex position."""
    affect = affect_of(state.rolling)
    if affect is None:
        return None
    room = width - 6  # the corners, a rule cell on each side and the spaces around the caption
    words = [f"{axis} {v:+.2f}" for axis, v in zip(("arousal", "valence"), affect)]
    prefix = "rolling " if room >= len("rolling ") + sum(len(w) for w in words) + 2 else ""
    fixed = len(prefix) + sum(len(w) for w in words) + 2 + 2 * 2  # the gap; a space and a centre mark per bar
    cells = min(5, (room - fixed) // 4)  # per side of each bar, two bars
    text = Text(no_wrap=True, overflow="ellipsis")
    text.append(prefix, style="grey62")
    for i, ((axis, colors), word) in enumerate(zip(_AFFECT_COLORS.items(), words)):
        text.append("  " if i else "")
        text.append(word, style="bold")
        if cells >= 1:
            text.append(" ")
            text.append_text(_signed_bar(affect[i], cells, colors))
    return text


def _status_panel(state: DashboardState, *, compact: bool = False, width: int | None = None) -> Panel:
    """The ``input`` panel: level meter, VAD state and stream clock, what was dropped, the
    noise floor, input warnings and alerts, and the latency table.

    ``compact`` (a terminal too short for the whole dashboard): the level and VAD rows, the
    dropped rows only when something was dropped, the warnings and alerts, no latency table;
    so what says whether the microphone is heard stays on screen instead of being cut off
    below the terminal's last line.

    ``width``: the panel's width in cells, borders included (None: at least
    :data:`_DROPPED_BESIDE_MIN_COLUMNS`). Narrower than that, the dropped rows take the
    panel's whole width and the noise floor a line of its own.
    """
    show_dropped = bool(not compact or state.dropped_samples or state.input_overflows or state.dropped_utterances)
    beside = width is None or width >= _DROPPED_BESIDE_MIN_COLUMNS
    grid = Table.grid(padding=(0, 1), expand=True)
    # the names as wide as "dropped" when it is in a grid of its own below: the values line up
    grid.add_column(no_wrap=True, style="grey62", min_width=7 if show_dropped else None)
    grid.add_column(ratio=1, no_wrap=True)
    grid.add_column(no_wrap=True, justify="right")

    level = state.level_dbfs
    grid.add_row("input", LevelBar(level), fmt_level(level))
    floor_text = Text(_fmt_floor(state.noise_floor_dbfs), style="grey62", justify="right")

    vad = state.vad_state
    vad_style = {"speech": "bold green3", "silence": "grey62"}.get(vad, "yellow1")
    grid.add_row(
        "VAD",
        Text.assemble(("● " if vad == "speech" else "○ ", vad_style), (vad, vad_style)),
        Text(f"stream {_fmt_stream(state.stream_s)}", style="grey62"),
    )

    dropped = Table.grid(padding=(0, 1), expand=True)  # narrow: the dropped rows, the panel's whole width
    dropped.add_column(no_wrap=True, style="grey62", min_width=7)
    dropped.add_column(ratio=1)
    if show_dropped:  # compact: only when something was lost
        lost, more = _dropped_texts(state)
        if beside:
            grid.add_row("dropped", lost, floor_text)
            grid.add_row("", more, "")
        else:
            dropped.add_row("dropped", lost)
            dropped.add_row("", more)
            dropped.add_row("", floor_text)
    # Messages (input warnings, the alert) get the panel's whole width below the grid and wrap at
    # word boundaries, never cut (only a word longer than the width folds).
    messages = Table.grid(padding=(0, 1), expand=True)
    messages.add_column(no_wrap=True, style="grey62", min_width=7)
    messages.add_column(ratio=1)
    for warning in state.input_warnings():
        messages.add_row("warning", Text(warning, style="bold yellow1", no_wrap=False, overflow="fold"))
    if state.alert:
        messages.add_row("alert", Text(state.alert, style="bold red1", no_wrap=False, overflow="fold"))

    parts: list[RenderableType] = [grid] + [t for t in (dropped, messages) if t.row_count]
    if not compact:
        lat = Table(box=None, show_header=True, header_style="grey62", pad_edge=False, padding=(0, 1))
        # Short of room, rich's table first narrows the columns that may wrap: the names' (each
        # still one line, cut with an ellipsis), so that the figures keep all their digits.
        lat.add_column(Text("latency ms", no_wrap=True, overflow="ellipsis"), no_wrap=False, style="grey62")
        for col in ("last", "p50", "p95"):
            lat.add_column(col, justify="right", no_wrap=True)
        for name, kind in (("processing", "processing"), ("end of speech", "end_of_speech")):
            s = state.latency(kind)
            lat.add_row(Text(name, no_wrap=True, overflow="ellipsis"), _fmt_ms(s.get("last")), _fmt_ms(s.get("p50")),
                        _fmt_ms(s.get("p95")))
        parts.append(lat)
    return Panel(Group(*parts), title="input", title_align="left", border_style="grey42", padding=(0, 1))


def _dropped_texts(state: DashboardState) -> tuple[Text, Text]:
    """The two lines of what was lost: the samples, then the overflows, short bursts and
    dropped utterances; each wraps at word boundaries (only a word wider than its column
    folds)."""
    bad = state.dropped_samples > 0
    lost = Text(f"{state.dropped_samples} samples ({state.dropped_s:.3f} s)", style="bold red1" if bad else "",
                no_wrap=False, overflow="fold")
    more = Text(no_wrap=False, overflow="fold")
    more.append(f"{state.input_overflows} overflows", style="bold red1" if state.input_overflows else "")
    more.append(" · ", style="grey50")
    more.append(f"{state.dropped_short} short bursts", style="yellow1" if state.dropped_short else "")
    if state.dropped_utterances:
        more.append(" · ", style="grey50")
        more.append(f"{state.dropped_utterances} utterances dropped (worker behind)", style="bold red1")
    return lost, more


def _timeline_panel(state: DashboardState, *, width: int, max_rows: int | None) -> Panel:
    results = list(state.results)
    if max_rows is not None:
        results = results[-max(max_rows, 0) :] if max_rows > 0 else []
    title = f"timeline · last {len(results)} of {state.n_results}"
    if not state.results:
        body: RenderableType = Text("no utterance yet", style="italic grey62")
        return Panel(body, title="timeline", title_align="left", border_style="grey42", padding=(0, 1))
    roomy = width >= 40  # narrower (the 80-column layout): no bar, the start time only
    columns = [("#", "right", "grey50"), ("time s", "right", ""), ("dur", "right", ""), ("label", "left", ""),
               ("conf", "right", "")]
    affects = [affect_of(r.prediction.probabilities) for r in results] if width >= _TIMELINE_AFFECT_MIN_COLUMNS else []
    affect = bool(affects) and all(a is not None for a in affects)
    if affect:  # each utterance's arousal and valence (ser_live/affect.py)
        columns += [("aro", "right", ""), ("val", "right", "")]
    if roomy:
        columns.append(("", "left", ""))
    rows = []
    for k in range(len(results) - 1, -1, -1):  # newest first
        r = results[k]
        u = r.utterance
        cells: list[Any] = [
            str(u.index),
            f"{u.start_s:.2f}–{u.end_s:.2f}" if roomy else f"{u.start_s:.1f}",
            f"{u.duration_s:.1f}",
            (Text(f"{r.speaker} ", style="bold").append_text(_result_label(state, r, bold=r is state.current))
             if r.speaker is not None else _result_label(state, r, bold=r is state.current)),
            _confidence_text(state, r),
        ]
        if affect:
            cells += [f"{v:+.2f}" for v in affects[k]]
        if roomy:  # no bar for an uncertain utterance: it claims no label
            cells.append(Bar(0.0 if state.is_uncertain(r) else r.confidence, emotion_color(r.label), min_width=3))
        rows.append(cells)
    # rich's Table layout, drawn without its per-cell machinery (LineTable): a result's redraw
    table = LineTable(columns, rows, header_style="grey62", flexible_last=roomy, min_width=3)
    return Panel(table, title=title, title_align="left", border_style="grey42", padding=(0, 1))


class _QuickRows:
    """Where the input level (meter and text) and the stream clock sit in the rendered lines
    of the status panel, to redraw those two cells alone when nothing else changed
    (:meth:`redrawn`).

    Found in a full render (:meth:`find`) only when the meter's segments there are exactly
    what :class:`LevelBar` yields for that level (so the row can be rebuilt from it) and the
    level's and the clock's texts each appear once; otherwise None, and the panel is always
    rendered whole.
    """

    __slots__ = ("lines", "level_row", "bar", "level_at", "width", "level_text", "clock_row", "clock_at", "clock_text")

    def __init__(self, lines: list[list[Segment]], level_row: int, bar: tuple[int, int], level_at: int, width: int,
                 level_text: str, clock_row: int, clock_at: int, clock_text: str) -> None:
        self.lines, self.level_row, self.bar, self.level_at, self.width = lines, level_row, bar, level_at, width
        self.level_text, self.clock_row, self.clock_at, self.clock_text = level_text, clock_row, clock_at, clock_text

    @staticmethod
    def _bar_segments(level_dbfs: float, width: int, console: Console, options: ConsoleOptions) -> list[Segment]:
        segs = list(LevelBar(level_dbfs).__rich_console__(console, options.update(width=width)))
        return [s for s in segs if s.text != "\n"]

    @staticmethod
    def _unique(lines: list[list[Segment]], text: str) -> tuple[int, int] | None:
        """(line, segment) of the one segment holding ``text`` once; None if not exactly one."""
        hits = [(i, j) for i, line in enumerate(lines) for j, seg in enumerate(line) if text in seg.text]
        if len(hits) != 1 or lines[hits[0][0]][hits[0][1]].text.count(text) != 1:
            return None
        return hits[0]

    @classmethod
    def find(cls, lines: list[list[Segment]], level_dbfs: float, level_text: str, clock_text: str,
             console: Console, options: ConsoleOptions) -> "_QuickRows | None":
        level, clock = cls._unique(lines, level_text), cls._unique(lines, clock_text)
        if level is None or clock is None or level == clock:
            return None
        i, j = level
        line, meter = lines[i], set(BAR_FULL + BAR_EMPTY)
        end = j
        while end > 0 and not (line[end - 1].text and set(line[end - 1].text) <= meter):
            end -= 1
        start = end
        while start > 0 and line[start - 1].text and set(line[start - 1].text) <= meter:
            start -= 1
        width = sum(len(seg.text) for seg in line[start:end])
        if start == end or cls._bar_segments(level_dbfs, width, console, options) != line[start:end]:
            return None
        return cls(lines, i, (start, end), j, width, level_text, clock[0], clock[1], clock_text)

    def redrawn(self, level_dbfs: float, level_text: str, clock_text: str, console: Console,
                options: ConsoleOptions) -> list[list[Segment]] | None:
        """The panel's lines for another level and clock, or None where they cannot be
        rebuilt in place (a text of another length)."""
        if len(level_text) != len(self.level_text) or len(clock_text) != len(self.clock_text):
            return None
        lines = list(self.lines)
        line, (a, b), j = lines[self.level_row], self.bar, self.level_at
        seg = line[j]
        lines[self.level_row] = [
            *line[:a], *self._bar_segments(level_dbfs, self.width, console, options), *line[b:j],
            Segment(seg.text.replace(self.level_text, level_text), seg.style, seg.control), *line[j + 1:]]
        line, j = lines[self.clock_row], self.clock_at
        seg = line[j]
        lines[self.clock_row] = [*line[:j], Segment(seg.text.replace(self.clock_text, clock_text), seg.style,
                                                    seg.control), *line[j + 1:]]
        return lines


def _panel_widths(width: int) -> tuple[int, int]:
    """Widths (columns) of the left (emotion, status) and right (timeline) panels on a
    ``width``-column console: side by side from :data:`_WIDE_MIN_COLUMNS` on, else both the
    whole width (stacked)."""
    if width < _WIDE_MIN_COLUMNS:
        return width, width
    left = (width * 11) // 20
    return left, width - left


class DashboardView:
    """The dashboard as a rich renderable, laid out for the width it is drawn at.

    Parameters
    ----------
    state : DashboardState
    max_height : int, optional
        Lines available (the terminal's height); the timeline is shortened to fit, and the
        input panel takes its compact form (:func:`_status_panel`) when whole it would not.
        None: no limit.
    fit_terminal : bool, default False
        Take ``max_height`` from the console's height at each render (live view).
    """

    def __init__(self, state: DashboardState, *, max_height: int | None = None, fit_terminal: bool = False) -> None:
        self.state = state
        self.max_height = max_height
        self.fit_terminal = fit_terminal
        self._cache: dict[tuple, list[list[Segment]]] = {}
        #: Per compactness (False: the whole input panel; True: :func:`_status_panel`'s compact one).
        self._status_cache: dict[bool, tuple[tuple, list[list[Segment]], _QuickRows | None]] = {}
        self._header_cache: tuple[tuple, list[list[Segment]]] | None = None

    def _status_lines(self, console: Console, options: ConsoleOptions, *, compact: bool = False) -> list[list[Segment]]:
        """Rendered lines of the status panel (``compact``: its short form for a short
        terminal), kept while what it shows is unchanged.

        During speech the input level changes at every redraw and the clock every second,
        while the rest of the panel rarely does: a change of those alone redraws the two
        cells into the kept lines (:class:`_QuickRows`), the same segments as a full render
        at a fraction of its cost; any other change renders the panel anew.
        """
        state = self.state
        key = (state.status_key(), state.results_version, options.max_width)
        cached = self._status_cache.get(compact)
        if cached is not None and cached[0] == key:
            return list(cached[1])
        shown = key[0]
        level_text, clock_text = shown[0], f"stream {shown[2]}"

        def rest(k: tuple) -> tuple:  # all the panel shows but the level and the clock
            return (k[0][1], *k[0][3:], *k[1:])

        if cached is not None and cached[2] is not None and rest(cached[0]) == rest(key):
            lines = cached[2].redrawn(state.level_dbfs, level_text, clock_text, console, options)
            if lines is not None:
                self._status_cache[compact] = (key, lines, cached[2])
                return list(lines)
        lines = console.render_lines(_status_panel(state, compact=compact, width=options.max_width), options,
                                     pad=True)
        quick = _QuickRows.find(lines, state.level_dbfs, level_text, clock_text, console, options)
        self._status_cache[compact] = (key, lines, quick)
        return list(lines)

    def _header_lines(self, console: Console, options: ConsoleOptions, width: int) -> list[list[Segment]]:
        """Rendered lines of the header, kept while what it shows (the results, and the run's
        model, source, profile and session normalisation) is unchanged."""
        st = self.state
        key = (st.results_version, st.n_results, st.model_name, st.source_name, st.profile, st.session_norm,
               len(st.labels), width)
        if self._header_cache is None or self._header_cache[0] != key:
            self._header_cache = (key, console.render_lines(_header(self.state, width=width), options, pad=True))
        return list(self._header_cache[1])

    def _lines(
        self,
        key: tuple,
        make: Callable[[], RenderableType],
        console: Console,
        options: ConsoleOptions,
    ) -> list[list[Segment]]:
        """Rendered lines of a panel that only changes with a new result, cached per width."""
        key = (self.state.results_version,) + key
        lines = self._cache.get(key)
        if lines is None:
            if len(self._cache) > 8 or any(k[0] != key[0] for k in self._cache):
                self._cache.clear()
            lines = console.render_lines(make(), options, pad=True)
            self._cache[key] = lines
        return list(lines)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        state = self.state
        width = max(20, options.max_width)
        opts = options.update(width=width, height=None)
        height = console.size.height if self.fit_terminal else self.max_height
        header = self._header_lines(console, opts, width)
        if width >= _WIDE_MIN_COLUMNS:
            left_w, right_w = _panel_widths(width)
            left_opts = opts.update(width=left_w)
            left_lines = self._lines(
                ("emotion", left_w), lambda: _emotion_panel(state, width=left_w), console, left_opts
            )
            status = self._status_lines(console, left_opts)
            if height is not None and len(header) + len(left_lines) + len(status) > height:
                status = self._status_lines(console, left_opts, compact=True)  # kept on screen
            left_lines += status
            # timeline panel: 2 borders + 1 column header + rows; keep it within the screen
            rows = None if height is None else max(0, height - len(header) - 4)
            right_lines = self._lines(
                ("timeline", right_w, rows),
                lambda: _timeline_panel(state, width=right_w, max_rows=rows),
                console,
                opts.update(width=right_w),
            )
            n = max(len(left_lines), len(right_lines))
            left_lines += [[Segment(" " * left_w)]] * (n - len(left_lines))
            right_lines += [[Segment(" " * right_w)]] * (n - len(right_lines))
            lines = header + [lft + rgt for lft, rgt in zip(left_lines, right_lines)]
        else:
            lines = header + self._lines(
                ("emotion", width), lambda: _emotion_panel(state, width=width), console, opts
            )
            status = self._status_lines(console, opts)
            if height is not None and len(lines) + len(status) > height:
                status = self._status_lines(console, opts, compact=True)  # kept on screen
            lines += status
            rows = None if height is None else height - len(lines) - 4
            if rows is None or rows > 0 or not state.results:
                lines += self._lines(
                    ("timeline", width, rows),
                    lambda: _timeline_panel(state, width=width, max_rows=rows),
                    console,
                    opts,
                )
        yield SegmentLines(lines, new_lines=True)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(20, options.max_width), options.max_width)


def render_dashboard(state: DashboardState, *, max_height: int | None = None) -> DashboardView:
    """The dashboard for the current state, as a rich renderable.

    Parameters
    ----------
    state : DashboardState
    max_height : int, optional
        Lines available; the timeline is shortened to fit and the input panel compacted when
        whole it would not (None: show all ``history`` rows and the whole input panel).

    Returns
    -------
    DashboardView
        Draw it with ``console.print(...)`` or inside :class:`rich.live.Live`; it lays itself
        out for the console's width when drawn (two columns from 80 columns, stacked below).
    """
    return DashboardView(state, max_height=max_height)


def _isatty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal (False for None or a closed stream)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError):
        return False


class LiveDashboard:
    """A :class:`rich.live.Live` view of a :class:`DashboardState`, refreshed by the caller.

    There is no refresh thread: the main thread, which owns the state, calls :meth:`refresh`
    (as often as it likes; redraws are limited to ``refresh_per_second``), so the state is
    never read while it changes. Nothing here touches the audio path.

    Parameters
    ----------
    state : DashboardState
    console : rich.console.Console, optional
        Where to draw; a new console on stdout by default (in ASCII where stdout's encoding is
        not UTF: :func:`~ser_live.widgets.terminal_console`).
    refresh_per_second : float, default 8
        Maximum redraw rate (Hz) for a new result or provisional estimate.
    status_per_second : float, default 4
        Maximum redraw rate (Hz) when only the status (level meter, VAD, clock) changed; at
        most ``refresh_per_second``. Nothing is redrawn while nothing shown changes (the
        clock shows whole seconds), which keeps the dashboard's CPU low: ``python -m
        benchmarks --only listen``.
    idle_per_second : float, default 1
        Maximum redraw rate (Hz) for a status change while the segmenter hears silence (the
        level meter of the room's floor moves by tenths of a dB at every block); at most
        ``status_per_second``.
    screen : bool, default False
        Draw on the terminal's alternate screen.
    transient : bool, default False
        Erase the dashboard on exit instead of leaving its last frame.

    Raises
    ------
    ValueError
        A redraw rate that is not positive.
    """

    def __init__(
        self,
        state: DashboardState,
        *,
        console: Console | None = None,
        refresh_per_second: float = 8,
        status_per_second: float = 4,
        idle_per_second: float = 1,
        screen: bool = False,
        transient: bool = False,
    ) -> None:
        if refresh_per_second <= 0:
            raise ValueError(f"refresh_per_second must be > 0, got {refresh_per_second}")
        if status_per_second <= 0:
            raise ValueError(f"status_per_second must be > 0, got {status_per_second}")
        if idle_per_second <= 0:
            raise ValueError(f"idle_per_second must be > 0, got {idle_per_second}")
        self.state = state
        self.min_interval_s = 1.0 / refresh_per_second
        self.status_interval_s = max(self.min_interval_s, 1.0 / status_per_second)
        self.idle_interval_s = max(self.status_interval_s, 1.0 / idle_per_second)
        self._last_draw = -math.inf
        self._drawn: tuple[int, int] = (-1, -1)  # (results_version, version) last drawn
        self.n_draws = 0
        self._live = Live(
            DashboardView(state, fit_terminal=True),
            # its own console, as documented: rich's global one may have been pointed
            # elsewhere (python -m train sends it to stderr, for its progress bars)
            console=console if console is not None else terminal_console(),
            auto_refresh=False,
            refresh_per_second=refresh_per_second,
            screen=screen,
            transient=transient,
            vertical_overflow="ellipsis",
            # messages written to stderr while it draws go above it on the terminal; stderr sent
            # elsewhere (`2> log`) keeps them
            redirect_stderr=_isatty(sys.stderr),
        )

    @property
    def console(self) -> Console:
        """The console drawn on."""
        return self._live.console

    def __enter__(self) -> "LiveDashboard":
        self._live.start(refresh=True)
        self._last_draw = time.perf_counter()
        self._drawn = (self.state.results_version, self.state.version)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self._live.stop()  # draws the final frame

    def status_due_in_s(self) -> float:
        """Seconds until a status change may be drawn again (``1 / status_per_second`` after
        the last redraw; 0 or less: now), for a caller that polls the status to sleep until
        then."""
        return self._last_draw + self.status_interval_s - time.perf_counter()

    def refresh(self, *, force: bool = False) -> None:
        """Redraw if something shown changed: a result or provisional estimate once
        ``1 / refresh_per_second`` has passed since the last redraw, a status change once
        ``1 / status_per_second`` has (``1 / idle_per_second`` while the segmenter hears
        silence); else nothing.

        Parameters
        ----------
        force : bool, default False
            Redraw now whatever the rate and the state.
        """
        now = time.perf_counter()
        state = self.state
        elapsed = now - self._last_draw
        if not force:
            if state.results_version != self._drawn[0]:
                if elapsed < self.min_interval_s:
                    return
            elif state.version == self._drawn[1] or elapsed < (
                    self.idle_interval_s if state.vad_state == "silence" else self.status_interval_s):
                return
        self._last_draw = now
        self._drawn = (state.results_version, state.version)
        self.n_draws += 1
        self._live.refresh()
