"""Each rule kind's check over an episode's records, giving one `RuleResult` per rule.

The checks read the records (and, for expressions, what `RuleProbe` observed during the replay;
for judged confirmations, the judge's verdicts). A breach names the record where the rule broke
and says what happened in a sentence the reader of `show` can act on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import assert_never

from policy_agent.domain import (
    AfterRule,
    AnyRule,
    ConfirmationRule,
    ForbiddenCallRule,
    ForbiddenTextRule,
    LimitRule,
    last_exchange,
)
from policy_agent.evaluation._calls import LoggedCall, logged_calls
from policy_agent.evaluation._judge import JudgeVerdict
from policy_agent.evaluation._rules import Failed, Observed, RuleBook, RuleProbe, call_text
from policy_agent.records import (
    AgentMessage,
    Episode,
    RuleBreach,
    RuleResult,
    RuleStatus,
    UserMessage,
)

_QUOTED = 120
"""Quoted messages are cut after this many characters in a breach's message."""


@dataclass(kw_only=True)
class _Found:
    """What one rule found: how often it applied, where it broke, why it could not tell."""

    applications: int = 0
    breaches: list[RuleBreach] = field(default_factory=list)
    error: str | None = None

    def breach(self, index: int, message: str) -> None:
        self.breaches.append(RuleBreach(record_index=index, message=message))

    def undecided(self, index: int, message: str) -> None:
        if self.error is None:
            self.error = f"step {index + 1}: {message}"


@dataclass(frozen=True, kw_only=True)
class _Trajectory:
    """The episode as the checks read it."""

    episode: Episode
    calls: list[LoggedCall]
    """The agent's calls, the task's history included."""
    values: Mapping[tuple[str, int], Observed]

    @property
    def start(self) -> int:
        """The index of the first played record (after the task's history)."""
        return self.episode.initial_messages

    def played(self, names: Sequence[str] | frozenset[str]) -> list[LoggedCall]:
        return [c for c in self.calls if c.index >= self.start and c.name in names]


def check_rules(
    book: RuleBook,
    episode: Episode,
    probe: RuleProbe,
    verdicts: Mapping[tuple[str, int], JudgeVerdict] | None = None,
) -> list[RuleResult]:
    """Every rule of `book` over `episode`, in the book's order (the pack's, then the task's).

    `verdicts` are the judge's, by (rule, record index), for rules with `judge: true`; None
    when no judge was asked (those rules are then undecided).
    """
    calls = [c for c in logged_calls(episode.messages) if c.requestor == "assistant"]
    trajectory = _Trajectory(episode=episode, calls=calls, values=probe.values)
    results = []
    for applied in book.rules:
        rule = applied.rule
        found = _Found()
        if rule.name in book.broken:
            found.error = book.broken[rule.name]
        else:
            _check(rule, trajectory, book, verdicts, found)
        results.append(
            RuleResult(
                rule=rule.name,
                kind=rule.kind,
                severity=rule.severity,
                description=" ".join(rule.description.split()),
                source=applied.source,
                status=_status(found),
                applications=found.applications,
                breaches=found.breaches,
                error=found.error,
                judged=isinstance(rule, ConfirmationRule) and rule.judge,
            )
        )
    return results


def _status(found: _Found) -> RuleStatus:
    if found.breaches:
        return RuleStatus.BROKEN
    if found.error is not None:
        return RuleStatus.UNDECIDED
    return RuleStatus.HELD if found.applications else RuleStatus.NOT_APPLICABLE


def _check(
    rule: AnyRule,
    trajectory: _Trajectory,
    book: RuleBook,
    verdicts: Mapping[tuple[str, int], JudgeVerdict] | None,
    found: _Found,
) -> None:
    match rule:
        case AfterRule():
            _after(rule, trajectory, found)
        case ForbiddenCallRule():
            _forbidden_call(rule, trajectory, found)
        case ConfirmationRule():
            _confirmation(rule, trajectory, book.covered(rule), verdicts, found)
        case ForbiddenTextRule():
            _forbidden_text(rule, trajectory, found)
        case LimitRule():
            _limit(rule, trajectory, found)
        case _:
            assert_never(rule)


def _succeeded(call: LoggedCall) -> bool:
    return call.result is not None and not call.result.error


def _subjects(value: Observed) -> list[str]:
    """A subject's items as canonical JSON text (a list is every item; null is none)."""
    assert not isinstance(value, Failed)
    items = value if isinstance(value, list) else [value]
    return [json.dumps(i, sort_keys=True, ensure_ascii=False) for i in items if i is not None]


