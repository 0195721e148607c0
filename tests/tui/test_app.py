"""The replay app, headless through Textual's pilot at 80×24: keys in, screen text out."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from policy_agent.tui import ReplayApp, ReplayRun, _app, render_step
from policy_agent.tui._app import BATCH_LINES, EpisodesScreen
from policy_agent.tui._conversation import ConversationScreen, StepView
from policy_agent.tui._help import HelpScreen
from tests.tui._runs import all_episodes, failed, successful, traced, write_run
from tests.tui._screen import screen_text, shows, until

SIZE = (80, 24)


@asynccontextmanager
async def replay(run: Path, **options: object) -> AsyncIterator[tuple[ReplayApp, Pilot[None]]]:
    """The app on `run`, its episodes read, at 80×24."""
    app = ReplayApp(ReplayRun(run), **options)  # type: ignore[arg-type]
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        yield app, pilot


def rows(app: ReplayApp) -> list[str]:
    table = app.screen.query_one(DataTable)
    return [str(table.get_row_at(index)[0]) for index in range(table.row_count)]


def conversation(app: ReplayApp) -> ConversationScreen:
    assert isinstance(app.screen, ConversationScreen)
    return app.screen


def showing(app: ReplayApp) -> str | None:
    """The id of the episode the conversation screen shows (None on another screen)."""
    return app.screen.entry.id if isinstance(app.screen, ConversationScreen) else None


async def test_the_list_shows_each_episodes_outcome(fixture_run: Path) -> None:
    async with replay(fixture_run) as (_, pilot):
        text = await shows(
            pilot, "20250603-090000-hotel-abc123 · 4/4 episodes · 3 failed · 4 shown"
        )
        assert "card_triplet_cribs#0       ✓ 1.00  user_stop   15" in text
        assert "card_triplet_cribs#1       ✗ 0.00  user_stop   11     1" in text
        assert "twins_upgrade_for_cribs#0  ✗ —     max_steps   7" in text


async def test_f_keeps_the_failed_episodes_and_slash_filters(fixture_run: Path) -> None:
    async with replay(fixture_run) as (app, pilot):
        failed = ["card_triplet_cribs#1", "twins_upgrade_for_cribs#0", "crib_limit_partial#0"]
        await pilot.press("f")
        await until(lambda: rows(app) == failed, pilot)
        assert app.screen.query_one(Input).value == "is:failed"
        await pilot.press("f")
        await until(lambda: len(rows(app)) == 4, pilot)
        await pilot.press("slash", *"reason:m")
        await until(lambda: rows(app) == ["twins_upgrade_for_cribs#0"], pilot)
        field = app.screen.query_one(Input)
        field.value = "reason:max task:x"
        await until(lambda: rows(app) == [], pilot)
        await shows(pilot, "0 shown")
        # The suggestion completes the term being typed; → takes it.
        await pilot.press("end", "ctrl+u", *"code:m", "right")
        await until(lambda: field.value == "code:multiple_tool_calls", pilot)
        await pilot.press("enter")
        await until(lambda: rows(app) == ["card_triplet_cribs#1"], pilot)
        assert isinstance(app.focused, DataTable)  # Enter went back to the list
        await pilot.press("enter")
        await until(lambda: isinstance(app.screen, ConversationScreen), pilot)
        assert conversation(app).entry.id == "card_triplet_cribs#1"


async def test_search_finds_words_in_the_conversations(fixture_run: Path) -> None:
    async with replay(fixture_run, filter_text='"never mind"') as (app, pilot):
        assert rows(app) == ["card_triplet_cribs#1"]
        await pilot.press("enter", "end")
        text = await shows(pilot, "I asked for three. Never mind. ###STOP###")
        screen = conversation(app)
        assert screen.highlight == ("never mind",)
        last = screen.steps[-1]
        console = Console(file=io.StringIO(), record=True, width=80, color_system="standard")
        console.print(
            render_step(
                last, started_at=screen.episode.started_at, options=screen.options[last.index]
            )
        )
        assert "\x1b[7mNever mind\x1b[0m" in console.export_text(styles=True)  # reversed
        assert "I asked for three. Never mind. ###STOP###" in text


def line(app: ReplayApp, number: int) -> str:
    """Line `number` of the screen (0 is the top, -1 the bottom)."""
    return screen_text(app).splitlines()[number]


def status(app: ReplayApp) -> str:
    """The conversation's first line: the episode, the step number, a search notice."""
    return line(app, 0).strip()


