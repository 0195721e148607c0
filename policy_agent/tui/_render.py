"""One step of a conversation as rich renderables: the single renderer of `show` and the replay.

A step is a header line (number, who acted, time since the episode started) and a body indented
under it: first the events that delayed the record (violations, retries, errors), then the policy
rules the record broke, then the record itself. `RenderOptions` says what is unfolded: `show`
prints everything, the replay starts folded and unfolds step by step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import assert_never

from rich.cells import cell_len, get_character_cell_size
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.highlighter import JSONHighlighter
from rich.measure import Measurement
from rich.padding import Padding
from rich.text import Text

from policy_agent.environment import ABSENT, Absent, Change
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    EpisodeEvent,
    ErrorEvent,
    RecordedChange,
    RetryEvent,
    ToolResult,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
    ViolationEvent,
)
from policy_agent.tui._actions import call_text
from policy_agent.tui._steps import RuleMark, Step, search_pattern

_INDENT = 4
_ACTIONS = {
    "resample": "sampled again",
    "feedback": "corrected with feedback",
    "keep_first": "kept the first call",
    "terminate": "episode ended",
}


@dataclass(frozen=True, kw_only=True)
class RenderOptions:
    """What a step shows unfolded, and how it says what is folded."""

    reasoning: bool = True
    """The agent's reasoning text (else one line saying how long it is)."""
    raw: bool = True
    """Raw completions of rejected attempts, and tracebacks."""
    full_results: bool = True
    """Tool results whole (else cut after `fold_lines` lines)."""
    fold_lines: int = 12
    hints: bool = False
    """Name the key that unfolds each folded part (the replay's keys)."""
    highlight: tuple[str, ...] = ()
    """Words to highlight, case-insensitively (the replay's search; see `search_pattern`)."""


FOLDED = RenderOptions(reasoning=False, raw=False, full_results=False, hints=True)
"""How the replay shows a step until it is unfolded."""


def render_step(step: Step, *, started_at: datetime, options: RenderOptions) -> RenderableType:
    """The step as a header line and an indented body (see the module's docstring)."""
    return _StepRenderer(options).step(step, started_at)


def match_count(step: Step, options: RenderOptions) -> int:
    """How many highlighted words `step` shows with `options` (folded parts show none)."""
    renderer = _StepRenderer(options)
    renderer.title(step)
    renderer.body(step)
    return renderer.matches


def matching_steps(steps: Sequence[Step], words: tuple[str, ...]) -> tuple[int, ...]:
    """The indices of the steps where `words` are highlighted once everything is unfolded:
    where the replay's search jumps to."""
    if search_pattern(words) is None:
        return ()
    unfolded = RenderOptions(highlight=words)
    return tuple(step.index for step in steps if match_count(step, unfolded))


def revealing(step: Step, options: RenderOptions) -> RenderOptions:
    """`options` with each fold of `step` opened that hides a highlighted word (as vim opens a
    fold that a search lands in); the others stay as they are."""
    visible = match_count(step, options)

    def hides(unfolded: RenderOptions) -> bool:
        return match_count(step, unfolded) > visible

    return replace(
        options,
        reasoning=options.reasoning or hides(replace(options, reasoning=True)),
        raw=options.raw or hides(replace(options, raw=True)),
        full_results=options.full_results or hides(replace(options, full_results=True)),
    )


def pretty_json_text(text: str) -> str:
    """`text` indented as JSON when it is JSON, else as it is."""
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return json.dumps(value, indent=2, ensure_ascii=False)


