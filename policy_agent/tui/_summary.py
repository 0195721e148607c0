"""The parts of an episode around its steps: the title line, the reward, the actions; and the
whole episode as `show` prints it (the replay's side panel reuses the same renderables)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from pydantic import JsonValue
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from policy_agent.evaluation import is_success as reward_is_success
from policy_agent.records import Episode, RecordedAction, RewardInfo, RuleResult, RuleStatus
from policy_agent.trajectory import episode_id
from policy_agent.tui._actions import ActionRow, call_text, pair_actions
from policy_agent.tui._render import RenderOptions, WrappedJSON, render_step
from policy_agent.tui._steps import is_success, steps_of

_WIDE = 80
"""From this width on, expected and actual actions are two columns; below, they are stacked."""


def outcome_text(success: bool | None, reward: float | None) -> Text:
    """`✓ 1.00`, `✗ 0.00`, or `✗ —` (`? —` when it ended normally) with no reward yet."""
    if reward is None:
        return Text("✗ —", style="red") if success is False else Text("? —", style="dim")
    return Text(f"{'✓' if success else '✗'} {reward:.2f}", style="green" if success else "red")


def mark(passed: bool | None) -> Text:
    """`✓` green, `✗` red, or `·` for not decided."""
    if passed is None:
        return Text("·", style="dim")
    return Text("✓", style="green") if passed else Text("✗", style="red")


def render_title(episode: Episode) -> Text:
    """One line: the episode's id, outcome, how it ended, its turns and how long it took."""
    reward = None if episode.reward is None else episode.reward.reward
    return Text("  ").join(
        [
            Text(episode_id(episode), style="bold"),
            outcome_text(is_success(episode), reward),
            Text(episode.termination_reason.value),
            Text(f"{len(episode.messages)} turns"),
            Text(f"{episode.duration_s:.1f} s"),
        ]
    )


def render_origin(episode: Episode, *, line: int | None = None) -> Text:
    """Where the episode is and how to run it again: line, seed, start time (UTC)."""
    parts = [] if line is None else [f"line {line}"]
    parts += [f"seed {episode.seed}", f"started {episode.started_at:%Y-%m-%d %H:%M:%S} UTC"]
    return Text(" · ".join(parts), style="dim")


def render_reward(episode: Episode) -> RenderableType:
    """The reward, each component, and every check that failed or was judged."""
    parts: list[RenderableType] = []
    if episode.error:
        parts.append(Text.assemble(("Ended: ", "bold red"), episode.error))
    info = episode.reward
    if info is None:
        parts.append(Text("Not evaluated yet: no reward.", style="dim"))
        return Group(*parts)
    basis = " × ".join(kind.value for kind in info.reward_basis) or "nothing"
    parts.append(
        Text.assemble(
            ("Reward ", "bold"),
            outcome_text(reward_is_success(info.reward), info.reward),
            (f" = {basis}", "dim"),
        )
    )
    parts.append(_components(info))
    parts.extend(_checks(info))
    if info.note:
        parts.append(Text.assemble(("Note: ", "bold"), info.note))
    return Group(*parts)


def _components(info: RewardInfo) -> Text:
    lines = [
        Text.assemble(
            "  ",
            mark(reward_is_success(value)),
            f" {value:.2f} {kind.value}",
            ("" if kind in info.reward_basis else " (not in the basis)", "dim"),
        )
        for kind, value in info.reward_breakdown.items()
    ]
    return Text("\n").join(lines)


def _checks(info: RewardInfo) -> list[RenderableType]:
    sections: list[tuple[str, list[Text]]] = []
    if info.db_check is not None and info.db_check.differences:
        lines = [
            Text.assemble(
                "  user " if d.database == "user" else "  ",
                f"{d.table}[{d.record_id}]{'.' + d.field if d.field else ''}\n    ",
                ("expected ", "dim"),
                (_json(d.expected), "green"),
                (", actual ", "dim"),
                (_json(d.actual), "red"),
            )
            for d in info.db_check.differences
        ]
        sections.append(("Database differences", lines))
    sections.append(
        (
            "Assertions",
            [
                _check(a.met, a.env_assertion.message or a.env_assertion.source, a.error)
                for a in info.env_assertions
            ],
        )
    )
    sections.append(
        ("Communicated", [_check(c.met, json.dumps(c.info), None) for c in info.communicate_checks])
    )
    sections.append(
        ("Judge", [_check(n.met, n.nl_assertion, n.justification) for n in info.nl_assertions])
    )
    if info.judge is not None and info.judge.error:
        sections.append(("Judge failed", [Text(f"  {info.judge.error}", style="red")]))
    sections.append(("Policy rules", [_rule(result) for result in info.rules]))
    parts: list[RenderableType] = []
    for title, lines in sections:
        if lines:
            parts.append(Text(title, style="bold"))
            parts.extend(lines)
    return parts


