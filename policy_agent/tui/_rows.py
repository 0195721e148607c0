"""A table of many one-line rows, printed as rich prints a `Table(box=None)` of them, without
rich measuring and rendering every cell.

`show RUN` lists every episode of a run. A rich `Table` of 10,000 rows measured each of its
60,000 cells to lay the columns out, then rendered each through its own wrapping and padding:
6 s of the 8 s the list took. The columns' widths depend only on each column's widest cell and
its widest word (rich's `Measurement` of a text), so rich lays out a table of those few cells
alone, and the rows whose cells fit their column on one line, nearly all of them, are printed as
that layout prints them: each cell justified in its column, then its padding. A row with a cell
that does not fit (rich would wrap it, or cut it with an ellipsis) is rendered by rich, as a
table of that row with the columns' widths fixed. The same bytes as the whole `Table`, held to it
by `tests/tui/test_rows.py`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.segment import Segment
from rich.table import Table
from rich.text import Text

PADDING = 2
"""Spaces after every cell, the last one's included (rich's right padding, `pad_edge` on)."""


@dataclass(frozen=True, kw_only=True)
class RowColumn:
    """One column: its header, how its cells are justified, whether they may wrap."""

    header: str
    justify: Literal["left", "right"] = "left"
    no_wrap: bool = False


class RowLayout:
    """The columns' widths of a table whose rows are seen one at a time (`add`), holding only
    the few rows that decide them: for each column, the first row with its widest cell and the
    first with its widest word."""

    def __init__(self, columns: Sequence[RowColumn]) -> None:
        self.columns = tuple(columns)
        self._added = 0
        self._lines: list[tuple[int, int]] = [(-1, -1)] * len(self.columns)
        """Per column: (widest line, at which row)."""
        self._words: list[tuple[int, int]] = [(-1, -1)] * len(self.columns)
        """Per column: (widest word, at which row)."""
        self._kept: dict[int, Sequence[Text | str]] = {}

    def add(self, row: Sequence[Text | str]) -> None:
        """Take `row` (one cell per column) into account."""
        at = self._added
        self._added += 1
        for index, cell in enumerate(row):
            text = _plain(cell)
            line = _longest_line(text)
            word = _longest_word(text, line)
            if line > self._lines[index][0]:
                self._lines[index] = (line, at)
            if word > self._words[index][0]:
                self._words[index] = (word, at)
        chosen = {at for _, at in (*self._lines, *self._words)}
        if at in chosen:
            self._kept[at] = row
        # Rows no column chose any more are let go.
        for dropped in [kept for kept in self._kept if kept not in chosen]:
            del self._kept[dropped]

    def widths(self, console: Console, options: ConsoleOptions) -> list[int]:
        """The columns' widths (padding included) that rich gives a table of every row added."""
        # A column's width is rich's measure of its widest cell and of its widest word: a
        # table of the cells that hold those lays out as the whole table does.
        probe = _table(self.columns, [self._kept[at] for at in sorted(self._kept)], None)
        # rich's own layout (a private method, so `tests/tui/test_rows.py` holds the output to
        # a whole Table's): what its `__rich_console__` computes for a table without edges.
        return probe._calculate_column_widths(console, options)


class RowTable:
    """`Table(box=None, padding=(0, PADDING, 0, 0), show_edge=False)` of `rows`, printed fast."""

    def __init__(
        self,
        columns: Sequence[RowColumn],
        rows: Iterable[Sequence[Text | str]],
        *,
        widths: Sequence[int] | None = None,
        header: bool = True,
    ) -> None:
        """The table of `rows` (one cell per column each) under `columns`. A `str` cell is
        text without style (not markup, unlike in a rich `Table`): 10,000 rows of `Text`
        cells would hold 60,000 of them.

        Given the `widths` a `RowLayout` of every row worked out, the rows are read once, as
        they are printed, and may come from an iterator: a big table printed in parts of
        rows, each a `RowTable` of those `widths` (the first one alone with the `header`),
        is the bytes of the whole one."""
        self.columns = tuple(columns)
        self.rows = rows
        self.widths = None if widths is None else list(widths)
        self.header = header

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The header as rich lays it out, then each row."""
        widths = self.widths
        if widths is None:
            layout = RowLayout(self.columns)
            self.rows = list(self.rows)
            for row in self.rows:
                layout.add(row)
            widths = layout.widths(console, options)
        if self.header:
            yield _table(self.columns, [], widths)
        for row in self.rows:
            texts = [_plain(cell) for cell in row]
            rooms = [
                width - PADDING - cell_len(text) for text, width in zip(texts, widths, strict=True)
            ]
            if not all(map(_fits, texts, rooms, self.columns)):
                yield _table(self.columns, [row], widths, header=False)
                continue
            # Unstyled text is written as it is, so a row's unstyled cells go out as one segment.
            plain = ""
            for cell, text, room, column in zip(row, texts, rooms, self.columns, strict=True):
                right = column.justify == "right"
                if isinstance(cell, str) or (not cell.spans and not cell.style):
                    plain += (" " * room + text if right else text + " " * room) + " " * PADDING
                    continue
                # As rich renders a cell's text: justified within the text (so that its style
                # covers the spaces), its style a span of the line.
                padded = cell.copy()
                if right:
                    padded.pad_left(room)
                else:
                    padded.pad_right(room)
                yield Segment(plain)
                yield from Text("\n").join([padded]).render(console)
                plain = " " * PADDING
            yield Segment(plain + "\n")


def _table(
    columns: Sequence[RowColumn],
    rows: Sequence[Sequence[Text | str]],
    widths: Sequence[int] | None,
    *,
    header: bool = True,
) -> Table:
    """A rich table of `rows`; of fixed column widths when given, else laid out by rich."""
    table = Table(box=None, padding=(0, PADDING, 0, 0), show_edge=False, show_header=header)
    for index, column in enumerate(columns):
        table.add_column(
            column.header,
            justify=column.justify,
            no_wrap=column.no_wrap,
            width=None if widths is None else widths[index] - PADDING,
        )
    for row in rows:
        table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
    return table


def _plain(cell: Text | str) -> str:
    return cell if isinstance(cell, str) else cell.plain


def _fits(text: str, room: int, column: RowColumn) -> bool:
    """Whether rich would print a cell of `text` as it is, on one line, with `room` columns to
    spare: printable (rich splits lines and expands tabs), no trailing space that a right
    justification strips, and not too wide."""
    if room < 0 or not text.isprintable():
        return False
    return column.justify != "right" or text == text.rstrip()


def _longest_line(text: str) -> int:
    """rich's maximum measure of a text: its widest line."""
    if text.isprintable():  # no line break of any kind
        return cell_len(text)
    return max(map(cell_len, text.splitlines()), default=0)


def _longest_word(text: str, longest_line: int) -> int:
    """rich's minimum measure of a text: its widest word (its widest line when it has none)."""
    return max(map(cell_len, text.split()), default=longest_line)
