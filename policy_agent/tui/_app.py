"""`policy-agent replay`: the Textual app, its episode list, loading and following a run.

The list is a `DataTable` (it draws only the rows in view, so thousands are cheap) of the
`EpisodeEntry` summaries; episodes are read whole only when opened. The log is read in batches
between screen updates, so the list fills while the app already answers keys, and with
`follow` it is polled for lines a running simulation appends. An episode asked for with
`--episode` is opened first, from its line alone through the run's `episodes.index`
(`EpisodeLog.locate`), while the list is read behind it.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.suggester import Suggester
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, Static

from policy_agent.trajectory import RunStoreError
from policy_agent.tui._conversation import ConversationScreen
from policy_agent.tui._filter import EpisodeFilter, complete, completions, toggle_failed
from policy_agent.tui._help import HelpScreen
from policy_agent.tui._log import EpisodeEntry, EpisodeNotFound
from policy_agent.tui._run import ReplayRun
from policy_agent.tui._summary import outcome_text

BATCH_LINES = 200
"""Lines read between two screen updates while a run is loaded."""
QUICK_FILTER_ENTRIES = 1000
"""Up to this many episodes the list is filtered at each key; redrawing more takes long enough
(about 0.1 s a thousand rows) to hold typing up, so larger runs wait for a pause in it."""
TYPING_PAUSE_S = 0.25


class _TermSuggester(Suggester):
    """Completes the filter's last term: keys, task ids, reasons, violation codes."""

    def __init__(self, app: ReplayApp) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.replay = app

    async def get_suggestion(self, value: str) -> str | None:
        return complete(value, completions(self.replay.entries))


class EpisodeTable(DataTable[str | Text]):
    """The episode list: a row cursor, and Home and End go to the first and last episode."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("home", "scroll_top", "First", show=False),
        Binding("end", "scroll_bottom", "Last", show=False),
    ]


class EpisodesScreen(Screen[None]):
    """The run's episodes, filtered; Enter opens one."""

    DEFAULT_CSS = """
    EpisodesScreen #status { height: 1; background: $panel; padding: 0 1; }
    EpisodesScreen #filter { border: none; height: 1; padding: 0 1; }
    EpisodesScreen #episodes { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "Open"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("f", "failed", "Failed only"),
        Binding("escape", "list", "List", show=False),
    ]

    def __init__(self, filter_text: str) -> None:
        """The list, starting with the filter line `filter_text`."""
        super().__init__()
        self.filter_text = filter_text
        self.filter = EpisodeFilter.parse(filter_text)
        self.shown: list[EpisodeEntry] = []
        self._refilter: Timer | None = None

    @property
    def replay(self) -> ReplayApp:
        """The app, typed."""
        assert isinstance(self.app, ReplayApp)
        return self.app

    def compose(self) -> ComposeResult:
        """Status line, filter line, the list, key bar."""
        yield Static(id="status")
        yield Input(
            self.filter_text,
            placeholder="/ filter: is:failed task:… reason:… code:… or words",
            id="filter",
            suggester=_TermSuggester(self.replay),
        )
        table = EpisodeTable(id="episodes", cursor_type="row", zebra_stripes=True)
        table.add_columns("episode", "reward", "ended", "turns", "viol.")
        yield table
        yield Footer()

    def on_mount(self) -> None:
        """Start in the list (not in the filter line), and start reading the run."""
        self.table.focus()
        self.show_status()
        self.replay.run_worker(self.replay.load(), name="load", exclusive=True)

    @property
    def table(self) -> EpisodeTable:
        """The episode list."""
        return self.query_one(EpisodeTable)

    def add_entries(self, entries: list[EpisodeEntry]) -> None:
        """Append the rows of those of `entries` that pass the filter."""
        text = self.replay.replay_run.log.text
        rows = [entry for entry in entries if self.filter.matches(entry, text)]
        self.shown.extend(rows)
        self.table.add_rows(_cells(entry) for entry in rows)
        self.show_status()

    def show_status(self) -> None:
        """The run id, counts, and whether the run is being followed or still read."""
        replay = self.replay
        entries = replay.entries
        failed = sum(entry.failed for entry in entries)
        planned = replay.replay_run.manifest.episodes_planned
        parts = [
            replay.replay_run.manifest.run_id,
            f"{len(entries)}/{planned} episodes",
            f"{failed} failed",
            f"{len(self.shown)} shown",
        ]
        if replay.loading:
            parts.append("reading…")
        elif replay.follow:
            parts.append("finished" if replay.replay_run.finished else "following")
        if replay.replay_run.log.problems:
            parts.append(f"{len(replay.replay_run.log.problems)} bad lines")
        self.query_one("#status", Static).update(" · ".join(parts))

    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter the list again as the filter line changes (see `QUICK_FILTER_ENTRIES`)."""
        if self._refilter is not None:
            self._refilter.stop()
            self._refilter = None
        if len(self.replay.entries) <= QUICK_FILTER_ENTRIES:
            self.apply_filter(event.value)
        else:
            value = event.value
            self._refilter = self.set_timer(TYPING_PAUSE_S, lambda: self.apply_filter(value))

    def apply_filter(self, text: str) -> None:
        """Show the episodes the filter line `text` keeps."""
        self.filter_text = text
        self.filter = EpisodeFilter.parse(text)
        self.table.clear()
        self.shown = []
        self.add_entries(self.replay.entries)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter line goes back to the list."""
        self.table.focus()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Open the chosen episode."""
        self.replay.open_episode(self.shown[event.cursor_row])

    def action_open(self) -> None:
        """Open the episode under the cursor (Enter when the list is not focused)."""
        if self.shown:
            self.replay.open_episode(self.shown[self.table.cursor_row])

    def action_filter(self) -> None:
        """Into the filter line."""
        self.query_one("#filter", Input).focus()

    def action_list(self) -> None:
        """Back to the list."""
        self.table.focus()

    def action_failed(self) -> None:
        """Add `is:failed` to the filter, or take it out."""
        field = self.query_one("#filter", Input)
        field.value = toggle_failed(field.value)


