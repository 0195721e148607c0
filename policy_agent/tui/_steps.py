"""An episode as the replay reads it: steps (one record and the events that led to it), ids.

Events are stored apart from the conversation (`Episode.events`); a reader wants each violation
or retry next to the turn it delayed, and each broken policy rule (`RewardInfo.rules`) at the
record that broke it. Every event happens before the record it led to (a
rejected attempt is stamped before the accepted one), so an event belongs to the first record
stamped at or after it. Events after the last record (an error that ended the episode) form a
last step of their own, with no record.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from policy_agent.records import (
    ConversationRecord,
    Episode,
    EpisodeEvent,
    RuleSeverity,
)
from policy_agent.tui._listing import ListedEpisode, success_of


@dataclass(frozen=True, kw_only=True)
class RuleMark:
    """A policy rule that broke at a step."""

    rule: str
    severity: RuleSeverity
    message: str


@dataclass(frozen=True, kw_only=True)
class Step:
    """One step of a replay: a conversation record and the events that came just before it."""

    index: int
    """0-based position in the episode's steps."""
    record: ConversationRecord | None
    """None only for the last step when events followed the last record."""
    events: tuple[EpisodeEvent, ...] = ()
    given: bool = False
    """The record is part of the task's message history (given, not played)."""
    rules: tuple[RuleMark, ...] = ()
    """The policy rules this record broke (from the episode's reward)."""


def steps_of(episode: Episode) -> tuple[Step, ...]:
    """The episode's steps in order: one per record, plus one for trailing events if any."""
    pending = sorted(episode.events, key=lambda event: event.timestamp)
    marks: dict[int, list[RuleMark]] = {}
    for result in episode.reward.rules if episode.reward is not None else []:
        for breach in result.breaches:
            mark = RuleMark(rule=result.rule, severity=result.severity, message=breach.message)
            marks.setdefault(breach.record_index, []).append(mark)
    steps: list[Step] = []
    for record in episode.messages:
        taken = 0
        while taken < len(pending) and pending[taken].timestamp <= record.timestamp:
            taken += 1
        index = len(steps)
        steps.append(
            Step(
                index=index,
                record=record,
                events=tuple(pending[:taken]),
                given=index < episode.initial_messages,
                rules=tuple(marks.get(index, ())),
            )
        )
        pending = pending[taken:]
    if pending:
        steps.append(Step(index=len(steps), record=None, events=tuple(pending)))
    return tuple(steps)


def rule_steps(steps: Sequence[Step]) -> tuple[int, ...]:
    """The indices of the steps where a policy rule broke (where `b` and `B` jump)."""
    return tuple(step.index for step in steps if step.rules)


def is_success(episode: Episode) -> bool | None:
    """Whether the episode succeeded; None when it has not been evaluated and ended normally."""
    reward = None if episode.reward is None else episode.reward.reward
    return success_of(reward, episode.termination_reason)


def violation_codes(episode: Episode) -> tuple[str, ...]:
    """The violation codes of the episode's events, in order, each once."""
    return ListedEpisode.of(episode).violation_codes


def broken_rules(episode: Episode) -> tuple[str, ...]:
    """The names of the policy rules the episode broke, in the reward's order."""
    return ListedEpisode.of(episode).broken_rules


def search_text(episode: Episode) -> str:
    """Everything a reader may search for in one episode, lower-cased, one part per line (what
    the list searches, `ListedEpisode.search_text`)."""
    return ListedEpisode.of(episode).search_text()


def search_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    """The replay's highlight rule: any of `words` literally, ignoring case; None for no words.

    The one rule behind both the highlight and the jumps between matches, so that every
    highlighted word is a match. Empty words (a filter of `""`) match nothing.
    """
    literal = [re.escape(word) for word in words if word]
    return re.compile("|".join(literal), re.IGNORECASE) if literal else None


@dataclass(frozen=True, kw_only=True)
class MatchJump:
    """Where a jump to the next or previous search match lands."""

    step: int
    """0-based index of the step to go to."""
    number: int
    """1-based: the how-manieth of the steps with a match it is."""
    total: int
    """How many steps have a match."""
    wrapped: bool
    """The jump went past the last (or first) step and started again at the other end."""

    @property
    def notice(self) -> str:
        """What the status line says, e.g. `match 3 of 7` or `match 1 of 7 (wrapped)`."""
        return f"match {self.number} of {self.total}" + (" (wrapped)" if self.wrapped else "")


def next_match(matches: Sequence[int], current: int, delta: int) -> MatchJump | None:
    """The jump from step `current` to the next (`delta` 1) or previous (-1) of `matches`
    (ascending step indices), wrapping around as less and vim do; None without matches."""
    if not matches:
        return None
    ahead = [index for index in matches if (index - current) * delta > 0]
    wrapped = not ahead
    if wrapped:
        target = matches[0] if delta > 0 else matches[-1]
    else:
        target = ahead[0] if delta > 0 else ahead[-1]
    return MatchJump(
        step=target, number=matches.index(target) + 1, total=len(matches), wrapped=wrapped
    )