class _StepRenderer:
    def __init__(self, options: RenderOptions) -> None:
        self.options = options
        self.pattern = search_pattern(options.highlight)
        self.matches = 0  # words highlighted so far: what `match_count` counts

    def text(self, content: str, style: str = "") -> Text:
        """Plain text (never markup), with the search words highlighted."""
        shown = Text(content, style=style)
        if self.pattern is not None:
            self.matches += shown.highlight_regex(self.pattern, "reverse")
        return shown

    def json_text(self, content: str) -> Text:
        """JSON text, coloured as JSON."""
        return JSONHighlighter()(self.text(content))

    def hint(self, key: str) -> str:
        return f" ({key})" if self.options.hints else ""

    def step(self, step: Step, started_at: datetime) -> RenderableType:
        title, moment = self.title(step)
        offset = f"+{(moment - started_at).total_seconds():.1f}s"
        return Group(_Header(title, offset), self.body(step))

    def title(self, step: Step) -> tuple[Text, datetime]:
        """The header's text (the tool's name highlighted like any word) and its moment."""
        label, style, moment = self.header(step)
        title = Text.assemble((f"{step.index + 1:>2}  ", "dim"), self.text(label, style))
        if step.given:
            title.append("  (task history)", "dim italic")
        generation = getattr(step.record, "generation", None)
        if generation is not None and generation.api_base is not None:
            title.append(f"  @ {generation.api_base}", "dim")
        if step.rules:
            title.append(f"  ✗ {', '.join(mark.rule for mark in step.rules)}", "bold red")
        return title, moment

    def body(self, step: Step) -> RenderableType:
        parts: list[RenderableType] = [self.event(event) for event in step.events]
        parts.extend(self.rule(mark) for mark in step.rules)
        parts.extend(self.record(step))
        return _indented(Group(*parts), _INDENT)

    def header(self, step: Step) -> tuple[str, str, datetime]:
        record = step.record
        match record:
            case None:
                return "end of episode", "bold red", step.events[-1].timestamp
            case UserMessage():
                return "user", "bold cyan", record.timestamp
            case AgentMessage():
                return "agent", "bold green", record.timestamp
            case AgentToolCall():
                return f"agent → {record.name}", "bold yellow", record.timestamp
            case UserToolCall():
                return f"user → {record.name}", "bold cyan", record.timestamp
            case ToolResult():
                outcome = " (crashed)" if record.crashed else " (error)" if record.error else ""
                style = "bold red" if record.error else "bold blue"
                return f"{record.name} returned{outcome}", style, record.timestamp
            case _:
                assert_never(record)

    def record(self, step: Step) -> list[RenderableType]:
        record = step.record
        match record:
            case None:
                return []
            case UserMessage():
                return [self.text(record.content)]
            case AgentMessage():
                return [*self.reasoning(record.reasoning), self.text(record.content)]
            case AgentToolCall():
                before = [self.text(record.content, "dim")] if record.content else []
                return [*self.reasoning(record.reasoning), *before, self.arguments(record)]
            case UserToolCall():
                return [self.arguments(record)]
            case ToolResult():
                return self.result(record)
            case _:
                assert_never(record)

    def reasoning(self, reasoning: str | None) -> list[RenderableType]:
        if not reasoning:
            return []
        lines = reasoning.count("\n") + 1
        if not self.options.reasoning:
            noun = "line" if lines == 1 else "lines"
            return [Text(f"▸ reasoning, {lines} {noun}{self.hint('r')}", style="dim")]
        return [Text("▾ reasoning", style="dim"), _indented(self.text(reasoning, "italic dim"), 2)]

    def arguments(self, call: AgentToolCall | UserToolCall) -> RenderableType:
        if not call.arguments:
            return Text("(no arguments)", style="dim")
        lines: list[RenderableType] = []
        for key, value in call.arguments.items():
            compact = json.dumps(value, ensure_ascii=False)
            shown = (
                compact if len(compact) <= 60 else json.dumps(value, indent=2, ensure_ascii=False)
            )
            line = Text.assemble(self.text(key, "bold"), ": ", self.json_text(shown))
            lines.append(WrappedJSON(line, value_at=cell_len(key) + 2))
        return Group(*lines)

    def result(self, result: ToolResult) -> list[RenderableType]:
        content = pretty_json_text(result.content)
        lines = content.split("\n")
        parts: list[RenderableType] = []
        # JSON is wrapped under its values; other text (an error's sentence) wraps as prose.
        shown: Callable[[Text], RenderableType] = (
            WrappedJSON if _is_json(result.content) else _as_it_is
        )
        if self.options.full_results or len(lines) <= self.options.fold_lines:
            parts.append(shown(self.json_text(content)))
        else:
            parts.append(shown(self.json_text("\n".join(lines[: self.options.fold_lines]))))
            more = len(lines) - self.options.fold_lines
            parts.append(Text(f"… {more} more lines{self.hint('t')}", style="dim"))
        if result.crashed and result.detail:
            parts.extend(self.raw("traceback", result.detail, "v"))
        parts.extend(self.change(change) for change in result.changes)
        return parts

    def change(self, change: RecordedChange) -> RenderableType:
        kind = change.kind
        lines = Text.assemble(
            ("database ", "bold magenta"), (f"{change.table}[{change.record_id}]", "magenta")
        )
        lines.append(f" {kind}", style="dim")
        for diff in Change.of_record(change).field_diff():
            lines.append("\n  ")
            if diff.before is ABSENT:
                lines.append(f"+ {diff.path}: {_value(diff.after)}", style="green")
            elif diff.after is ABSENT:
                lines.append(f"- {diff.path}: {_value(diff.before)}", style="red")
            else:
                lines.append(f"{diff.path}: ")
                lines.append(_value(diff.before), style="red")
                lines.append(" → ", style="dim")
                lines.append(_value(diff.after), style="green")
        return lines

    def raw(self, title: str, content: str, key: str) -> list[RenderableType]:
        if not content:
            return [Text(f"{title}: (empty)", style="dim")]
        if not self.options.raw:
            return [Text(f"▸ {title}{self.hint(key)}", style="dim")]
        return [Text(f"▾ {title}", style="dim"), _indented(self.text(content, "dim"), 2)]

    def event(self, event: EpisodeEvent) -> RenderableType:
        match event:
            case ViolationEvent():
                return self.violation(event)
            case RetryEvent():
                heading = Text.assemble(
                    (" RETRY ", "bold black on yellow"),
                    f" {event.error_type} · attempt {event.attempt} · {event.latency_ms:.0f} ms",
                )
                if event.moved_to is not None:
                    heading.append(f" · {event.api_base} failed: moved to {event.moved_to}")
                return Group(heading, self.text(event.message, "yellow"))
            case UserRetryEvent():
                heading = Text.assemble(
                    (" USER RETRY ", "bold black on yellow"), f" attempt {event.attempt}"
                )
                reason = self.text(event.reason, "yellow")
                return Group(
                    heading, reason, *self.raw("raw completion", event.raw_completion, "v")
                )
            case ErrorEvent():
                heading = Text.assemble(
                    (" ERROR ", "bold white on red"), f" {event.role} · {event.error_type}"
                )
                parts: list[RenderableType] = [heading, self.text(event.message, "red")]
                if event.detail:
                    parts.extend(self.raw("traceback", event.detail, "v"))
                return Group(*parts)
            case _:
                assert_never(event)

    def rule(self, mark: RuleMark) -> RenderableType:
        heading = Text.assemble(
            (" RULE BROKEN ", "bold white on red"),
            " ",
            self.text(mark.rule, "bold red"),
            f" · {mark.severity.value}",
        )
        return Group(heading, self.text(mark.message, "red"))

    def violation(self, event: ViolationEvent) -> RenderableType:
        violation = event.violation
        heading = Text.assemble(
            (" VIOLATION ", "bold white on red"),
            (f" {violation.code.value}", "bold red"),
            f" · attempt {event.generation.attempt} · {_ACTIONS[event.action_taken]}",
        )
        parts: list[RenderableType] = [heading, self.text(violation.detail, "red")]
        for call in event.dropped_calls:
            parts.append(self.text(f"dropped {call_text(call.name, call.arguments)}", "red"))
        if event.dropped_text:
            parts.append(self.text(f"dropped text: {event.dropped_text}", "red"))
        if event.vllm_would is not None:
            would = event.vllm_would
            calls = ", ".join(call_text(call.name, call.arguments) for call in would.calls)
            said = f" after the text {json.dumps(would.content)}" if would.content else ""
            line = f"{would.profile} would have run {calls}{said}"
            parts.append(self.text(line, "yellow"))
        parts.extend(self.raw("raw completion", event.generation.raw_completion, "v"))
        return Group(*parts)


