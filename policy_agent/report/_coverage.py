"""`policy-agent coverage PACK [RUN ...]`: the part of a pack's policy nothing tests.

Three kinds of item, each with what the pack's tasks exercise and what the runs hit:

- a **tool**: the tasks whose expected actions call it; the runs' agent calls of it;
- a **precondition** (a declarative tool's refusing branch): the runs' calls it refused. A
  refusal is recognised by its message, the precondition's `error` template with every
  `{placeholder}` matching any text; a task's expected actions are calls that succeed, so no
  task exercises a refusing branch by itself, only an agent that tries what the policy forbids;
- a **rule**: the tasks it applies to (not switched off) whose expected actions call one of its
  tools (a `forbidden_text` rule reads every message: every task it applies to); the runs'
  episodes where it applied (held or broken) and those where it broke.

An item is *untested* when no task exercises it and no run hit it. Python tools' own refusals
are not listed: their branches are code, not data.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from policy_agent.domain import (
    AfterRule,
    AnyRule,
    ConfirmationRule,
    DomainPack,
    ForbiddenCallRule,
    ForbiddenTextRule,
    LimitRule,
    Precondition,
    PythonImplementation,
    StepsImplementation,
)
from policy_agent.environment import TOOL_ERROR_PREFIX
from policy_agent.records import RuleStatus
from policy_agent.report._runs import LoadedRun

__all__ = [
    "PackCoverage",
    "PreconditionCoverage",
    "RuleCoverage",
    "ToolCoverage",
    "build_coverage",
    "render_coverage",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolCoverage(_Model):
    """One agent tool."""

    tool: str
    kind: str
    tasks: list[str] = Field(description="Tasks whose expected actions call it.")
    calls: int = Field(description="The runs' agent calls of it.")
    refused: int = Field(description="Of those, the calls that returned an error.")
    untested: bool


class PreconditionCoverage(_Model):
    """One precondition of a declarative tool: its refusing branch."""

    tool: str
    index: int = Field(description="0-based, as `preconditions[i]` in tools.yaml.")
    check: str
    error: str = Field(description="The error template the tool returns when it refuses.")
    refused: int = Field(description="The runs' calls this precondition refused.")
    untested: bool


class RuleCoverage(_Model):
    """One pack rule."""

    rule: str
    kind: str
    severity: str
    tasks: list[str] = Field(description="Tasks it applies to that call one of its tools.")
    checked: int = Field(description="The runs' scored episodes where it applied.")
    broken: int
    untested: bool


class PackCoverage(_Model):
    """`policy-agent coverage PACK [RUN ...] --json`."""

    schema_version: Literal[1] = 1
    domain: str
    tasks: int
    runs: list[str] = Field(description="The runs' folders, in the order given.")
    episodes: int = Field(description="Episodes read from the runs (each one's latest attempt).")
    tools: list[ToolCoverage]
    preconditions: list[PreconditionCoverage]
    rules: list[RuleCoverage]


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{[^{}]*\}")


def _refusal_pattern(template: str) -> re.Pattern[str]:
    """The messages `template` renders to: its literal text, anything for each placeholder."""
    parts: list[str] = []
    at = 0
    for found in _PLACEHOLDER.finditer(template):
        parts.append(re.escape(template[at : found.start()]))
        token = found.group()
        parts.append(re.escape(token[0]) if token in ("{{", "}}") else "(?s:.*)")
        at = found.end()
    parts.append(re.escape(template[at:]))
    return re.compile("".join(parts), re.DOTALL)


def _rule_tools(rule: AnyRule, pack: DomainPack) -> frozenset[str] | None:
    """The tools a rule is about; None for a rule about messages (every task)."""
    match rule:
        case AfterRule(tools=tools) | ForbiddenCallRule(tools=tools) | LimitRule(tools=tools):
            return frozenset(tools)
        case ConfirmationRule():
            return rule.covered(pack.tools)
        case ForbiddenTextRule():
            return None
        case _:
            assert_never(rule)


def build_coverage(pack: DomainPack, runs: Sequence[LoadedRun] = ()) -> PackCoverage:
    """What `pack`'s tasks exercise and what `runs` (of this pack) hit, item by item.

    The runs' episodes are read one at a time: what is kept is counts.
    """
    expected: dict[str, list[str]] = {tool.name: [] for tool in pack.tools}
    for task in pack.tasks:
        for action in task.evaluation_criteria.actions:
            if action.requestor == "assistant" and action.name in expected:
                names = expected[action.name]
                names.extend([] if task.id in names else [task.id])
    preconditions = _Preconditions(pack)
    calls: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    rule_statuses: dict[str, Counter[RuleStatus]] = {}
    episodes = 0
    for episode in (episode for run in runs for episode in run.iter_read_episodes()):
        episodes += 1
        for record in episode.messages:
            if not record.is_tool_result or record.requestor != "assistant":
                continue
            name = record.name or ""
            calls[name] += 1
            if record.error:
                errors[name] += 1
                if not record.crashed:
                    preconditions.refused(name, record.content or "")
        for result in episode.reward.rules if episode.reward is not None else ():
            rule_statuses.setdefault(result.rule, Counter())[result.status] += 1
    tools = [
        ToolCoverage(
            tool=tool.name,
            kind=tool.kind.value,
            tasks=expected[tool.name],
            calls=calls[tool.name],
            refused=errors[tool.name],
            untested=not expected[tool.name] and not calls[tool.name],
        )
        for tool in pack.tools
    ]
    return PackCoverage(
        domain=pack.name,
        tasks=len(pack.tasks),
        runs=[str(run.directory) for run in runs],
        episodes=episodes,
        tools=tools,
        preconditions=preconditions.coverage(),
        rules=_rules(pack, expected, rule_statuses),
    )


class _Preconditions:
    """The declarative tools' preconditions, and the refusals each took so far."""

    def __init__(self, pack: DomainPack) -> None:
        self._found: dict[str, list[tuple[Precondition, re.Pattern[str]]]] = {}
        for tool in pack.tools:
            implementation = tool.implementation
            if isinstance(implementation, PythonImplementation):
                continue
            # A tool of several steps checks each step's preconditions as that step runs.
            preconditions = (
                [p for step in implementation.steps for p in step.preconditions]
                if isinstance(implementation, StepsImplementation)
                else implementation.preconditions
            )
            self._found[tool.name] = [(p, _refusal_pattern(p.error)) for p in preconditions]
        self._refused: Counter[tuple[str, int]] = Counter()

    def refused(self, tool: str, content: str) -> None:
        """Count a refusal of `tool`: the first precondition whose message fits takes it, as
        the op checks them in order."""
        text = content.removeprefix(TOOL_ERROR_PREFIX)
        for index, (_, pattern) in enumerate(self._found.get(tool, ())):
            if pattern.fullmatch(text):
                self._refused[tool, index] += 1
                return

    def coverage(self) -> list[PreconditionCoverage]:
        """Each precondition, tool by tool in the pack's order, with its refusals."""
        return [
            PreconditionCoverage(
                tool=tool,
                index=index,
                check=precondition.check,
                error=precondition.error,
                refused=self._refused[tool, index],
                untested=not self._refused[tool, index],
            )
            for tool, found in self._found.items()
            for index, (precondition, _) in enumerate(found)
        ]


