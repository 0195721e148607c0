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

from collections.abc import Sequence
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


class RowTable:
    """`Table(box=None, padding=(0, PADDING, 0, 0), show_edge=False)` of `rows`, printed fast."""

    def __init__(self, columns: Sequence[RowColumn], rows: Sequence[Sequence[Text | str]]) -> None:
        """The table of `rows` (one cell per column each) under `columns`. A `str` cell is
        text without style (not markup, unlike in a rich `Table`): 10,000 rows of `Text`
        cells would hold 60,000 of them."""
        self.columns = tuple(columns)
        self.rows = rows

    def _table(
        self, rows: Sequence[Sequence[Text | str]], widths: Sequence[int] | None, *, header: bool
    ) -> Table:
        """A rich table of `rows`; of fixed column widths when given, else laid out by rich."""
        table = Table(box=None, padding=(0, PADDING, 0, 0), show_edge=False, show_header=header)
        for index, column in enumerate(self.columns):
            table.add_column(
                column.header,
                justify=column.justify,
                no_wrap=column.no_wrap,
                width=None if widths is None else widths[index] - PADDING,
            )
        for row in rows:
            table.add_row(*(Text(cell) if isinstance(cell, str) else cell for cell in row))
        return table

    def _widths(
        self, console: Console, options: ConsoleOptions, plains: Sequence[Sequence[str]]
    ) -> list[int]:
        """The columns' widths (padding included) that rich gives the whole table."""
        # A column's width is rich's measure of its widest cell and of its widest word: a
        # table of the cells that hold those lays out as the whole table does.
        chosen: set[int] = set()
        for index in range(len(self.columns)):
            cells = [texts[index] for texts in plains]
            if cells:
                lines = [_longest_line(cell) for cell in cells]
                words = [_longest_word(cell, line) for cell, line in zip(cells, lines, strict=True)]
                chosen.add(lines.index(max(lines)))
                chosen.add(words.index(max(words)))
        probe = self._table([self.rows[at] for at in sorted(chosen)], None, header=True)
        # rich's own layout (a private method, so `tests/tui/test_rows.py` holds the output to
        # a whole Table's): what its `__rich_console__` computes for a table without edges.
        return probe._calculate_column_widths(console, options)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        """The header as rich lays it out, then each row."""
        if not hasattr(Table, "_calculate_column_widths"):
            # A rich release without the private layout method: the whole table, slower.
            yield self._table(self.rows, None, header=True)
            return
        plains = [[_plain(cell) for cell in row] for row in self.rows]
        widths = self._widths(console, options, plains)
        yield self._table([], widths, header=True)
        for row, texts in zip(self.rows, plains, strict=True):
            rooms = [
                width - PADDING - cell_len(text) for text, width in zip(texts, widths, strict=True)
            ]
            if not all(map(_fits, texts, rooms, self.columns)):
                yield self._table([row], widths, header=False)
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
