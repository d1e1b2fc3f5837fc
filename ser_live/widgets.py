"""Small rich widgets the terminal views share: the emotion colours, a bar, the input level meter.

Used by the live dashboard (:mod:`ser_live.dashboard`) and the calibration view
(:mod:`ser_live.calibration_view`).
"""
from __future__ import annotations

import math
import sys
import zlib
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from .labels import canonical_label

__all__ = ["ASCII_GLYPHS", "BAR_EMPTY", "BAR_FULL", "EMOTION_COLORS", "LEVEL_RANGE_DBFS", "Bar", "LevelBar", "LineTable",
           "emotion_color", "fmt_level", "stdout_redraws", "terminal_console"]

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

#: One-cell ASCII stand-ins for the characters the views draw (and rich's own ellipsis), written
#: in their place on a terminal whose encoding has no room for them (``LANG=C``,
#: ``PYTHONIOENCODING=ascii``): each takes the one cell its character took, so the layout holds,
#: and a bar stays a bar (``#`` full, ``.`` empty; a partial cell rounds to the nearer).
ASCII_GLYPHS: dict[int, str] = str.maketrans({
    BAR_FULL: "#", BAR_EMPTY: ".", **{c: "." for c in _BAR_EIGHTHS[1:4]}, **{c: "#" for c in _BAR_EIGHTHS[4:]},
    "\u2026": ".", "\u2013": "-", "\u2014": "-", "\u00b7": ".", "\u25cf": "*", "\u25cb": "o", "\u2502": "|",
    "\u201c": '"', "\u201d": '"',
})


class _EncodableFile:
    """A text stream every write to which its encoding can take: :data:`ASCII_GLYPHS`, then
    ``?`` for any other character it cannot encode. The rest (``encoding``, ``isatty``,
    ``fileno``, ``flush`` ...) is the stream's, so rich still sees the encoding and draws its
    boxes in ASCII."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        encoding = getattr(self._stream, "encoding", None) or "ascii"
        return self._stream.write(text.translate(ASCII_GLYPHS).encode(encoding, "replace").decode(encoding))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def stdout_redraws() -> bool:
    """Whether stdout is a terminal a live view can redraw in place: a terminal that rich does
    not call dumb (``TERM=dumb`` or ``unknown`` get no cursor moves from rich, so a live view
    there shows nothing until its last frame, at the end of the run). False when stdout is
    closed (None: started with ``>&-``)."""
    return sys.stdout is not None and sys.stdout.isatty() and not Console(file=sys.stdout).is_dumb_terminal


def terminal_console(**kwargs: Any) -> Console:
    """A rich :class:`~rich.console.Console` (``kwargs`` as its) for a live view that never
    raises :class:`UnicodeEncodeError`: where the stream's encoding is not UTF (rich's
    ``encoding`` and ``ascii_only``), what is written goes through :data:`ASCII_GLYPHS`. On a
    UTF terminal it is rich's console, unchanged."""
    console = Console(**kwargs)
    if not console.encoding.startswith("utf"):
        console.file = _EncodableFile(console.file)
    return console


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