def _rules(
    pack: DomainPack, expected: dict[str, list[str]], statuses: dict[str, Counter[RuleStatus]]
) -> list[RuleCoverage]:
    found: list[RuleCoverage] = []
    for rule in pack.rules:
        about = _rule_tools(rule, pack)
        tasks = [
            task.id
            for task in pack.tasks
            if rule.name not in task.rules.disable
            and (about is None or any(task.id in expected.get(name, ()) for name in about))
        ]
        counted = statuses.get(rule.name, Counter())
        checked = counted[RuleStatus.HELD] + counted[RuleStatus.BROKEN]
        found.append(
            RuleCoverage(
                rule=rule.name,
                kind=rule.kind,
                severity=rule.severity.value,
                tasks=tasks,
                checked=checked,
                broken=counted[RuleStatus.BROKEN],
                untested=not tasks and not checked,
            )
        )
    return found


def render_coverage(coverage: PackCoverage) -> RenderableType:
    """The three tables, then the untested items one per line."""
    with_runs = bool(coverage.runs)
    tools = Table(title="Tools", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    for name in ["tool", "kind", "tasks", *(["calls", "refused"] if with_runs else [])]:
        tools.add_column(name, justify="right" if name in ("calls", "refused") else "left")
    for tool in coverage.tools:
        style = "red" if tool.untested else ""
        cells: list[RenderableType] = [
            Text(tool.tool, style=style),
            tool.kind,
            str(len(tool.tasks)),
        ]
        tools.add_row(*cells, *([str(tool.calls), str(tool.refused)] if with_runs else []))
    preconditions = Table(
        title="Preconditions (refusing branches)",
        title_justify="left",
        title_style="bold",
        box=box.SIMPLE_HEAD,
    )
    for name in ["tool", "#", "refuses with", *(["refused"] if with_runs else [])]:
        preconditions.add_column(name, justify="right" if name in ("#", "refused") else "left")
    for item in coverage.preconditions:
        style = "red" if item.untested else ""
        preconditions.add_row(
            Text(item.tool, style=style),
            str(item.index),
            Text(item.error),
            *([str(item.refused)] if with_runs else []),
        )
    rules = Table(title="Rules", title_justify="left", title_style="bold", box=box.SIMPLE_HEAD)
    for name in ["rule", "kind", "tasks", *(["checked", "broken"] if with_runs else [])]:
        rules.add_column(name, justify="right" if name in ("checked", "broken") else "left")
    for rule in coverage.rules:
        style = "red" if rule.untested else ""
        rule_cells: list[RenderableType] = [
            Text(rule.rule, style=style),
            rule.kind,
            str(len(rule.tasks)),
        ]
        rules.add_row(*rule_cells, *([str(rule.checked), str(rule.broken)] if with_runs else []))
    read = (
        f"{coverage.episodes} episodes of {len(coverage.runs)} runs"
        if with_runs
        else "no runs given: the runs' columns need RUN"
    )
    parts: list[RenderableType] = [
        Text(f"Coverage of {coverage.domain}: {coverage.tasks} tasks, {read}", style="bold"),
        tools,
        preconditions,
        rules,
    ]
    untested = _untested(coverage)
    if untested:
        what = "no task exercises and no run hit" if with_runs else "no task exercises"
        parts.append(Text(f"Untested ({what}): {len(untested)}", style="bold red"))
        parts.extend(Text(f"  {line}") for line in untested)
    else:
        parts.append(Text("Every tool, precondition and rule is exercised.", style="green"))
    return Group(*parts)


def _untested(coverage: PackCoverage) -> list[str]:
    lines = [f"tool {tool.tool}" for tool in coverage.tools if tool.untested]
    lines += [
        f"precondition {item.tool}[{item.index}]: {item.error}"
        for item in coverage.preconditions
        if item.untested
    ]
    lines += [f"rule {rule.rule} ({rule.kind})" for rule in coverage.rules if rule.untested]
    return lines