async def test_m_and_shift_m_go_to_the_steps_with_a_search_word(fixture_run: Path) -> None:
    async with replay(fixture_run, filter_text="b11246", episode="2") as (app, pilot):
        screen = conversation(app)
        assert screen.matches == (0, 5, 6, 7, 8)
        await until(lambda: status(app).endswith("step 1/11"), pilot)
        await pilot.press("m")
        await until(lambda: status(app).endswith("step 6/11  match 2 of 5"), pilot)
        assert screen.current == 5
        # In view and current; the raw completion it is in is unfolded.
        await until(lambda: line(app, 1).startswith("█ 6  agent → get_booking_details"), pilot)
        await shows(pilot, "<function=search_available_rooms>")
        await pilot.press("m", "m", "m")
        await until(lambda: status(app).endswith("step 9/11  match 5 of 5"), pilot)
        assert screen.current == 8
        await pilot.press("m")
        await until(lambda: status(app).endswith("step 1/11  match 1 of 5 (wrapped)"), pilot)
        assert screen.current == 0
        await pilot.press("M")
        await until(lambda: status(app).endswith("step 9/11  match 5 of 5 (wrapped)"), pilot)
        assert screen.current == 8
        await pilot.press("M", "M")
        await until(lambda: status(app).endswith("step 7/11  match 3 of 5"), pilot)
        assert screen.current == 6
        await until(lambda: "m Match" in line(app, -1), pilot)  # the key bar
        await pilot.press("left")  # another step: the notice is gone
        await until(lambda: status(app).endswith("step 6/11"), pilot)


async def test_m_scrolls_on_to_a_match_below_the_screen(fixture_run: Path) -> None:
    app = ReplayApp(ReplayRun(fixture_run), filter_text="amount_paid", episode="2")
    async with app.run_test(size=(80, 12)) as pilot:  # ten rows of steps
        await app.workers.wait_for_complete()
        await pilot.press("m")
        await until(lambda: line(app, 0).endswith("step 7/11  match 1 of 2 "), pilot)
        # Line 14 of the result, past its fold (which m opened): a third of the way down.
        await until(lambda: line(app, 4).startswith('█      "amount_paid": 747'), pilot)
        await pilot.press("left", "right")  # stepping still brings the step to the top
        await until(lambda: line(app, 1).startswith("█ 7  get_booking_details returned"), pilot)


async def test_m_says_when_nothing_matches(fixture_run: Path) -> None:
    # The episode is kept for its termination reason, which no step shows.
    async with replay(fixture_run, filter_text="user_stop", episode="2") as (app, pilot):
        screen = conversation(app)
        await pilot.press("right", "m")
        await until(lambda: status(app).endswith("step 2/11  no matches"), pilot)
        assert screen.current == 1
        await pilot.press("M")
        await until(lambda: status(app).endswith("step 2/11  no matches"), pilot)
        assert screen.current == 1
    async with replay(fixture_run, episode="2") as (app, pilot):
        await pilot.press("m")
        # The episode's title gives way, the position and the notice stay whole.
        expected = "card_triplet_cribs#1  ✗ 0.00  use…  step 1/11  no search words (/ in the list)"
        await until(lambda: status(app) == expected, pilot)


async def test_stepping_through_a_conversation(fixture_run: Path) -> None:
    async with replay(fixture_run) as (app, pilot):
        await pilot.press("down", "enter")
        await shows(pilot, "card_triplet_cribs#1  ✗ 0.00  user_stop  11 turns  20.0 s  step 1/11")
        screen = conversation(app)
        await pilot.press("right", "right", "n")
        await until(lambda: screen.current == 3, pilot)
        await pilot.press("left", "p")
        await until(lambda: screen.current == 1, pilot)
        await pilot.press("end")
        await shows(pilot, "step 11/11")
        assert screen.current == 10
        await pilot.press("right")
        await shows(pilot, "step 11/11")
        assert screen.current == 10  # stays on the last step
        await pilot.press("home", "left")
        await shows(pilot, "step 1/11")
        assert screen.current == 0

        def current() -> list[int]:
            return [
                view.step.index for view in screen.query(StepView) if view.has_class("-current")
            ]

        await until(lambda: current() == [0], pilot)


async def test_a_violation_is_marked_and_its_raw_completion_shown_on_demand(
    fixture_run: Path,
) -> None:
    async with replay(fixture_run, episode="card_triplet_cribs#1") as (app, pilot):
        screen = conversation(app)
        await pilot.press(*["right"] * 5)
        raw = "<function=search_available_rooms>"
        await shows(
            pilot,
            "6  agent → get_booking_details",
            "VIOLATION  multiple_tool_calls · attempt 1 ·",
            "▸ raw completion (v)",
            absent=(raw,),
        )
        [marked] = [view for view in screen.query(StepView) if view.has_class("-violation")]
        assert marked.step.index == 5
        await pilot.press("v")
        await shows(pilot, "▾ raw completion", raw)
        await pilot.press("v")
        await shows(pilot, "▸ raw completion (v)", absent=(raw,))