def _after(rule: AfterRule, trajectory: _Trajectory, found: _Found) -> None:
    verified: set[str] = set()
    any_success = False
    after = " or ".join(rule.after)
    for call in trajectory.calls:
        observed = trajectory.values.get((rule.name, call.index))
        if isinstance(observed, Failed):
            # A failed call about nothing that exists did nothing: not the rule's business.
            if _succeeded(call):
                found.undecided(call.index, f"{call.name}: {observed.error}")
            continue
        if call.name in rule.tools and call.index >= trajectory.start:
            found.applications += 1
            what = call_text(call.name, call.arguments)
            if rule.subject is None:
                if not any_success:
                    found.breach(call.index, f"{what} came before any {after} succeeded")
            else:
                subjects = _subjects(observed)
                missing = [s for s in subjects if s not in verified]
                if missing or not subjects:
                    about = ", ".join(missing) if subjects else "no one (its subject is null)"
                    known = f" (only for {', '.join(sorted(verified))})" if verified else ""
                    message = f"{what} is about {about}, but {after} had not succeeded for it"
                    found.breach(call.index, message + known)
        if call.name in rule.after and _succeeded(call):
            any_success = True
            if rule.subject is not None:
                verified.update(_subjects(observed))


def _forbidden_call(rule: ForbiddenCallRule, trajectory: _Trajectory, found: _Found) -> None:
    for call in trajectory.played(rule.tools):
        what = call_text(call.name, call.arguments)
        if rule.when is None:
            found.applications += 1
            found.breach(call.index, f"{what}: {call.name} must never be called")
            continue
        observed = trajectory.values.get((rule.name, call.index))
        if isinstance(observed, Failed):
            if _succeeded(call):
                found.applications += 1
                found.undecided(call.index, f"{call.name}: {observed.error}")
            continue
        found.applications += 1
        if observed:
            found.breach(call.index, f"{what} while {' '.join(rule.when.split())}")


def _confirmation(
    rule: ConfirmationRule,
    trajectory: _Trajectory,
    covered: frozenset[str],
    verdicts: Mapping[tuple[str, int], JudgeVerdict] | None,
    found: _Found,
) -> None:
    records = trajectory.episode.messages
    for call in trajectory.played(covered):
        found.applications += 1
        what = call_text(call.name, call.arguments)
        if rule.judge:
            _judged(rule, call, what, verdicts, found)
            continue
        asked_at, reply_at = last_exchange(records, call.index)
        if reply_at is None:
            found.breach(call.index, f"{what} came before the user said anything")
            continue
        reply = records[reply_at]
        assert isinstance(reply, UserMessage)
        if asked_at is None:
            found.breach(call.index, f"{what}: the agent asked nothing before the user's message")
            continue
        asked = records[asked_at]
        assert isinstance(asked, AgentMessage)
        reasons = []
        missing = rule.described_by.missing(asked.content, call.name, call.arguments)
        if missing:
            reasons.append(
                f"the agent's message at step {asked_at + 1} does not describe it "
                f"(missing {'; '.join(missing)})"
            )
        if not rule.agrees(reply.content):
            reasons.append(
                f"the user's reply at step {reply_at + 1} does not agree: {_quote(reply.content)}"
            )
        if reasons:
            found.breach(call.index, f"{what}: {'; '.join(reasons)}")


def _judged(
    rule: ConfirmationRule,
    call: LoggedCall,
    what: str,
    verdicts: Mapping[tuple[str, int], JudgeVerdict] | None,
    found: _Found,
) -> None:
    verdict = None if verdicts is None else verdicts.get((rule.name, call.index))
    if verdict is None:
        found.undecided(call.index, f"{what}: the rule asks the judge, and no judge is configured")
    elif verdict.usage.error is not None:
        found.undecided(call.index, f"{what}: the judge failed: {verdict.usage.error}")
    elif not all(check.met for check in verdict.checks):
        why = " ".join(check.justification for check in verdict.checks if not check.met)
        found.breach(call.index, f"{what}: the judge found no explicit yes for it: {why}")


def _forbidden_text(rule: ForbiddenTextRule, trajectory: _Trajectory, found: _Found) -> None:
    for index, record in enumerate(trajectory.episode.messages):
        if index < trajectory.start or not isinstance(record, AgentMessage):
            continue
        found.applications += 1
        offending = rule.offending(record.content)
        if offending is not None:
            sentence, pattern = offending
            found.breach(index, f"the agent said {_quote(sentence)} (matches /{pattern}/)")


def _limit(rule: LimitRule, trajectory: _Trajectory, found: _Found) -> None:
    made = 0
    names = " or ".join(rule.tools)
    # User messages before each record: turns_before[i] counts those at indexes below i.
    turns_before = [0, *accumulate(isinstance(r, UserMessage) for r in trajectory.episode.messages)]
    for call in trajectory.calls:
        if call.name not in rule.tools:
            continue
        made += 1
        if call.index < trajectory.start:
            continue
        found.applications += 1
        what = call_text(call.name, call.arguments)
        if rule.max_calls is not None and made > rule.max_calls:
            found.breach(call.index, f"{what} is call {made} of {names}; at most {rule.max_calls}")
        turns = turns_before[call.index]
        if rule.within_user_turns is not None and turns > rule.within_user_turns:
            found.breach(
                call.index,
                f"{what} came after {turns} user messages; at most {rule.within_user_turns}",
            )


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return json.dumps(flat if len(flat) <= _QUOTED else flat[:_QUOTED] + "…", ensure_ascii=False)
