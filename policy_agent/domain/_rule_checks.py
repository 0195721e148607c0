"""Cross-reference checks of the policy rules: the pack's (`rules.yaml`) and the tasks' own.

Each rule is well-formed once validated; here it is checked against the rest of the pack: the
tools it names are the agent's (with a "did you mean"), its expressions compile with the names
each tool gives them, its tables exist, every write it asks a yes for has a cue to look for, and
a task disables only rules the pack has.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import assert_never

from policy_agent.domain._checks import _no_such, _syntax
from policy_agent.domain._models import ToolSpec
from policy_agent.domain._pack import Problem
from policy_agent.domain._rules import (
    AfterRule,
    AnyRule,
    ConfirmationRule,
    ForbiddenCallRule,
    ForbiddenTextRule,
    LimitRule,
)
from policy_agent.domain._source import Locator
from policy_agent.domain._tasks import Task
from policy_agent.expressions import ExpressionSyntaxError, compile_expression
from policy_agent.records import RewardType
from policy_agent.yamlsource import Loc

RULE_NAMES = ("args", "result", "now")
"""The names a rule's expression sees besides the tool's parameters."""


def rule_expression_names(tool: ToolSpec) -> frozenset[str]:
    """The names a rule's expression about a call of `tool` may use: its parameters, `args`,
    `result` and `now` (the built-ins win over a parameter of the same name)."""
    return frozenset([*tool.parameters, *RULE_NAMES])


@dataclass(frozen=True, kw_only=True)
class RuleParts:
    """What the rule checks read: the validated rules and tasks, and the pack's tools."""

    rules: list[tuple[int, AnyRule]]
    tasks: list[tuple[int, Task]]
    tools: list[ToolSpec]
    user_tool_names: set[str] = field(default_factory=set)
    tool_names: set[str] | None = None
    """Every agent tool name written, valid tool or not (None: the tools section is broken and
    names are not checked)."""
    database: Mapping[str, object] | None = None


def check_rules(parts: RuleParts, locator: Locator) -> list[Problem]:
    """Every problem of the pack's rules and of the tasks' `rules`, located in their files."""
    checker = _RuleChecker(parts, locator)
    checker.unique([(("rules", i, "name"), rule.name) for i, rule in parts.rules])
    for index, rule in parts.rules:
        checker.rule(("rules", index), rule)
    names = {rule.name for _, rule in parts.rules}
    for index, task in parts.tasks:
        checker.task(("tasks", index), task, names)
    return checker.problems


