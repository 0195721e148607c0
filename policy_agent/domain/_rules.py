"""The policy rules of a pack (`rules.yaml`) and of a task: checked over every episode.

A rule names something the policy asks of the agent that can be seen in the trajectory: a tool
only after another succeeded for the same customer (`after`), a tool never called when an
expression holds (`forbidden_call`), a write only after the agent described it and the user
agreed (`confirmation`), text the agent must never send (`forbidden_text`), and limits on calls
(`limit`). `policy_agent.evaluation` checks them; docs/rules.md describes each kind and what a
rule cannot see.

Patterns are Python regular expressions, matched ignoring case. Expressions are the pack
expression language, checked when the pack loads (`policy_agent.domain._rule_checks`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Discriminator, Field, JsonValue, Tag, model_validator

from policy_agent.domain._models import Expression, Identifier, ToolKind, ToolSpec, _Strict
from policy_agent.records import (
    AgentMessage,
    ConversationRecord,
    RuleKind,
    RuleSeverity,
    UserMessage,
)


def _valid_pattern(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as error:
        where = f" at position {error.pos}" if error.pos is not None else ""
        raise ValueError(f"not a regular expression: {error.msg}{where} of {pattern!r}") from None
    return pattern


Pattern = Annotated[
    str,
    AfterValidator(_valid_pattern),
    Field(
        min_length=1,
        description="A Python regular expression, matched ignoring case, e.g. `\\bvouchers?\\b`.",
    ),
]

AGREED_BY = (
    r"\byes\b",
    r"\byeah\b",
    r"\byep\b",
    r"\bsure\b",
    r"\bok(ay)?\b",
    r"\bgo ahead\b",
    r"\bplease do\b",
    r"\bproceed\b",
    r"\bconfirm(ed)?\b",
    r"\b(that'?s|sounds) (fine|good|great|perfect)\b",
    r"\bdo it\b",
)
"""The replies a `confirmation` rule takes as agreement unless the rule gives its own."""
REFUSED_BY = (
    r"\bno\b(?!\s+(problem|worries)\b)",
    r"\bnope\b",
    r"\bnot (yet|now)\b",
    r"\b(don'?t|do not)\s+(do|go|cancel|change|add|move|book)\b",
    r"\bwait\b",
    r"\bhold on\b",
)
"""Replies that never agree, even when they match an agreeing pattern (`Yes, but wait`)."""
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


def _search(patterns: Iterable[str], text: str) -> str | None:
    """The first of `patterns` found in `text` (ignoring case), or None."""
    return next((p for p in patterns if re.search(p, text, re.IGNORECASE)), None)


def _normal(text: str) -> str:
    """Lower case, with `_`, `-` and runs of white space all one space: `late_checkout` and
    `Late checkout` read alike."""
    return " ".join(re.sub(r"[_\-\s]+", " ", text).lower().split())


class _Rule(_Strict):
    name: Identifier = Field(description="Unique among the pack's and the task's rules.")
    description: str = Field(
        default="", description="What the policy asks, for people (shown in reports)."
    )
    severity: RuleSeverity = Field(
        default=RuleSeverity.MAJOR, description="critical, major or minor: what a gate fails on."
    )


class AfterRule(_Rule):
    """A call of `tools` only after a call of `after` succeeded for the same subject.

    The subject is what a call is about (a customer, a record): `subject` gives it as an
    expression over the call's arguments, its `result` and the database as it was just before
    the call, one for every tool or one per tool. A list means every item. Without `subject`,
    any earlier success of `after` will do.
    """

    kind: Literal["after"]
    tools: list[Identifier] = Field(min_length=1, description="The calls the rule guards.")
    after: list[Identifier] = Field(
        min_length=1, description="One of these must have succeeded before (for the same subject)."
    )
    subject: Expression | dict[Identifier, Expression] | None = Field(
        default=None,
        description=(
            "What a call is about: one expression for every tool (`guest_id`), or one per tool "
            "(`{get_guest_details: guest_id, cancel_booking: \"lookup('bookings', "
            "booking_id).guest_id\"}`). It sees the call's arguments, `args`, `result` (the "
            "call's result as JSON, null for an error) and the tables as before the call."
        ),
    )

    @property
    def named_tools(self) -> list[str]:
        """Every tool the rule names, guarded first."""
        return [*self.tools, *(t for t in self.after if t not in self.tools)]


class ForbiddenCallRule(_Rule):
    """`tools` never called when `when` holds (never at all without `when`).

    An attempt counts, even one the tool refused: the rule is about what the agent tried.
    """

    kind: Literal["forbidden_call"]
    tools: list[Identifier] = Field(min_length=1, description="The calls the rule forbids.")
    when: Expression | None = Field(
        default=None,
        description=(
            "When the call is forbidden: an expression over its arguments, `args`, `result` and "
            "the tables as before the call. Without it the tools are never to be called."
        ),
    )


class Description(_Strict):
    """How the agent's message before a write must describe it; every cue given must hold."""

    tool_words: bool = Field(
        default=False,
        description="Every word of the tool's name appears (`cancel` and `booking`).",
    )
    arguments: list[Identifier] = Field(
        default_factory=list,
        description="The values of these arguments appear (those the call passes).",
    )
    patterns: list[Pattern] | dict[Identifier, list[Pattern]] = Field(
        default_factory=list,
        description=(
            "One of these patterns matches: a list for every tool, or lists per tool (a tool "
            "left out has no pattern cue)."
        ),
    )

    @model_validator(mode="after")
    def _some_cue(self) -> Description:
        if not (self.tool_words or self.arguments or self.patterns):
            raise ValueError("give at least one cue: tool_words: true, arguments or patterns")
        return self

    def patterns_for(self, tool: str) -> list[str]:
        """The pattern cue of `tool` (empty: none)."""
        if isinstance(self.patterns, dict):
            return self.patterns.get(tool, [])
        return self.patterns

    def missing(self, text: str, tool: str, arguments: Mapping[str, JsonValue]) -> list[str]:
        """The cues `text` does not meet for a call of `tool` with `arguments` (empty: it
        describes the call)."""
        said = _normal(text)
        missing = []
        if self.tool_words:
            missing += [
                f"the word {word!r}"
                for word in tool.lower().split("_")
                if word and re.search(rf"\b{re.escape(word)}\b", said) is None
            ]
        for name in self.arguments:
            if name in arguments and _normal(_text(arguments[name])) not in said:
                missing.append(f"{name} {_text(arguments[name])!r}")
        patterns = self.patterns_for(tool)
        if patterns and _search(patterns, text) is None:
            missing.append("a match for " + " or ".join(f"/{p}/" for p in patterns))
        return missing


