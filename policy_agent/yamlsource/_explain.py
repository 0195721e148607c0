"""Pydantic's validation errors, said in plain words and located in the author's data.

Pydantic reports `Input should be 'read', 'write', ... [type=enum]` at a location such as
`('tools', 2, 'implementation', 'get', 'table')`, where `get` is the tag of a union branch and not
a key the author wrote. Here the location is walked alongside the model's types, so tags are
dropped and the model or enum at the location is known: unknown keys get a "did you mean",
enums list their values, missing keys are named.
"""

from __future__ import annotations

import re
import types
from dataclasses import dataclass
from enum import Enum
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel, Tag
from pydantic_core import ErrorDetails

from policy_agent.yamlsource._wording import closest, describe, show_value
from policy_agent.yamlsource._yaml import Loc

_PLAIN_TYPES = {
    "string_type": "text",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
}
"""What an author should have written, by pydantic's error type."""
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, kw_only=True)
class Explanation:
    """One validation error, ready to report."""

    loc: Loc
    """Where the offending value is in the data (its line is reported)."""
    field: Loc
    """The path to name in the report: the parent mapping for missing and unknown keys."""
    message: str


def explain(error: ErrorDetails, root: object) -> Explanation:
    """Translate one pydantic error raised validating data against the type `root`."""
    loc, annotation, parent = _walk(root, tuple(error["loc"]))
    kind = error["type"]
    if kind == "missing":
        return Explanation(
            loc=loc[:-1], field=loc[:-1], message=f"missing required key '{loc[-1]}'"
        )
    if kind == "extra_forbidden":
        return Explanation(loc=loc, field=loc[:-1], message=_unknown_key(str(loc[-1]), parent))
    return Explanation(loc=loc, field=loc, message=_message(error, annotation, loc))


def field_path(loc: Loc) -> str:
    """A location as the author reads it: `tools[2].implementation.table`."""
    text = ""
    for segment in loc:
        if isinstance(segment, int):
            text += f"[{segment}]"
        elif _NAME.match(segment):
            text += f".{segment}" if text else segment
        else:
            text += f"[{segment!r}]"
    return text


def _message(error: ErrorDetails, annotation: object, loc: Loc) -> str:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind in _PLAIN_TYPES:
        return f"expected {_PLAIN_TYPES[kind]}, found {describe(value)}"
    if kind in ("enum", "literal_error"):
        choices = ", ".join(re.findall(r"'([^']*)'", str(ctx.get("expected", ""))))
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            noun = re.sub(r"(?<!^)(?=[A-Z])", " ", annotation.__name__).lower()
        else:
            noun = f"valid {loc[-1]}" if loc and isinstance(loc[-1], str) else "valid value"
        return f"{show_value(value)} is not a {noun}; expected one of {choices}"
    if kind == "string_pattern_mismatch":
        return f"{show_value(value)} does not match the pattern {ctx.get('pattern')}"
    if kind == "string_too_short":
        return "must not be empty"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    return str(error["msg"])


def _unknown_key(key: str, model: object) -> str:
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        return f"unknown key '{key}'"
    allowed = list(model.model_fields)
    close = closest(key, allowed)
    if close:
        return f"unknown key '{key}' (did you mean '{close}'?)"
    return f"unknown key '{key}'; expected one of {', '.join(allowed)}"


def _walk(root: object, raw: Loc) -> tuple[Loc, object, object]:
    """The location without union tags, the type found there and the type of its parent."""
    loc: list[str | int] = []
    current: object = root
    parent: object = None
    for segment in raw:
        current = _unwrap(current)
        members = _union_members(current)
        if members:
            tagged = next((m for m, tag in members if tag == segment), None)
            if tagged is not None:  # a tag pydantic added; the author never wrote it
                current = tagged
                continue
        if segment == "[key]":  # an error about a dict's key, located at the key itself
            continue
        loc.append(segment)
        parent, current = current, _child(current, segment)
    return tuple(loc), _unwrap(current), _unwrap(parent)


def _unwrap(annotation: object) -> object:
    """Drop `Annotated` metadata and `| None`, leaving the type that matters."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        members = [a for a in _args_of_union(annotation) if a is not type(None)]
        if len(members) == 1:
            annotation = members[0]
            continue
        return annotation


def _args_of_union(annotation: object) -> tuple[object, ...]:
    if get_origin(annotation) in (Union, types.UnionType):
        return get_args(annotation)
    return ()


def _union_members(annotation: object) -> list[tuple[object, str | None]]:
    """A union's members with their pydantic `Tag` (None when untagged)."""
    members: list[tuple[object, str | None]] = []
    for member in _args_of_union(annotation):
        tag = None
        if get_origin(member) is Annotated:
            tag = next((m.tag for m in get_args(member)[1:] if isinstance(m, Tag)), None)
        members.append((member, tag))
    return members


def _child(annotation: object, segment: str | int) -> object:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        field = annotation.model_fields.get(str(segment))
        return field.annotation if field is not None else None
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is list and args:
        return args[0]
    if origin is dict and len(args) == 2:
        return args[1]
    return None