def _cells(entry: EpisodeEntry) -> tuple[str | Text, ...]:
    reason = Text(entry.termination.value)
    if not entry.termination.is_normal_end:
        reason.stylize("red")
    violations = Text(str(entry.violations), style="red") if entry.violations else Text("")
    return (
        entry.id,
        outcome_text(entry.success, entry.reward),
        reason,
        str(entry.turns),
        violations,
    )


class ReplayApp(App[None]):
    """The replay of one run: the episode list, and a conversation screen per opened episode."""

    TITLE = "policy-agent replay"
    ENABLE_COMMAND_PALETTE = False  # its key hint takes room an 80-column footer needs
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help", key_display="?"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        run: ReplayRun,
        *,
        follow: bool = False,
        filter_text: str = "",
        episode: str | None = None,
        poll_seconds: float = 1.0,
    ) -> None:
        """Replay `run`; `episode` (an id or line number) is opened once it has been read."""
        super().__init__()
        self.replay_run = run
        self.follow = follow
        self.entries: list[EpisodeEntry] = []
        """The latest attempt of each episode read so far (see `EpisodeLog.entries`)."""
        self._superseded = 0
        self.loading = True
        self._filter_text = filter_text
        self._episode = episode
        self._poll_seconds = poll_seconds
        self._follower: Timer

    @property
    def episodes(self) -> EpisodesScreen:
        """The list screen (always at the bottom of the stack)."""
        return self._episodes

    def on_mount(self) -> None:
        """Show the list (which starts reading the run once it is on screen)."""
        self._episodes = EpisodesScreen(self._filter_text)
        self.push_screen(self._episodes)

    async def load(self) -> None:
        """Open `--episode` (through the run's index, before the list is read, when it can),
        read the run in batches into the list, then start following."""
        requested = self._episode
        if requested is not None and self._open_located(requested):
            requested = None
        while True:
            new = self.replay_run.log.poll(max_lines=BATCH_LINES)
            self._take(new)
            if len(new) < BATCH_LINES:
                break
            await asyncio.sleep(0)  # let the screen update and keys be handled
        self.loading = False
        self.episodes.show_status()
        self._report_problems(0)
        if requested is not None:
            self._open_requested(requested)
        if self.follow:
            self._follower = self.set_interval(self._poll_seconds, self._poll)

    def _take(self, new: list[EpisodeEntry]) -> None:
        log = self.replay_run.log
        if len(log.superseded) == self._superseded:
            self.entries.extend(new)
            self.episodes.add_entries(new)
            return
        # A resume ran some episode again: its earlier attempt leaves the list (rare: rebuild).
        self._superseded = len(log.superseded)
        self.entries = list(log.entries)
        self.episodes.apply_filter(self.episodes.filter_text)

    def _poll(self) -> None:
        if not self.episodes.is_running:
            # The app is closing and the list is being taken down: nothing left to add to.
            self._follower.stop()
            return
        known = len(self.replay_run.log.problems)
        try:
            self._take(self.replay_run.log.poll())
            self.replay_run.refresh()
        except (OSError, RunStoreError) as error:
            # The run was moved or deleted under us: keep what was read, stop following.
            self._follower.stop()
            self.follow = False
            self.notify(f"Stopped following the run: {error}", severity="error", timeout=10)
        self.episodes.show_status()
        self._report_problems(known)

    def _report_problems(self, known: int) -> None:
        for problem in self.replay_run.log.problems[known:]:
            self.notify(str(problem), title="A line was skipped", severity="error", timeout=10)

    def _open_located(self, text: str) -> bool:
        """Open the episode `text` names from its line alone (`EpisodeLog.locate`); False when
        the index cannot answer alone and the list must be read first."""
        try:
            located = self.replay_run.log.locate(text)
        except (ValueError, OSError, RunStoreError) as error:
            self.notify(str(error), severity="error", timeout=10)
            return True
        if located is None:
            return False
        self.open_episode(located[0])
        return True

    def _open_requested(self, text: str) -> None:
        try:
            entry = self.replay_run.log.find(text)
        except (ValueError, EpisodeNotFound) as error:
            self.notify(str(error), severity="error", timeout=10)
            return
        self.open_episode(entry)

    def open_episode(self, entry: EpisodeEntry) -> None:
        """Show the conversation of `entry` (search words of the filter highlighted)."""
        self.push_screen(ConversationScreen(entry, highlight=self.episodes.filter.words))

    def open_neighbour(self, entry: EpisodeEntry, delta: int) -> None:
        """Replace the open conversation with the one `delta` rows away in the filtered list."""
        shown = self.episodes.shown
        if entry not in shown:
            return
        index = shown.index(entry) + delta
        if 0 <= index < len(shown):
            self.episodes.table.move_cursor(row=index)
            self.switch_screen(
                ConversationScreen(shown[index], highlight=self.episodes.filter.words)
            )

    def action_help(self) -> None:
        """The keys and the filter syntax."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())