class LineTable:
    """A table of one-line cells laid out as :class:`rich.table.Table` lays out ``Table(box=None,
    show_header=True, pad_edge=False, padding=(0, 1, 0, 0), expand=True)``, drawn straight to
    segments.

    rich's table measures and renders every cell through its general machinery (wrapping,
    padding and cropping renderables): for the dashboard's timeline of up to 30 rows, redrawn
    at each new result, that was most of a result's redraw (``python -m
    benchmarks.dashboard_redraw``; docs/performance.md, round 7). Here a cell is a ``str``, a
    :class:`rich.text.Text` or, in a flexible last column, a :class:`Bar`, each one line, so
    the widths are the cells' lengths and each line is its cells' segments side by side.
    Where that holds and the table fits (each column at its widest cell), the lines carry
    the same characters in the same styles as rich's table; otherwise (a table wider than
    the space, or a cell of another kind) rich's table draws it. ``tests/test_dashboard.py``
    compares the two.

    Parameters
    ----------
    columns : sequence of (str, str, str)
        Per column: header, justification (``"left"`` or ``"right"``) and style (a rich style
        string, ``""`` for none) of its cells.
    rows : sequence of sequence
        The cells of each row, one per column.
    header_style : str, default ""
        Style of the header cells (the column's style is not applied to them, as in rich).
    flexible_last : bool, default False
        The last column takes the width the others leave (rich's ``ratio=1``), at least
        ``min_width`` cells.
    min_width : int, default 1
        Narrowest width (cells) of a flexible last column.

    Raises
    ------
    ValueError
        A row with another number of cells than columns.
    """

    __slots__ = ("columns", "rows", "header_style", "flexible_last", "min_width")

    def __init__(self, columns: list[tuple[str, str, str]], rows: list[list[Any]], *, header_style: str = "",
                 flexible_last: bool = False, min_width: int = 1) -> None:
        self.columns = list(columns)
        self.rows = [list(r) for r in rows]
        if any(len(r) != len(self.columns) for r in self.rows):
            raise ValueError(f"every row needs {len(self.columns)} cells")
        self.header_style = header_style
        self.flexible_last = bool(flexible_last)
        self.min_width = int(min_width)

    def rich_table(self) -> Any:
        """The same table as a :class:`rich.table.Table` (what draws it where the quick
        layout does not hold)."""
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style=self.header_style or None, pad_edge=False,
                      padding=(0, 1, 0, 0), expand=True)
        last = len(self.columns) - 1
        for i, (header, justify, style) in enumerate(self.columns):
            if self.flexible_last and i == last:
                table.add_column(header, ratio=1, no_wrap=True, min_width=self.min_width, style=style or None)
            else:
                table.add_column(header, justify=justify, no_wrap=True, style=style or None, overflow="ellipsis")
        for row in self.rows:
            table.add_row(*row)
        return table

    def _widths(self, max_width: int) -> list[int] | None:
        """Each column's width with its padding, as rich's table computes it, or None where
        the quick layout does not hold."""
        n = len(self.columns)
        fixed = n - 1 if self.flexible_last else n
        widths = []
        for i in range(fixed):
            w = cell_len(self.columns[i][0])
            for row in self.rows:
                cell = row[i]
                if isinstance(cell, str) and "\n" not in cell:
                    w = max(w, cell_len(cell))
                elif isinstance(cell, Text) and "\n" not in cell.plain:
                    w = max(w, cell.cell_len)
                else:
                    return None
            widths.append(max(w, 1) + (0 if i == n - 1 else 1))
        if self.flexible_last:
            if any(not isinstance(row[-1], Bar) for row in self.rows):
                return None
            flex = max_width - sum(widths)
            if flex < max(self.min_width, 1):
                return None
            return widths + [flex]
        total = sum(widths)
        if total > max_width:
            return None
        if total < max_width:
            try:
                from rich._ratio import ratio_distribute
            except ImportError:  # a rich without it: its table draws
                return None
            widths = [w + pad for w, pad in zip(widths, ratio_distribute(max_width - total, widths))]
        return widths

    def _cell(self, cell: Any, width: int, pad: int, justify: str, style: Style,
              console: Console, options: ConsoleOptions) -> list[Segment]:
        """One cell's segments, ``width`` cells wide (padding included), every segment on
        ``style`` as rich's table puts a cell on its column's style."""
        if isinstance(cell, Bar):
            return [Segment(s.text, style + s.style) for s in cell.__rich_console__(console, options.update(width=width))
                    if s.text != "\n"]
        text = cell if isinstance(cell, Text) else Text(cell)
        space = width - pad - text.cell_len
        base = style + console.get_style(text.style) if text.style else style  # Text.render leaves it out
        segs = [Segment(s.text, base + s.style if s.style else base) for s in text.render(console) if s.text]
        fill = Segment(" " * space, style) if space > 0 else None
        out = ([fill] if fill and justify == "right" else []) + segs + ([fill] if fill and justify != "right" else [])
        if pad:
            out.append(Segment(" " * pad, style))
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        widths = self._widths(options.max_width)
        if widths is None:
            yield self.rich_table()
            return
        n = len(self.columns)
        head = console.get_style(self.header_style) if self.header_style else Style.null()
        styles = [console.get_style(style) if style else Style.null() for _, _, style in self.columns]
        pads = [0 if i == n - 1 else 1 for i in range(n)]
        justify = [j for _, j, _ in self.columns]
        lines = [([c[0] for c in self.columns], [head] * n)] + [(row, styles) for row in self.rows]
        for cells, cell_styles in lines:  # the header, then the rows
            for i in range(n):
                yield from self._cell(cells[i], widths[i], pads[i], justify[i], cell_styles[i], console, options)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(min(1, options.max_width), options.max_width)
