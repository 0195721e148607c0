"""tau2-bench's task initial states written as a pack task's `initial_state`.

tau2's `Environment.set_state` merges `initialization_data` into both databases (addict's
`update`: nested mappings merged, anything else replaced), runs each `initialization_actions`
entry as `getattr(toolkit, func_name)(**arguments)`, then replays the `message_history`'s tool
calls, checking each result. A pack says the same: `database` and `user_database` record by
record, `actions` calling the generated `tau2_tools.py` functions, `messages` with one tool call
and its recorded `result` each. What it cannot say raises `UnmappableState`, and the importer
leaves the task out with that reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.tau2._domains import Side, import_tau2
from policy_agent.tau2._layout import TableKind, TableLayout, database_layout


class UnmappableState(PolicyAgentError):
    """A tau2 initial state a pack cannot express; the message says which part and why."""


def initial_state(
    state: Any, databases: Mapping[Side, BaseModel], references: Mapping[Side, str]
) -> dict[str, JsonValue] | None:
    """tau2's `InitialState` as a pack's (None when it sets nothing).

    `databases` are each side's tau2 DB at the pack's initial state (the merged records are
    validated against them, as tau2 validates its whole DB after `update_db`); `references` the
    repository-relative paths of the generated tool files.
    """
    if state is None:
        return None
    written: dict[str, JsonValue] = {}
    data = state.initialization_data
    updates: tuple[tuple[Side, str, Any], ...] = (
        ("assistant", "database", data.agent_data if data is not None else None),
        ("user", "user_database", data.user_data if data is not None else None),
    )
    for side, key, update in updates:
        if update:
            if side not in databases:
                raise UnmappableState(f"initialization_data sets {key}, which the domain lacks")
            written[key] = _tables(update, databases[side])
    actions: list[JsonValue] = [
        _action(call, references) for call in state.initialization_actions or []
    ]
    if actions:
        written["actions"] = actions
    messages = _messages(state.message_history or [])
    if messages:
        written["messages"] = messages
    return written or None


def side_of(env_type: Any) -> Side:
    """tau2's `env_type` (an enum in some versions, a plain string in others) as a side."""
    return "user" if str(getattr(env_type, "value", env_type)) == "user" else "assistant"


def _tables(update: Mapping[str, Any], database: BaseModel) -> dict[str, JsonValue]:
    layouts = {layout.field: layout for layout in database_layout(type(database))}
    name = type(database).__name__
    tables: dict[str, JsonValue] = {}
    for field, value in update.items():
        layout = layouts.get(field)
        if layout is None:
            raise UnmappableState(f"initialization_data sets {name}.{field}, not a field of it")
        if layout.kind is TableKind.LIST:
            raise UnmappableState(
                f"initialization_data updates the list {name}.{field}, which tau2 replaces "
                "whole; pack tables are merged record by record"
            )
        records: Mapping[str, object]
        current: Mapping[str, BaseModel]
        if layout.kind is TableKind.SINGLE:
            records, current = {field: value}, {field: getattr(database, field)}
        elif isinstance(value, Mapping):
            records, current = value, getattr(database, field)
        else:
            raise UnmappableState(
                f"initialization_data replaces the table {name}.{field} with "
                f"{type(value).__name__}; packs merge records into tables"
            )
        tables[field] = {
            key: _record(layout, current.get(key), partial, f"{name}.{field}[{key!r}]")
            for key, partial in records.items()
        }
    return tables


def _record(
    layout: TableLayout, original: BaseModel | None, partial: object, where: str
) -> JsonValue:
    """The fields the update sets, with the values tau2's validation gives them (a new record
    whole, its defaults filled), so that merging them yields tau2's record."""
    if not isinstance(partial, Mapping):
        raise UnmappableState(
            f"initialization_data sets {where} to {type(partial).__name__}, not a record"
        )
    if original is None:
        merged: JsonValue = layout.model.model_validate(partial).model_dump(mode="json")
        return merged
    utilities = import_tau2("tau2.utils.pydantic_utils")
    updated = utilities.update_pydantic_model_with_dict(original, dict(partial))
    return _projected(partial, updated.model_dump(mode="json"), original.model_dump(mode="json"))


def _projected(partial: object, merged: JsonValue, original: JsonValue) -> JsonValue:
    """`merged` cut down to the keys of `partial` wherever `original` had a mapping to merge
    into; elsewhere the merged value replaces the original whole, as it does in tau2."""
    if not (
        isinstance(partial, Mapping) and isinstance(merged, dict) and isinstance(original, dict)
    ):
        return merged
    # A key the record's model does not have is dropped by tau2's validation: so here.
    return {
        key: _projected(value, merged[key], original.get(key))
        for key, value in partial.items()
        if key in merged
    }


def _action(call: Any, references: Mapping[Side, str]) -> dict[str, JsonValue]:
    side = side_of(call.env_type)
    if side not in references:
        raise UnmappableState(f"initialization action {call.func_name} acts on the user's side")
    written: dict[str, JsonValue] = {"python": f"{references[side]}:{call.func_name}"}
    if side == "user":
        written["env_type"] = "user"
    written["arguments"] = call.arguments
    return written


def _messages(history: Sequence[Any]) -> list[JsonValue]:
    """The history as pack messages: text, or one tool call followed by its tool message."""
    written: list[JsonValue] = []
    position = 0
    while position < len(history):
        message, where = history[position], f"message_history[{position}]"
        if message.role not in ("user", "assistant"):
            raise UnmappableState(
                f"{where} is a {message.role} message that follows no single tool call; a "
                "pack's history holds user and assistant messages, each a text or one call"
            )
        calls = message.tool_calls or []
        if not calls:
            if not message.content:
                raise UnmappableState(f"{where} is a {message.role} message with no content")
            written.append({"role": message.role, "content": message.content})
            position += 1
            continue
        if len(calls) > 1 or message.content:
            what = f"{len(calls)} tool calls" if len(calls) > 1 else "text and a tool call"
            raise UnmappableState(
                f"{where} holds {what}; a pack's history message holds a text or one call"
            )
        call = calls[0]
        answer = history[position + 1] if position + 1 < len(history) else None
        if answer is None or answer.role != "tool" or getattr(answer, "id", None) != call.id:
            raise UnmappableState(f"{where}: the call {call.name} is not followed by its result")
        if call.requestor != message.role:
            raise UnmappableState(
                f"{where}: a {message.role} message makes a {call.requestor} tool call"
            )
        entry: dict[str, JsonValue] = {
            "role": message.role,
            "tool_call": {"name": call.name, "arguments": call.arguments},
        }
        if answer.content is not None:
            entry["result"] = answer.content
        written.append(entry)
        position += 2
    return written
