"""The episode list's filter: one line of `key:value` terms and free words, all of which must hold.

```
is:failed task:crib reason:max_steps code:multiple_tool_calls rule:yes "quiet room"
```
`is:failed` (or `is:passed`) keeps episodes by outcome; `task:` keeps task ids containing the
value; `reason:` termination reasons starting with it; `code:` episodes with a violation whose
code contains it; `rule:` episodes that broke a policy rule whose name contains it. Terms of
one key are alternatives (`task:a task:b` is either). Everything else is searched for,
case-insensitively, in the conversation's text; quotes keep a phrase together.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from policy_agent.records import TerminationReason, ViolationCode
from policy_agent.tui._log import EpisodeEntry

KEYS = ("is:", "task:", "reason:", "code:", "rule:")
OUTCOMES = ("failed", "passed")


@dataclass(frozen=True, kw_only=True)
class EpisodeFilter:
    """A parsed filter line (see the module's docstring); the empty filter keeps everything."""

    outcomes: tuple[str, ...] = ()
    """`failed` and/or `passed`."""
    tasks: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    words: tuple[str, ...] = ()
    """Lower-cased words and phrases to find in the conversation."""

    @classmethod
    def parse(cls, text: str) -> EpisodeFilter:
        """The filter a line describes; a key with nothing after it (still being typed) is
        ignored, and an unbalanced quote is read as if it were closed at the end."""
        terms: dict[str, list[str]] = {key: [] for key in KEYS}
        words: list[str] = []
        for token in _tokens(text):
            key, _, value = token.partition(":")
            if f"{key.lower()}:" in terms and value:
                terms[f"{key.lower()}:"].append(value.lower())
            elif f"{key.lower()}:" not in terms:
                words.append(token.lower())
        return cls(
            outcomes=tuple(terms["is:"]),
            tasks=tuple(terms["task:"]),
            reasons=tuple(terms["reason:"]),
            codes=tuple(terms["code:"]),
            rules=tuple(terms["rule:"]),
            words=tuple(words),
        )

    def matches(self, entry: EpisodeEntry, text: Callable[[EpisodeEntry], str]) -> bool:
        """Whether `entry` passes every term; `text` gives its search text (`EpisodeLog.text`),
        asked for only when the other terms hold and there are words to find."""
        outcome = {True: "passed", False: "failed", None: "unscored"}[entry.success]
        return (
            _any(self.outcomes, lambda wanted: outcome == wanted)
            and _any(self.tasks, lambda part: part in entry.task_id.lower())
            and _any(self.reasons, lambda start: entry.termination.value.startswith(start))
            and _any(self.codes, lambda part: any(part in code for code in entry.codes))
            and _any(self.rules, lambda part: any(part in rule.lower() for rule in entry.rules))
            and (not self.words or _contains_all(text(entry), self.words))
        )

    @property
    def is_empty(self) -> bool:
        """Whether the filter keeps every episode."""
        return not (
            self.outcomes or self.tasks or self.reasons or self.codes or self.rules or self.words
        )


def _contains_all(text: str, words: tuple[str, ...]) -> bool:
    return all(word in text for word in words)


def _any(values: tuple[str, ...], test: Callable[[str], bool]) -> bool:
    """True when no value is given, else whether `test` holds for one of them."""
    return not values or any(test(value) for value in values)


def _tokens(text: str) -> list[str]:
    try:
        return shlex.split(text)
    except ValueError:
        # An unbalanced quote while the phrase is being typed: close it.
        try:
            return shlex.split(text + '"')
        except ValueError:
            return shlex.split(text + "'")


def toggle_failed(text: str) -> str:
    """The filter line with `is:failed` added, or removed when it is there."""
    tokens = text.split()
    if "is:failed" in tokens:
        return " ".join(token for token in tokens if token != "is:failed")
    return " ".join(["is:failed", *tokens])


def completions(entries: Iterable[EpisodeEntry]) -> list[str]:
    """The terms the filter line can complete to, for these episodes."""
    entries = list(entries)
    tasks = dict.fromkeys(entry.task_id for entry in entries)
    rules = dict.fromkeys(rule for entry in entries for rule in entry.rules)
    found: list[str] = [f"is:{outcome}" for outcome in OUTCOMES]
    found += [f"task:{task}" for task in tasks]
    found += [f"reason:{reason.value}" for reason in TerminationReason]
    found += [f"code:{code.value}" for code in ViolationCode]
    found += [f"rule:{rule}" for rule in rules]
    return found


def complete(text: str, candidates: list[str]) -> str | None:
    """`text` with its last term completed from `candidates` (None when none extends it)."""
    head, _, last = text.rpartition(" ")
    if not last:
        return None
    for candidate in candidates:
        if candidate.lower().startswith(last.lower()) and len(candidate) > len(last):
            return f"{head} {candidate}" if head else candidate
    return None
