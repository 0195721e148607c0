"""Snapshots of the replay at 80×24: the screen's text against golden files.

Text rather than Textual's SVG: a golden that reads like the terminal in a diff, and that
changes when what is on screen changes, not when a colour does (the colours of `show` have
their own golden). `UPDATE_GOLDEN=1` rewrites them after a deliberate change.
"""

from __future__ import annotations

from pathlib import Path

from policy_agent.tui import ReplayApp, ReplayRun
from tests.tui._golden import assert_golden
from tests.tui._screen import screen_text, shows


async def test_the_episode_list(fixture_run: Path) -> None:
    app = ReplayApp(ReplayRun(fixture_run), filter_text="is:failed")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await shows(pilot, "3 shown", "q Quit")  # the title and the key bar drawn: compare
        assert_golden("replay_list_80x24.txt", screen_text(app))


async def test_a_violation_with_its_raw_completion(fixture_run: Path) -> None:
    app = ReplayApp(ReplayRun(fixture_run), episode="card_triplet_cribs#1")
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.press(*["right"] * 5, "v")
        await shows(pilot, "▾ raw completion", "? Help")  # the fold and the key bar: compare
        assert_golden("replay_violation_80x24.txt", screen_text(app))
        svg = app.export_screenshot()
        assert svg.startswith("<svg") and "VIOLATION" in svg
