"""What a running Textual app shows, as plain text (for assertions and screen golden files)."""

from __future__ import annotations

import io

from rich.console import Console
from textual.app import App


def screen_text(app: App[object]) -> str:
    """The current screen's characters, one line per terminal row, without styles.

    Drawn as `App.export_screenshot` draws its SVG (the same compositor update), but exported
    as text: a golden file that reads like the terminal and does not change with colours.
    """
    width, height = app.size
    console = Console(
        file=io.StringIO(),
        width=width,
        height=height,
        record=True,
        color_system=None,
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text(styles=False)
