"""The keyboard help (`?`): every key of both screens and the filter's syntax."""

from __future__ import annotations

from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

_EPISODES = [
    ("↑ ↓ PgUp PgDn", "move in the list"),
    ("Home End", "first and last episode"),
    ("Enter, click", "open the episode"),
    ("/", "type a filter (Esc back to the list)"),
    ("f", "failed episodes only, or all again"),
    ("?", "this help"),
    ("q", "quit"),
]
_CONVERSATION = [
    ("→ n  ← p", "next and previous step"),
    ("Home End", "first and last step"),
    ("m M", "next and previous step with a search word (wraps)"),
    ("b B", "next and previous step where a policy rule broke (wraps)"),
    ("↑ ↓ PgUp PgDn", "scroll"),
    ("click", "make a step the current one"),
    ("r", "show or fold the current step's reasoning"),
    ("t", "the whole tool result, or fold it"),
    ("v", "raw completions and tracebacks"),
    ("a", "unfold all steps, or fold them"),
    ("] [", "next and previous episode of the list"),
    ("s", "hide or show the side panel"),
    ("q Esc", "back to the list"),
]
_FILTER = [
    ("is:failed", "scored below 1 or ended abnormally (is:passed)"),
    ("task:crib", "task ids containing crib"),
    ("reason:max", "termination reason starting with max"),
    ("code:multiple", "a violation whose code contains multiple"),
    ("rule:yes", "broke a policy rule whose name contains yes"),
    ('"quiet room"', "other words and phrases: searched in the conversation"),
]


def help_text() -> Group:
    """The help as rich renderables: three sections of key and meaning."""
    sections: list[Table | Text] = []
    for title, rows in (
        ("Episode list", _EPISODES),
        ("Conversation", _CONVERSATION),
        ("Filter: all terms must hold; terms of one key are alternatives", _FILTER),
    ):
        sections.append(Text(title, style="bold"))
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, meaning in rows:
            table.add_row(key, meaning)
        sections.append(table)
        sections.append(Text())
    sections.append(Text("? or Esc closes this help.", style="dim"))
    return Group(*sections)


class HelpScreen(ModalScreen[None]):
    """The keys and the filter syntax, over the current screen."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; max-width: 84; height: 90%;
        border: round $accent; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "dismiss", "Close", priority=True),
    ]

    def compose(self) -> ComposeResult:
        """One scrolling text."""
        with VerticalScroll():
            yield Static(help_text())
