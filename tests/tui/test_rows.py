"""`RowTable` prints what rich prints for a `Table(box=None)` of the same rows, byte for byte:
plain and in colour, rows that fit and rows rich wraps or cuts, at any width; and so do its
parts, printed one after another with the widths a `RowLayout` of every row gives."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table
from rich.text import Text

from policy_agent.tui import RowColumn, RowLayout, RowTable, outcome_text

COLUMNS = [
    RowColumn(header="line", justify="right", no_wrap=True),
    RowColumn(header="episode", no_wrap=True),
    RowColumn(header="reward", no_wrap=True),
    RowColumn(header="turns", justify="right", no_wrap=True),
    RowColumn(header="violations"),
]


def _printed(renderable: object, *, width: int, colour: bool) -> str:
    console = _console(width=width, colour=colour)
    console.print(renderable)
    output = console.file
    assert isinstance(output, io.StringIO)
    return output.getvalue()


def _console(*, width: int, colour: bool) -> Console:
    return Console(
        file=io.StringIO(),
        width=width,
        highlight=False,
        emoji=False,
        force_terminal=colour,
        color_system="truecolor" if colour else None,
    )


def _table(rows: list[tuple[Text | str, ...]]) -> Table:
    table = Table(box=None, padding=(0, 2, 0, 0), show_edge=False)
    for column in COLUMNS:
        table.add_column(column.header, justify=column.justify, no_wrap=column.no_wrap)
    for row in rows:
        table.add_row(*row)
    return table


_WORDS = st.text(alphabet="abz_#-✓—漢 ", max_size=30)
_ROWS = st.lists(
    st.tuples(
        st.integers(min_value=1, max_value=10**6).map(str),  # a str cell is unstyled text
        _WORDS.map(Text),
        st.tuples(st.sampled_from([True, False, None]), st.none() | st.floats(0, 1)).map(
            lambda outcome: outcome_text(*outcome)
        ),
        st.integers(min_value=0, max_value=999).map(str),
        st.lists(st.sampled_from(["multiple_tool_calls", "truncated", "x"]), max_size=4).map(
            lambda codes: Text(", ".join(codes))
        ),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(rows=_ROWS, width=st.integers(min_value=40, max_value=140), colour=st.booleans())
def test_the_rows_print_as_a_rich_table_of_them(
    rows: list[tuple[Text | str, ...]], width: int, colour: bool
) -> None:
    expected = _printed(_table(rows), width=width, colour=colour)
    assert _printed(RowTable(COLUMNS, rows), width=width, colour=colour) == expected


def test_a_long_cell_is_wrapped_as_rich_wraps_it() -> None:
    codes = Text(", ".join(["multiple_tool_calls"] * 5))
    rows: list[tuple[Text | str, ...]] = [
        ("1", Text("card_triplet_cribs#0"), outcome_text(True, 1.0), "7", codes)
    ]
    printed = _printed(RowTable(COLUMNS, rows), width=60, colour=False)
    assert printed == _printed(_table(rows), width=60, colour=False)
    assert len(printed.splitlines()) > 2  # the violations took several lines


@settings(max_examples=150, deadline=None)
@given(
    rows=_ROWS,
    width=st.integers(min_value=40, max_value=140),
    colour=st.booleans(),
    part=st.integers(min_value=1, max_value=5),
)
def test_rows_printed_in_parts_as_they_come_print_as_the_whole_table(
    rows: list[tuple[Text | str, ...]], width: int, colour: bool, part: int
) -> None:
    console = _console(width=width, colour=colour)
    layout = RowLayout(COLUMNS)
    for row in rows:
        layout.add(row)
    widths = layout.widths(console, console.options)
    console.print(RowTable(COLUMNS, iter([]), widths=widths))
    for start in range(0, len(rows), part):
        parts = iter(rows[start : start + part])  # read once, as printed
        console.print(RowTable(COLUMNS, parts, widths=widths, header=False))
    printed = console.file
    assert isinstance(printed, io.StringIO)
    assert printed.getvalue() == _printed(_table(rows), width=width, colour=colour)