async def test_reasoning_and_long_results_unfold_per_step(fixture_run: Path) -> None:
    async with replay(fixture_run, episode="2") as (_, pilot):
        await pilot.press(*["right"] * 6, "s")  # the booking, 15 lines of JSON; no side panel
        paid, thought = '"amount_paid": 747', "Now the booking, one call at a time."
        await shows(pilot, "7  get_booking_details returned", "… 2 more lines (t)", absent=(paid,))
        await pilot.press("t")
        await shows(pilot, paid)
        await pilot.press("left")
        await shows(pilot, "step 6/11", absent=(thought,))
        await pilot.press("r")
        await shows(pilot, thought)
        # Another step stays folded.
        await pilot.press("home")
        await shows(pilot, "▸ reasoning, 1 line (r)")
        await pilot.press("a")
        await shows(pilot, "The guest must be identified first.")


async def test_the_side_panel_has_the_reward_and_the_actions(fixture_run: Path) -> None:
    app = ReplayApp(ReplayRun(fixture_run), episode="card_triplet_cribs#1")
    async with app.run_test(size=(160, 50)) as pilot:
        await app.workers.wait_for_complete()
        await shows(
            pilot,
            "Reward ✗ 0.00 = DB × ENV_ASSERTION × COMMUNICATE",
            "✗ 0.00 ACTION (not in the basis)",
            "bookings[B11246].cribs",
            "The three cribs are on the booking.",
            "The agent offers a quiet room free of charge.",
            '✗ request_cribs(booking_id="B11246", count=3)',
            'actual: request_cribs(booking_id="B11246",',
        )
        await pilot.press("s")
        await shows(pilot, absent=("Reward ✗ 0.00",))
        await pilot.press("s")
        await shows(pilot, "Reward ✗ 0.00")


async def test_help_back_and_the_next_episode(fixture_run: Path) -> None:
    async with replay(fixture_run) as (app, pilot):
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), pilot)
        await shows(
            pilot,
            "open the episode",
            "next and previous step",
            "next and previous step with a search word",
        )
        await pilot.press("escape")
        await until(lambda: isinstance(app.screen, EpisodesScreen), pilot)
        await pilot.press("down", "enter", "right_square_bracket")
        await until(lambda: showing(app) == "twins_upgrade_for_cribs#0", pilot)
        await pilot.press("left_square_bracket", "left_square_bracket")
        await until(lambda: showing(app) == "card_triplet_cribs#0", pilot)
        await pilot.press("left_square_bracket")  # the first one: stays
        await shows(pilot, "card_triplet_cribs#0", "step 1/")
        assert showing(app) == "card_triplet_cribs#0"
        await pilot.press("question_mark")
        await until(lambda: isinstance(app.screen, HelpScreen), pilot)
        await pilot.press("question_mark", "q")
        await until(lambda: isinstance(app.screen, EpisodesScreen), pilot)
        assert app.screen.query_one(DataTable).cursor_row == 0  # where the last one was


async def test_the_mouse_opens_episodes_and_chooses_steps(fixture_run: Path) -> None:
    async with replay(fixture_run) as (app, pilot):
        # Row 2 of the table (the header is row 0): a click highlights, a second one opens.
        table = app.screen.query_one(DataTable)
        await pilot.click(table, offset=(3, 2))
        await pilot.click(table, offset=(3, 2))
        await until(lambda: showing(app) == "card_triplet_cribs#1", pilot)
        screen = conversation(app)
        await shows(pilot, "step 1/11")  # laid out
        views = list(screen.query(StepView))
        await pilot.click(views[2], offset=(10, 0))
        await until(lambda: screen.current == 2, pilot)
        await pilot.click(views[0], offset=(10, 0))
        await until(lambda: screen.current == 0, pilot)