@dataclass
class _RuleChecker:
    parts: RuleParts
    locator: Locator
    problems: list[Problem] = field(default_factory=list)

    def report(self, loc: Loc, message: str) -> None:
        self.problems.append(self.locator.problem(loc, message))

    @property
    def tools(self) -> dict[str, ToolSpec]:
        return {tool.name: tool for tool in self.parts.tools}

    def unique(self, named: list[tuple[Loc, str]], *, taken: Collection[str] = ()) -> None:
        first: dict[str, Loc] = {}
        for loc, name in named:
            if name in taken:
                self.report(
                    loc,
                    f"the pack already has a rule '{name}'; rename this one, or list '{name}' "
                    "in `disable` to replace it",
                )
            elif name in first:
                line = self.locator.line(first[name])
                self.report(loc, f"duplicate rule name '{name}' (first at line {line})")
            else:
                first[name] = loc

    def rule(self, loc: Loc, rule: AnyRule) -> None:
        match rule:
            case AfterRule():
                self.tool_names((*loc, "tools"), rule.tools)
                self.tool_names((*loc, "after"), rule.after)
                self.subject(loc, rule)
            case ForbiddenCallRule():
                self.tool_names((*loc, "tools"), rule.tools)
                if rule.when is not None:
                    for tool in self.known(rule.tools):
                        self.expression((*loc, "when"), rule.when, tool)
            case ConfirmationRule():
                self.confirmation(loc, rule)
            case ForbiddenTextRule():
                pass  # its patterns were compiled when it was validated
            case LimitRule():
                self.tool_names((*loc, "tools"), rule.tools)
            case _:
                assert_never(rule)

    def known(self, names: list[str]) -> list[ToolSpec]:
        tools = self.tools
        return [tools[name] for name in names if name in tools]

    def tool_names(self, loc: Loc, names: list[str]) -> None:
        known = self.parts.tool_names
        if known is None:
            return
        for i, name in enumerate(names):
            if name in known:
                continue
            if name in self.parts.user_tool_names:
                message = f"'{name}' is a user tool; rules read the agent's calls only"
            else:
                message = _no_such("tool", name, known, "the agent's tools")
            self.report((*loc, i), message)

    def subject(self, loc: Loc, rule: AfterRule) -> None:
        subject = rule.subject
        if subject is None:
            return
        tools = self.known(rule.named_tools)
        if isinstance(subject, str):
            for tool in tools:
                self.expression((*loc, "subject"), subject, tool)
            return
        for name, source in subject.items():
            if name not in rule.named_tools:
                named = ", ".join(rule.named_tools)
                message = f"'{name}' is not one of the rule's tools ({named})"
                self.report((*loc, "subject", name), message)
            elif name in self.tools:
                self.expression((*loc, "subject", name), source, self.tools[name])
        # A tool that does not exist is reported once, by `tool_names`.
        missing = [tool.name for tool in tools if tool.name not in subject]
        if missing:
            self.report(
                (*loc, "subject"),
                f"no subject for {', '.join(missing)}: give every tool of the rule one, "
                "or one expression for all",
            )

    def expression(self, loc: Loc, source: str, tool: ToolSpec) -> None:
        try:
            compiled = compile_expression(source, names=rule_expression_names(tool))
        except ExpressionSyntaxError as error:
            self.report(loc, f"for {tool.name}: {_syntax(error)}")
            return
        database = self.parts.database
        if isinstance(database, Mapping):
            for table in sorted(compiled.tables_used - set(database)):
                self.report(loc, _no_such("table", table, database, "the database"))

    def confirmation(self, loc: Loc, rule: ConfirmationRule) -> None:
        if rule.tools is not None:
            self.tool_names((*loc, "tools"), rule.tools)
        covered = sorted(rule.covered(self.parts.tools))
        if rule.tools is None and not covered and self.parts.tool_names is not None:
            self.report(loc, "the pack has no tool of kind write; list the rule's `tools`")
        tools = self.known(covered)
        description = rule.described_by
        at = (*loc, "described_by")
        for i, name in enumerate(description.arguments):
            if tools and not any(name in tool.parameters for tool in tools):
                where = f"the parameters of {', '.join(t.name for t in tools)}"
                message = _no_such("parameter", name, _params(tools), where)
                self.report((*at, "arguments", i), message)
        if isinstance(description.patterns, dict):
            for name in description.patterns:
                if name not in covered:
                    listed = ", ".join(covered)
                    message = f"'{name}' is not one of the tools the rule covers ({listed})"
                    self.report((*at, "patterns", name), message)
        if rule.judge:
            return
        bare = [tool.name for tool in tools if not _cued(rule, tool)]
        if bare:
            self.report(
                at,
                f"nothing to look for in a description of {', '.join(bare)}: give it patterns, "
                "or arguments it takes, or tool_words: true",
            )

    def task(self, loc: Loc, task: Task, pack_names: set[str]) -> None:
        at = (*loc, "rules")
        for i, name in enumerate(task.rules.disable):
            if name not in pack_names:
                message = _no_such("rule", name, pack_names, "the pack's rules")
                self.report((*at, "disable", i), message)
        taken = pack_names - set(task.rules.disable)
        added = [((*at, "add", i, "name"), rule.name) for i, rule in enumerate(task.rules.add)]
        self.unique(added, taken=taken)
        for i, rule in enumerate(task.rules.add):
            self.rule((*at, "add", i), rule)
        basis = task.evaluation_criteria.reward_basis
        if RewardType.RULES in basis and not (taken or task.rules.add):
            self.report(
                (*loc, "evaluation_criteria", "reward_basis"),
                "RULES is in the reward basis but no rule applies to the task",
            )


def _params(tools: list[ToolSpec]) -> set[str]:
    return {name for tool in tools for name in tool.parameters}


def _cued(rule: ConfirmationRule, tool: ToolSpec) -> bool:
    """Whether a description of a call of `tool` has something to be checked against."""
    description = rule.described_by
    if description.tool_words or description.patterns_for(tool.name):
        return True
    return any(name in tool.parameters for name in description.arguments)
