"""The conversation screen: one episode's steps, one of them current, and the side panel.

Every step is on screen, folded; the current one is marked and kept in view, and the keys that
unfold (reasoning, long results, raw completions) act on it. `m` and `M` go to the next and
previous step where the list's search words are highlighted, unfolding what hides them and
scrolling down to the first when it is below the screen; `b` and `B` go to the next and
previous step where a policy rule broke. The side panel holds the reward breakdown, the rules
and the expected actions beside the actual calls.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.segment import Segment
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from policy_agent.tui._log import EpisodeEntry
from policy_agent.tui._render import FOLDED, RenderOptions, matching_steps, render_step, revealing
from policy_agent.tui._steps import Step, next_match, rule_steps, search_pattern, steps_of
from policy_agent.tui._summary import actions_view, render_reward, render_title

if TYPE_CHECKING:
    from policy_agent.tui._app import ReplayApp


class StepView(Static):
    """One step; a click makes it the current step."""

    class Chosen(Message):
        """The step was clicked."""

        def __init__(self, index: int) -> None:
            self.index = index
            super().__init__()

    def __init__(self, step: Step, *, classes: str = "") -> None:
        """A view of `step`, rendered by `ConversationScreen.refresh_step`."""
        super().__init__(classes=classes)
        self.step = step

    def on_click(self, event: events.Click) -> None:
        """Tell the screen that this step was chosen."""
        self.post_message(self.Chosen(self.step.index))


class ConversationScreen(Screen[None]):
    """One episode, stepped through (see the module's docstring)."""

    DEFAULT_CSS = """
    ConversationScreen #title { height: 1; background: $panel; padding: 0 1; }
    ConversationScreen #steps { width: 1fr; }
    ConversationScreen #side {
        width: 34%; min-width: 26; max-width: 56;
        border-left: vkey $panel-lighten-2; padding: 0 1;
    }
    ConversationScreen #side.-hidden { display: none; }
    StepView { padding: 0 1 0 0; border-left: blank; }
    StepView.-current { border-left: thick $accent; background: $boost; }
    StepView.-violation { border-left: thick $error; }
    StepView.-current.-violation { border-left: thick $warning; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right,n", "step(1)", "Next", key_display="→", priority=True),
        Binding("left,p", "step(-1)", "Prev", key_display="←", priority=True),
        # n and N, less's and vim's keys, were taken: n is the next step since the first replay.
        Binding("m", "match(1)", "Match", priority=True),
        Binding("M", "match(-1)", "Prev match", show=False, priority=True),
        Binding("b", "breach(1)", "Rule", show=False, priority=True),  # an 80-column footer is full
        Binding("B", "breach(-1)", "Prev rule", show=False, priority=True),
        Binding("home", "jump(0)", "First", show=False, priority=True),
        Binding("end", "jump(-1)", "Last", show=False, priority=True),
        Binding("r", "unfold('reasoning')", "Reason"),
        Binding("t", "unfold('full_results')", "Result"),
        Binding("v", "unfold('raw')", "Raw"),
        Binding("a", "unfold_all", "All", show=False),
        Binding("right_square_bracket", "episode(1)", "Next episode", show=False),
        Binding("left_square_bracket", "episode(-1)", "Prev episode", show=False),
        Binding("s", "side", "Panel"),
        Binding("escape,q,backspace", "back", "Back", key_display="q"),
    ]

    def __init__(self, entry: EpisodeEntry, *, highlight: tuple[str, ...] = ()) -> None:
        """The screen of the episode `entry` names; search words `highlight`ed."""
        super().__init__()
        self.entry = entry
        self.highlight = highlight
        self.current = 0
        self.options: dict[int, RenderOptions] = {}
        self.matches: tuple[int, ...] = ()
        """The steps where `highlight` is (`m` and `M` go through them)."""
        self.notice = ""
        """Said after the step number: where a search jump landed (until the step changes)."""

    @property
    def replay(self) -> ReplayApp:
        """The app, typed."""
        from policy_agent.tui._app import ReplayApp

        assert isinstance(self.app, ReplayApp)
        return self.app

    def compose(self) -> ComposeResult:
        """Title line, steps beside the side panel, key bar."""
        run = self.replay.replay_run
        self.episode = run.log.load(self.entry, tokens=False)  # none is shown
        self.steps = steps_of(self.episode)
        expected = run.expected(self.episode.task_id)
        yield Static(id="title")
        with Horizontal():
            with VerticalScroll(id="steps"):
                for step in self.steps:
                    violation = any(event.kind == "violation" for event in step.events)
                    marked = violation or bool(step.rules)
                    yield StepView(step, classes="-violation" if marked else "")
            with VerticalScroll(id="side"):
                yield Static(render_reward(self.episode), id="reward")
                yield Static(Text())
                yield Static(actions_view(self.episode, expected.actions, expected.note))
        yield Footer()

    def on_mount(self) -> None:
        """Render every step and mark the first; hide the side panel on narrow screens."""
        base = replace(FOLDED, highlight=self.highlight)
        self.options = {step.index: base for step in self.steps}
        self.matches = matching_steps(self.steps, self.highlight)
        for view in self.query(StepView):
            self.refresh_step(view)
        self.query_one("#side").set_class(self.app.size.width < 60, "-hidden")
        self.move_to(0)

    def refresh_step(self, view: StepView) -> None:
        """Render `view` again with its step's current options."""
        view.update(self._rendered(view.step))

    def _rendered(self, step: Step) -> RenderableType:
        options = self.options[step.index]
        return render_step(step, started_at=self.episode.started_at, options=options)

    def move_to(self, index: int, *, scroll: bool = True, notice: str | None = None) -> None:
        """Make step `index` current and mark it; with `scroll`, bring it to the top.

        The status line says `notice` after the step number; None keeps what it says while the
        step stays the same and clears it when the step changes.
        """
        if not self.steps:
            self._title()
            return
        current = max(0, min(index, len(self.steps) - 1))
        if notice is not None or current != self.current:
            self.notice = notice or ""
        self.current = current
        views = list(self.query(StepView))
        for view in views:
            view.set_class(view.step.index == self.current, "-current")
        if scroll:
            # After the refresh: a step just unfolded or mounted has no size yet.
            self.call_after_refresh(
                self.query_one("#steps", VerticalScroll).scroll_to_widget,
                views[self.current],
                animate=False,
                top=True,
            )
        self._title()

    def _title(self) -> None:
        total = len(self.steps)
        position = Text(f"  step {self.current + 1 if total else 0}/{total}", style="bold")
        if self.notice:
            position.append(f"  {self.notice}", style="reverse")
        self.query_one("#title", Static).update(_StatusLine(render_title(self.episode), position))

    def action_step(self, delta: int) -> None:
        """The next (1) or previous (-1) step."""
        self.move_to(self.current + delta)

    def action_match(self, delta: int) -> None:
        """The next (1) or previous (-1) step with a search match, wrapping around; its folds
        that hide a match are opened."""
        jump = next_match(self.matches, self.current, delta)
        if jump is None:
            searched = search_pattern(self.highlight) is not None
            self.notice = "no matches" if searched else "no search words (/ in the list)"
            self._title()
            return
        view = list(self.query(StepView))[jump.step]
        options = revealing(view.step, self.options[jump.step])
        if options != self.options[jump.step]:
            self.options[jump.step] = options
            self.refresh_step(view)
        self.move_to(jump.step, scroll=False, notice=jump.notice)
        # After the refresh: a step just unfolded has no size yet.
        self.call_after_refresh(self._show_match, view)

    def action_breach(self, delta: int) -> None:
        """The next (1) or previous (-1) step where a policy rule broke, wrapping around."""
        jump = next_match(rule_steps(self.steps), self.current, delta)
        if jump is None:
            self.notice = "no rule broken"
            self._title()
            return
        wrapped = " (wrapped)" if jump.wrapped else ""
        self.move_to(jump.step, notice=f"rule broken {jump.number} of {jump.total}{wrapped}")

    def _show_match(self, view: StepView) -> None:
        """Bring `view` to the top, as stepping does, unless that leaves its first highlighted
        line below the screen: then scroll on to put that line a third of the way down."""
        steps = self.query_one("#steps", VerticalScroll)
        lines = self.app.console.render_lines(
            self._rendered(view.step),
            self.app.console.options.update_width(view.content_region.width),
            pad=False,
        )
        rows = [row for row, line in enumerate(lines) if any(_highlighted(s) for s in line)]
        height = steps.scrollable_content_region.height
        top = view.virtual_region.y
        if rows and rows[0] >= height:
            top += rows[0] - height // 3
        steps.scroll_to(y=top, animate=False)

    def action_jump(self, index: int) -> None:
        """The first (0) or last (-1) step."""
        self.move_to(index if index >= 0 else len(self.steps) - 1)

    def action_unfold(self, part: str) -> None:
        """Unfold or fold one part (`reasoning`, `full_results`, `raw`) of the current step."""
        if not self.steps:
            return
        options = self.options[self.current]
        match part:
            case "reasoning":
                options = replace(options, reasoning=not options.reasoning)
            case "full_results":
                options = replace(options, full_results=not options.full_results)
            case "raw":
                options = replace(options, raw=not options.raw)
        self.options[self.current] = options
        self.refresh_step(list(self.query(StepView))[self.current])

    def action_unfold_all(self) -> None:
        """Unfold every part of every step, or fold them all when the current one is unfolded."""
        current = self.options.get(self.current, FOLDED)
        unfolded = not (current.reasoning and current.full_results and current.raw)
        for index, options in self.options.items():
            self.options[index] = replace(
                options, reasoning=unfolded, full_results=unfolded, raw=unfolded
            )
        for view in self.query(StepView):
            self.refresh_step(view)
        self.move_to(self.current)

    def action_side(self) -> None:
        """Hide or show the side panel."""
        self.query_one("#side").toggle_class("-hidden")
        self.move_to(self.current)  # the steps reflow to the new width

    def action_back(self) -> None:
        """Back to the episode list."""
        self.app.pop_screen()

    def action_episode(self, delta: int) -> None:
        """Open the next (1) or previous (-1) episode of the filtered list in place of this."""
        self.replay.open_neighbour(self.entry, delta)

    def on_step_view_chosen(self, message: StepView.Chosen) -> None:
        """A click on a step makes it current (it is in view already: nothing scrolls)."""
        self.move_to(message.index, scroll=False)


def _highlighted(segment: Segment) -> bool:
    # The highlight's style (see `_render`): reversed, and nothing else on screen is.
    return bool(segment.text and segment.style and segment.style.reverse)


class _StatusLine:
    """The episode's title, then the position; the title gives way (with an ellipsis) when the
    line is too narrow for both, so the step number and the search notice stay in view."""

    def __init__(self, title: Text, position: Text) -> None:
        self.title = title
        self.position = position

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        title = self.title.copy()
        title.truncate(max(options.max_width - self.position.cell_len, 1), overflow="ellipsis")
        yield Text.assemble(title, self.position, no_wrap=True, overflow="ellipsis", end="")
