"""A task's initial state, applied to a fresh episode: the data, the actions, the history's calls.

The order is tau2-bench's `Environment.set_state`: merge the data into both databases, make the
initial actions (the sync hook after each), make the message history's tool calls (each checked
against the result the history records), then run the sync hook once more. Anything that fails
raises `InitialStateError` naming the task and the step: a task that cannot start is a bug in the
pack, never something to score.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from pydantic import JsonValue

from policy_agent.domain import InitialState, Task
from policy_agent.environment._database import Database
from policy_agent.environment._errors import InitialStateError

if TYPE_CHECKING:
    from policy_agent.environment._environment import EpisodeEnvironment, ToolOutcome


def apply_initial_state(
    episode: EpisodeEnvironment,
    task: Task,
    *,
    function: Callable[[str], Callable[..., object]],
) -> tuple[ToolOutcome, ...]:
    """Put `episode` in the task's initial state; the results of the history's tool calls.

    `function` loads a Python reference (`file.py:function`) of the pack.
    """
    state = task.initial_state
    if state is None:
        return ()
    where = f"task {task.id!r}: initial_state"
    _merge(episode.database, state.database, f"{where}.database")
    _merge(episode.user_database, state.user_database, f"{where}.user_database")
    for index, action in enumerate(state.actions):
        at = f"{where}.actions[{index}] {action.label}"
        if action.python is not None:
            database = episode.user_database if action.side == "user" else episode.database
            try:
                function(action.python)(database, **action.arguments)
            except Exception as error:
                raise InitialStateError(f"{at} raised {type(error).__name__}: {error}") from error
            episode.sync(at)
        else:
            assert action.name is not None  # InitialAction holds a name or a python reference
            result = episode.call(action.name, action.arguments, requestor=action.side)
            if result.error:
                raise InitialStateError(f"{at} failed: {result.content}")
    results = _history_calls(episode, state, where)
    episode.sync(where)
    return results


def _history_calls(
    episode: EpisodeEnvironment, state: InitialState, where: str
) -> tuple[ToolOutcome, ...]:
    results = []
    for index, message in enumerate(state.messages):
        call = message.tool_call
        if call is None:
            continue
        result = episode.call(call.name, call.arguments, requestor=message.role)
        if message.result is not None and not same_result(result.content, message.result):
            raise InitialStateError(
                f"{where}.messages[{index}]: {call.name} returned {_short(result.content)}, "
                f"but the history says it returned {_short(message.result)}; update the "
                "history's `result` (or the data it depends on)"
            )
        results.append(result)
    return tuple(results)


def _merge(database: Database, tables: Mapping[str, Mapping[str, JsonValue]], where: str) -> None:
    """tau2-bench's `update_db`: a new record is added, an existing one deep-merged."""
    for table, records in tables.items():
        for record_id, fields in records.items():
            if not isinstance(fields, Mapping):
                raise InitialStateError(
                    f"{where}.{table}.{record_id}: a record is a mapping of fields, "
                    f"not {type(fields).__name__}"
                )
            if database.exists(table, record_id):
                merged = merge_json(database.get(table, record_id), fields)
                database.update(table, record_id, **merged)
            else:
                database.insert(table, record_id, fields)


def merge_json(
    base: Mapping[str, JsonValue], update: Mapping[str, JsonValue]
) -> dict[str, JsonValue]:
    """`base` with `update` merged in: mappings on both sides merge, any other value replaces."""
    merged = dict(base)
    for key, value in update.items():
        current = merged.get(key)
        if isinstance(value, Mapping) and isinstance(current, Mapping):
            merged[key] = merge_json(current, value)
        else:
            merged[key] = value
    return merged


def same_result(replayed: str, recorded: str) -> bool:
    """Whether a tool result equals a recorded one, as tau2-bench compares them: each side as its
    JSON value when it parses, else as its text."""
    return bool(_parsed(replayed) == _parsed(recorded))


def _parsed(content: str) -> object:
    try:
        return json.loads(content)
    except json.JSONDecodeError:
        return content


def _short(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