def _rule(result: RuleResult) -> Text:
    """`✗ name (critical) — broken at step 9: ...`, `✓ name`, `· name — not applicable`."""
    passed = {RuleStatus.HELD: True, RuleStatus.BROKEN: False}.get(result.status)
    line = Text.assemble("  ", mark(passed), f" {result.rule}", (f" ({result.severity})", "dim"))
    first = result.breaches[0] if result.breaches else None
    if first is not None:
        times = f", {len(result.breaches)} times" if len(result.breaches) > 1 else ""
        line.append(f" — broken at step {first.record_index + 1}{times}: ", style="red")
        line.append(first.message, style="dim")
    elif result.status is RuleStatus.UNDECIDED:
        line.append(f" — undecided: {result.error}", style="yellow")
    elif result.status is RuleStatus.NOT_APPLICABLE:
        line.append(" — not applicable", style="dim")
    return line


def _check(met: bool, what: str, why: str | None) -> Text:
    line = Text.assemble("  ", mark(met), f" {what}")
    if why:
        line.append(f" — {why}", style="dim")
    return line


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


class ActionsView:
    """Expected actions beside the calls made: two columns when wide, stacked when narrow."""

    def __init__(self, rows: Sequence[ActionRow], *, note: str | None = None) -> None:
        """`note` says why there are no expected actions to show (e.g. the pack is gone)."""
        self.rows = rows
        self.note = note

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield Text("Expected and actual actions", style="bold")
        if self.note:
            yield Text(self.note, style="yellow")
        if not self.rows:
            yield Text("  (no expected actions and no calls)", style="dim")
        elif options.max_width >= _WIDE:
            yield self._table()
        else:
            yield from self._stacked()

    def _table(self) -> Table:
        table = Table(box=None, padding=(0, 1), show_edge=False)
        table.add_column("")
        # A call longer than its column folds onto the next line rather than being cut.
        table.add_column("expected", ratio=1, overflow="fold")
        table.add_column("actual", ratio=1, overflow="fold")
        for row in self.rows:
            expected: RenderableType = Text("—", style="dim")
            if row.expected is not None:
                who = "user: " if row.expected.requestor == "user" else ""
                expected = CallCell(who, row.expected.name, row.expected.arguments)
            table.add_row(mark(row.matched), expected, _call_cell(row))
        return table

    def _stacked(self) -> Iterable[RenderableType]:
        for row in self.rows:
            if row.expected is None:
                yield Text.assemble(mark(None), " ", _call(row), (" (not expected)", "dim"))
                continue
            yield Text.assemble(mark(row.matched), " ", _action(row.expected))
            if not row.matched:
                yield Padding(Text.assemble(("actual: ", "dim"), _call(row)), (0, 0, 0, 2))


def _action(action: RecordedAction) -> Text:
    who = "user: " if action.requestor == "user" else ""
    return Text(who + call_text(action.name, action.arguments))


def _call(row: ActionRow) -> Text:
    if row.actual is None:
        return Text("not called", style="dim")
    who = "user: " if row.actual.kind == "user_tool_call" else ""
    return Text(who + call_text(row.actual.name, row.actual.arguments))


def _call_cell(row: ActionRow) -> RenderableType:
    if row.actual is None:
        return Text("not called", style="dim")
    who = "user: " if row.actual.kind == "user_tool_call" else ""
    return CallCell(who, row.actual.name, row.actual.arguments)


class CallCell:
    """A call in a table's column: on one line when it fits; else its name, then one argument
    a line, each wrapped under its value (`WrappedJSON`), then the closing parenthesis. Nothing
    is cut, and a value is never split at a column's edge while a space could take the break."""

    def __init__(self, who: str, name: str, arguments: Mapping[str, JsonValue]) -> None:
        """`who` goes before the name (`user: ` for the user's calls)."""
        self.who = who
        self.name = name
        self.arguments = arguments

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self._one_line())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        line = self._one_line()
        if line.cell_len <= options.max_width or not self.arguments:
            yield line
            return
        yield Text(f"{self.who}{self.name}(")
        last = len(self.arguments) - 1
        for index, (key, value) in enumerate(self.arguments.items()):
            shown = f"  {key}={json.dumps(value, ensure_ascii=False)}{',' if index < last else ''}"
            yield WrappedJSON(Text(shown), value_at=cell_len(key) + 3)
        yield Text(")")

    def _one_line(self) -> Text:
        return Text(self.who + call_text(self.name, dict(self.arguments)))


def actions_view(
    episode: Episode, expected: Sequence[RecordedAction] | None, note: str | None
) -> ActionsView:
    """The actions view of an episode; with no `expected`, the evaluator's checked actions."""
    if expected is None and episode.reward is not None:
        expected = [check.action for check in episode.reward.action_checks]
    return ActionsView(pair_actions(expected or [], episode), note=note)


def render_episode(
    episode: Episode,
    *,
    expected: Sequence[RecordedAction] | None,
    note: str | None = None,
    line: int | None = None,
    options: RenderOptions | None = None,
) -> RenderableType:
    """The whole episode as `show` prints it: title, every step, reward, actions."""
    shown = options or RenderOptions()
    steps = [
        render_step(step, started_at=episode.started_at, options=shown)
        for step in steps_of(episode)
    ]
    return Group(
        render_title(episode),
        render_origin(episode, line=line),
        Rule(style="dim"),
        *steps,
        Rule(style="dim"),
        render_reward(episode),
        Text(),
        actions_view(episode, expected, note),
    )