def _text(value: JsonValue) -> str:
    return value if isinstance(value, str) else str(value)


class ConfirmationRule(_Rule):
    """A write only after the agent's last message before the user's last message described it,
    and that user message agreed.

    With `judge: true` the LLM judge decides instead of the cues and patterns (one call per
    write, kept as judge usage).
    """

    kind: Literal["confirmation"]
    tools: list[Identifier] | None = Field(
        default=None, description="The calls that need a yes (default: every tool of kind write)."
    )
    described_by: Description = Field(
        default_factory=lambda: Description(tool_words=True),
        description="How the agent's message must describe the call (default: tool_words).",
    )
    agreed_by: list[Pattern] = Field(
        default_factory=lambda: list(AGREED_BY),
        min_length=1,
        description="The user's reply agrees when one of these matches (default: yes, ...).",
    )
    refused_by: list[Pattern] = Field(
        default_factory=lambda: list(REFUSED_BY),
        description="A reply matching one of these never agrees (default: no, wait, ...).",
    )
    judge: bool = Field(
        default=False,
        description="Ask the LLM judge instead of the patterns (one call per write).",
    )

    def covered(self, tools: Iterable[ToolSpec]) -> frozenset[str]:
        """The names of the agent's tools this rule asks a yes for."""
        if self.tools is not None:
            return frozenset(self.tools)
        return frozenset(tool.name for tool in tools if tool.kind is ToolKind.WRITE)

    def agrees(self, reply: str) -> bool:
        """Whether the user's `reply` agrees: an agreeing pattern and no refusing one."""
        agreed = _search(self.agreed_by, reply) is not None
        return agreed and _search(self.refused_by, reply) is None

    def confirms(
        self, described: str, reply: str, tool: str, arguments: Mapping[str, JsonValue]
    ) -> bool:
        """Whether the agent's message `described` and the user's `reply` make a yes for the call
        (by the cues and patterns; the judge is the evaluator's business)."""
        return not self.described_by.missing(described, tool, arguments) and self.agrees(reply)


def last_exchange(
    records: Sequence[ConversationRecord], before: int
) -> tuple[int | None, int | None]:
    """What a `confirmation` reads before the record at index `before`: the index of the agent's
    last message before the user's last message, and the index of that user message (None for
    either that is not there)."""
    reply = _last(records, UserMessage, before)
    return (None if reply is None else _last(records, AgentMessage, reply)), reply


