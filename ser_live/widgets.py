"""Small rich widgets the terminal views share: the emotion colours, a bar, the input level meter.

Used by the live dashboard (:mod:`ser_live.dashboard`) and the calibration view
(:mod:`ser_live.calibration_view`).
"""
from __future__ import annotations

import math
import zlib

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

from .labels import canonical_label

__all__ = ["BAR_EMPTY", "BAR_FULL", "EMOTION_COLORS", "LEVEL_RANGE_DBFS", "Bar", "LevelBar", "emotion_color", "fmt_level"]

#: Colour (rich colour name) of each canonical emotion label.
EMOTION_COLORS: dict[str, str] = {
    "neutral": "grey70",
    "calm": "cyan",
    "happy": "gold1",
    "sad": "dodger_blue2",
    "angry": "red1",
    "fearful": "medium_purple1",
    "disgust": "green3",
    "surprised": "dark_orange",
    "boredom": "tan",
}

#: Colours for labels outside :data:`EMOTION_COLORS`, chosen by a stable hash of the name.
_FALLBACK_PALETTE: tuple[str, ...] = ("bright_white", "turquoise2", "plum2", "light_salmon1", "khaki1", "pale_green1")

#: Span of the input level meter (dBFS): floor and full scale.
LEVEL_RANGE_DBFS: tuple[float, float] = (-60.0, 0.0)

#: Characters of the bars: a full cell, an empty cell; partial cells use eighth blocks.
BAR_FULL = "█"
BAR_EMPTY = "░"
_BAR_EIGHTHS = " ▏▎▍▌▋▊▉"
_DIM = Style(color="grey35")  # empty bar cells


def emotion_color(label: str) -> str:
    """Display colour of an emotion label.

    Parameters
    ----------
    label : str
        Any label; case and surrounding spaces are ignored, and the synonyms of
        :func:`ser_live.labels.canonical_label` (``fear``, ``anger``, ``pleasant_surprise``,
        ...) map to the canonical ones.

    Returns
    -------
    str
        A rich colour name: the canonical label's colour from :data:`EMOTION_COLORS`, else one
        of a fixed palette picked by a CRC-32 of the name (the same label always gets the same
        colour, across runs).
    """
    key = canonical_label(label) or label.strip().lower()
    color = EMOTION_COLORS.get(key)
    if color is not None:
        return color
    return _FALLBACK_PALETTE[zlib.crc32(key.encode()) % len(_FALLBACK_PALETTE)]


class Bar:
    """A one-line horizontal bar filling the width it is given (eighth-block resolution)."""

    __slots__ = ("fraction", "style", "min_width")

    def __init__(self, fraction: float, style: str | Style, *, min_width: int = 4) -> None:
        f = float(fraction)
        self.fraction = 0.0 if not math.isfinite(f) else min(max(f, 0.0), 1.0)
        self.style = style
        self.min_width = min_width

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(self.min_width, options.max_width), options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        eighths = int(round(self.fraction * width * 8))
        full, part = divmod(eighths, 8)
        text = BAR_FULL * full
        if part and full < width:
            text += _BAR_EIGHTHS[part]
        yield Segment(text, console.get_style(self.style) if isinstance(self.style, str) else self.style)
        rest = width - len(text)
        if rest > 0:
            yield Segment(BAR_EMPTY * rest, _DIM)
        yield Segment.line()


class LevelBar:
    """Input level meter from the floor of :data:`LEVEL_RANGE_DBFS` to 0 dBFS, green/yellow/red."""

    __slots__ = ("level_dbfs",)

    _ZONES_DBFS = ((-18.0, Style(color="green3")), (-6.0, Style(color="yellow1")), (math.inf, Style(color="red1")))

    def __init__(self, level_dbfs: float) -> None:
        self.level_dbfs = level_dbfs

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(4, options.max_width), options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        lo, hi = LEVEL_RANGE_DBFS
        level = self.level_dbfs if math.isfinite(self.level_dbfs) else lo
        n_lit = int(round(min(max((level - lo) / (hi - lo), 0.0), 1.0) * width))
        run_style, run = None, ""
        for i in range(n_lit):
            cell_dbfs = lo + (hi - lo) * (i + 0.5) / width
            style = next(s for top, s in self._ZONES_DBFS if cell_dbfs < top)
            if style is not run_style and run:
                yield Segment(run, run_style)
                run = ""
            run_style = style
            run += BAR_FULL
        if run:
            yield Segment(run, run_style)
        if width - n_lit > 0:
            yield Segment(BAR_EMPTY * (width - n_lit), _DIM)
        yield Segment.line()


def fmt_level(level_dbfs: float) -> str:
    """An input level in dBFS, 6.1f wide (``-inf`` for digital silence)."""
    return f"{level_dbfs:6.1f} dBFS" if math.isfinite(level_dbfs) else "  -inf dBFS"