def _value(value: object | Absent) -> str:
    return json.dumps(value, ensure_ascii=False)


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _as_it_is(text: Text) -> Text:
    return text


_KEY = re.compile(r' *"(?:[^"\\]|\\.)*": ')
"""A JSON line's indent and key (`  "note": `): where its value starts."""


class WrappedJSON:
    """Lines of JSON wrapped to the width with a hanging indent, so that nothing is cut and the
    nesting stays readable (`show` in a pipe or a CI log is 80 columns wide).

    A line too wide breaks at the last space that fits (inside its value, never in its key), or
    anywhere when there is none (a long URL or token); what follows goes on under where the
    value starts, or two columns in from the line's indent when that is past half the width.
    Only the space at a break is lost.
    """

    def __init__(self, text: Text, *, value_at: int | None = None) -> None:
        """`value_at`: the column where the first line's value starts (after `key: `), when it
        is not a JSON key's (`"key": `)."""
        self.text = text
        self.value_at = value_at

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        # As wide as the text, not the whole width: the step's body is not padded out.
        return Measurement.get(console, options, self.text)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        for number, line in enumerate(self.text.split("\n", allow_blank=True)):
            value_at = self.value_at if number == 0 else None
            yield from _hanging(line, width, value_at)


def _hanging(line: Text, width: int, value_at: int | None) -> list[Text]:
    """`line` in pieces of at most `width` cells (see `WrappedJSON`)."""
    plain = line.plain
    if cell_len(plain) <= width:
        return [line]
    indent = len(plain) - len(plain.lstrip(" "))
    if value_at is None:
        key = _KEY.match(plain)
        value_at = indent if key is None else key.end()
    hang = value_at if indent < value_at <= width // 2 else min(indent + 2, width // 2)
    pieces: list[Text] = []
    start, room, floor = 0, width, value_at
    while cell_len(plain[start:]) > room:
        end = _fitting(plain, start, room)
        space = plain.rfind(" ", max(floor, start + 1), end + 1)
        stop, resume = (space, space + 1) if space > 0 else (end, end)
        pieces.append(line[start:stop])
        start, room, floor = resume, width - hang, resume
    pieces.append(line[start:])
    lines = [pieces[0], *(Text.assemble(" " * hang, piece) for piece in pieces[1:])]
    for piece in lines:
        piece.rstrip()  # no trailing spaces: `show --plain` output diffs cleanly
    return lines


def _fitting(plain: str, start: int, room: int) -> int:
    """The end of the longest run of `plain` from `start` that fits in `room` cells (at least
    one character, so that a line always gets shorter)."""
    used = 0
    for index in range(start, len(plain)):
        used += get_character_cell_size(plain[index])
        if used > room:
            return max(index, start + 1)
    return len(plain)


def _indented(renderable: RenderableType, columns: int) -> Padding:
    # Not expanded: lines keep no trailing spaces, so `show --plain` output diffs cleanly.
    return Padding(renderable, (0, 0, 0, columns), expand=False)


class _Header:
    """A step's title on the left and its time on the right, without padding past the time."""

    def __init__(self, title: Text, offset: str) -> None:
        self.title = title
        self.offset = offset

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        room = options.max_width - len(self.offset) - 1
        title = self.title.copy()
        title.truncate(max(room, 1), overflow="ellipsis")
        gap = max(options.max_width - title.cell_len - len(self.offset), 1)
        yield Text.assemble(title, " " * gap, (self.offset, "dim"))
