"""What a running Textual app shows, as plain text (for assertions and screen golden files), and
waiting until it shows what a test expects."""

from __future__ import annotations

import io
import time
from collections.abc import Callable

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot

from tests._waiting import DEADLINE_S, POLL_S


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


async def until(condition: Callable[[], bool], pilot: Pilot[None]) -> None:
    """Wait for `condition` (a key's effect on the screen), letting the app run.

    After a key or a click the app handles messages and redraws on later ticks; on a busy
    machine those can lag the pilot's own idle wait. So a test waits for what it expects to see,
    and fails only after the suite's deadline (`tests._waiting.DEADLINE_S`), showing the screen.
    """
    give_up = time.monotonic() + DEADLINE_S
    while not condition():
        if time.monotonic() > give_up:
            screen = screen_text(pilot.app)
            raise AssertionError(f"not within {DEADLINE_S:.0f} s; the screen:\n{screen}")
        await pilot.pause(POLL_S)


async def shows(pilot: Pilot[None], *texts: str, absent: tuple[str, ...] = ()) -> str:
    """The screen's text once it shows every one of `texts` and none of `absent` (see `until`)."""

    def showing() -> bool:
        text = screen_text(pilot.app)
        return all(t in text for t in texts) and not any(t in text for t in absent)

    await until(showing, pilot)
    return screen_text(pilot.app)