async def test_follow_adds_episodes_as_they_are_appended(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    async with replay(run, follow=True, poll_seconds=0.05) as (app, pilot):
        assert rows(app) == ["card_triplet_cribs#0"]
        line = failed().model_dump_json().encode() + b"\n"
        with (run / "episodes.jsonl").open("ab") as file:
            file.write(line[:50])  # half a line: not shown yet
            file.flush()
            # A few polls of the file (every 50 ms) see the half line and show nothing.
            await pilot.pause(0.2)
            assert rows(app) == ["card_triplet_cribs#0"]
            file.write(line[50:])
        await until(lambda: len(rows(app)) == 2, pilot)
        assert rows(app)[1] == "card_triplet_cribs#1"
        # The title line is refreshed on its own tick: under load it may lag the rows.
        await until(
            lambda: "2/4 episodes · 1 failed · 2 shown · finished" in screen_text(app), pilot
        )


async def test_a_followed_run_that_disappears_is_told_and_kept(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    async with replay(run, follow=True, poll_seconds=0.05) as (app, pilot):
        (run / "episodes.jsonl").unlink()
        await until(lambda: not app.follow and len(app._notifications) > 0, pilot)
        [message] = [notification.message for notification in app._notifications]
        assert message.startswith("Stopped following the run: [Errno 2] No such file")
        assert rows(app) == ["card_triplet_cribs#0"]


async def test_an_unknown_episode_or_a_bad_line_is_told_not_fatal(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b"{oops\n")
    async with replay(run, episode="nothing#3") as (app, pilot):
        await shows(pilot, "1 bad lines")
        messages = [notification.message for notification in app._notifications]
        assert any(":2: corrupt line" in message for message in messages)
        assert any("no episode 'nothing#3'" in message for message in messages)
        assert isinstance(app.screen, EpisodesScreen)


async def test_a_large_run_is_read_in_batches(tmp_path: Path) -> None:
    # Trials numbered through, so that every episode has an id of its own.
    copies = [episode for _ in range(BATCH_LINES // 2) for episode in all_episodes()]
    many = [episode.model_copy(update={"trial": trial}) for trial, episode in enumerate(copies)]
    run = write_run(tmp_path, many)
    async with replay(run) as (app, pilot):
        assert len(rows(app)) == len(many) > BATCH_LINES
        await pilot.press("f")
        await until(lambda: len(rows(app)) == len(many) * 3 // 4, pilot)
        await pilot.press("end", "enter")
        await until(lambda: showing(app) == f"crib_limit_partial#{len(many) - 1}", pilot)
        await pilot.press("escape", "home", "enter")
        await until(lambda: showing(app) == "card_triplet_cribs#1", pilot)


async def test_a_large_run_is_filtered_once_typing_pauses(
    fixture_run: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_app, "QUICK_FILTER_ENTRIES", 3)  # the fixture's 4 are "many"
    async with replay(fixture_run) as (app, pilot):
        await pilot.press("slash", *"reason:max")
        assert len(rows(app)) == 4  # typing: not filtered yet
        await until(lambda: rows(app) == ["twins_upgrade_for_cribs#0"], pilot)


async def test_the_demo_run_replays(demo_run: Path) -> None:
    async with replay(demo_run) as (app, pilot):
        assert len(rows(app)) == 24
        await shows(pilot, "24/24 episodes · 0 failed · 24 shown")
        # The list is in the order the episodes ended, which the machine's scheduling decides.
        down = [row.split()[0] for row in rows(app)].index("card_triplet_cribs#0")
        await pilot.press(*["down"] * down, "enter", "end")
        await until(lambda: showing(app) == "card_triplet_cribs#0", pilot)
        screen = conversation(app)
        await shows(pilot, f"step {len(screen.steps)}/{len(screen.steps)}", "###STOP###")
        assert screen.current == len(screen.steps) - 1
        # The oracle asks twice for a yes before request_cribs (the pack's confirmation rule).
        await pilot.press("home", *["right"] * 11)
        await shows(pilot, "database bookings[B11246] update", "cribs: 0 → 3")


async def test_reading_does_not_block_the_screen(tmp_path: Path) -> None:
    # The loader yields between batches: a key pressed while it reads is handled.
    many = [successful().model_copy(update={"trial": trial}) for trial in range(BATCH_LINES * 3)]
    app = ReplayApp(ReplayRun(write_run(tmp_path, many)))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await app.workers.wait_for_complete()
        await until(lambda: isinstance(app.screen, HelpScreen), pilot)


async def test_an_episode_asked_for_is_opened_through_the_index(tmp_path: Path) -> None:
    run = write_run(tmp_path, all_episodes())
    async with replay(run, episode="card_triplet_cribs#1") as (app, pilot):
        assert showing(app) == "card_triplet_cribs#1"
        assert (run / "episodes.index").is_file()
        # The entry read from its line alone is the list's: the next episode is a key away.
        assert conversation(app).entry in app.episodes.shown
        await pilot.press("right_square_bracket")
        await until(lambda: showing(app) == "twins_upgrade_for_cribs#0", pilot)


async def test_an_episode_asked_for_in_a_run_the_index_cannot_answer_opens_after_the_list(
    tmp_path: Path,
) -> None:
    run = write_run(tmp_path, all_episodes())
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b"{oops\n")  # a line that is no episode: no index, the list reads the run
    async with replay(run, episode="4") as (app, _):
        assert showing(app) == "crib_limit_partial#0"
        assert not (run / "episodes.index").exists()
        assert conversation(app).entry in app.episodes.shown


async def test_an_episode_opens_without_its_token_traces(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful(), traced(failed())])
    (run / "tokens.jsonl").unlink()  # the replay shows no token: it never reads them
    async with replay(run, episode="card_triplet_cribs#1") as (app, pilot):
        assert showing(app) == "card_triplet_cribs#1"
        await shows(pilot, "card_triplet_cribs#1  ✗ 0.00  user_stop  11 turns")