def _last(
    records: Sequence[ConversationRecord], kind: type[UserMessage | AgentMessage], before: int
) -> int | None:
    return next((i for i in range(before - 1, -1, -1) if isinstance(records[i], kind)), None)


class ForbiddenTextRule(_Rule):
    """Text the agent must never send: a sentence of an agent message matching a pattern.

    A sentence that also matches an `unless` pattern is let through (`I cannot offer a
    voucher`). Only messages to the user are read, never reasoning or tool arguments.
    """

    kind: Literal["forbidden_text"]
    patterns: list[Pattern] = Field(min_length=1, description="What must never be said.")
    unless: list[Pattern] = Field(
        default_factory=list,
        description="A sentence matching one of these is allowed (a refusal, a negation).",
    )

    def offending(self, text: str) -> tuple[str, str] | None:
        """The first sentence of `text` the rule forbids, and the pattern it matched."""
        for sentence in _SENTENCE_END.split(text):
            pattern = _search(self.patterns, sentence)
            if pattern is not None and _search(self.unless, sentence) is None:
                return sentence.strip(), pattern
        return None


class LimitRule(_Rule):
    """At most `max_calls` calls of `tools`, each within the user's first `within_user_turns`
    messages (the task's history counts)."""

    kind: Literal["limit"]
    tools: list[Identifier] = Field(min_length=1, description="The calls counted.")
    max_calls: int | None = Field(default=None, ge=0, description="At most this many calls.")
    within_user_turns: int | None = Field(
        default=None,
        ge=0,
        description="Each call comes after at most this many user messages (e.g. a transfer).",
    )

    @model_validator(mode="after")
    def _some_limit(self) -> LimitRule:
        if self.max_calls is None and self.within_user_turns is None:
            raise ValueError("give max_calls, within_user_turns or both")
        return self


def _rule_kind(value: object) -> str | None:
    kind = value.get("kind") if isinstance(value, dict) else getattr(value, "kind", None)
    return kind if isinstance(kind, str) else None


RULE_KINDS: tuple[str, ...] = get_args(RuleKind)
Rule = Annotated[
    Annotated[AfterRule, Tag("after")]
    | Annotated[ForbiddenCallRule, Tag("forbidden_call")]
    | Annotated[ConfirmationRule, Tag("confirmation")]
    | Annotated[ForbiddenTextRule, Tag("forbidden_text")]
    | Annotated[LimitRule, Tag("limit")],
    Discriminator(
        _rule_kind,
        custom_error_type="invalid_rule_kind",
        custom_error_message=f"give `kind:` one of {', '.join(RULE_KINDS)}",
    ),
]
"""One rule of `rules.yaml` (or of a task's `rules.add`)."""
AnyRule = AfterRule | ForbiddenCallRule | ConfirmationRule | ForbiddenTextRule | LimitRule


class TaskRules(_Strict):
    """A task's changes to the pack's rules."""

    disable: list[Identifier] = Field(
        default_factory=list, description="Pack rules that do not apply to this task."
    )
    add: list[Rule] = Field(
        default_factory=list,
        description="Rules of this task only (a name of the pack's replaces it when in `disable`).",
    )


@dataclass(frozen=True, kw_only=True)
class AppliedRule:
    """A rule as it applies to one task: the rule, and whether the pack or the task gave it."""

    rule: AnyRule
    source: Literal["pack", "task"]


def confirmations(
    rules: Iterable[AppliedRule], tools: Sequence[ToolSpec]
) -> dict[str, tuple[ConfirmationRule, ...]]:
    """Tool name -> the `confirmation` rules among `rules` that ask a yes before calling it."""
    found: dict[str, tuple[ConfirmationRule, ...]] = {}
    for applied in rules:
        if isinstance(applied.rule, ConfirmationRule):
            for name in sorted(applied.rule.covered(tools)):
                found[name] = (*found.get(name, ()), applied.rule)
    return found


def rules_for(pack_rules: Sequence[AnyRule], task_rules: TaskRules) -> tuple[AppliedRule, ...]:
    """The rules of a task: the pack's, less those it disables, then its own."""
    disabled = set(task_rules.disable)
    kept = [AppliedRule(rule=r, source="pack") for r in pack_rules if r.name not in disabled]
    return (*kept, *(AppliedRule(rule=r, source="task") for r in task_rules.add))
