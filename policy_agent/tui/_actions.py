"""The task's expected actions beside the calls the episode made, paired for reading.

The evaluator decides whether an expected action was made (`RewardInfo.action_checks`); when it
did, its verdict is shown. The pairing here only puts each expected action next to the call that
most likely was its attempt (same caller and tool, compared arguments equal if one is), so that a
reader sees what was called instead; calls no action expected are listed after them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from policy_agent.records import AgentToolCall, Episode, RecordedAction, UserToolCall

Call = AgentToolCall | UserToolCall


@dataclass(frozen=True, kw_only=True)
class ActionRow:
    """One expected action and the call paired with it, or a call no action expected."""

    expected: RecordedAction | None
    actual: Call | None
    matched: bool | None
    """Whether the action was made: the evaluator's verdict when the episode has one, else
    whether the paired call's compared arguments are equal; None for an unexpected call."""


def pair_actions(expected: Sequence[RecordedAction], episode: Episode) -> list[ActionRow]:
    """Rows for `expected` in order, each with its call, then the calls left over."""
    calls: list[Call] = [r for r in episode.messages if isinstance(r, AgentToolCall | UserToolCall)]
    verdicts: dict[str, bool] = {}
    if episode.reward is not None:
        verdicts = {c.action.action_id: c.action_match for c in episode.reward.action_checks}
    used: set[int] = set()
    rows: list[ActionRow] = []
    for action in expected:
        candidates = [
            index
            for index, call in enumerate(calls)
            if index not in used and call.name == action.name and _caller(call) == action.requestor
        ]
        exact = [index for index in candidates if arguments_match(action, calls[index].arguments)]
        chosen = next(iter(exact or candidates), None)
        if chosen is not None:
            used.add(chosen)
        matched = verdicts.get(action.action_id, bool(exact))
        actual = None if chosen is None else calls[chosen]
        rows.append(ActionRow(expected=action, actual=actual, matched=matched))
    rows.extend(
        ActionRow(expected=None, actual=call, matched=None)
        for index, call in enumerate(calls)
        if index not in used
    )
    return rows


def arguments_match(action: RecordedAction, arguments: dict[str, JsonValue]) -> bool:
    """Whether `arguments` equal the action's on the arguments it compares (`compare_args`)."""
    names = action.arguments.keys() if action.compare_args is None else action.compare_args
    return all(
        _canonical(arguments.get(name)) == _canonical(action.arguments.get(name)) for name in names
    )


def _canonical(value: JsonValue) -> str:
    # As the DB hash sees values, except that 3 and 3.0 are one number to a tool's schema.
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _caller(call: Call) -> str:
    return "user" if isinstance(call, UserToolCall) else "assistant"


def call_text(name: str, arguments: dict[str, JsonValue]) -> str:
    """`name(key="value", n=3)`: a call on one line, values as JSON."""
    shown = ", ".join(
        f"{key}={json.dumps(value, ensure_ascii=False)}" for key, value in arguments.items()
    )
    return f"{name}({shown})"
