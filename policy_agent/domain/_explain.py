"""Pydantic's validation errors about a pack, said in the pack author's words.

`policy_agent.yamlsource.explain` does the general work (union tags dropped, unknown keys with a
"did you mean", enums listed); here are the messages only a pack needs: the shape of a database
at each depth, names and Python references, the op a tool's implementation lacks, and the
keyword a parameter's JSON Schema gets wrong.
"""

from __future__ import annotations

from dataclasses import replace

from pydantic_core import ErrorDetails

from policy_agent.domain._models import Tables
from policy_agent.yamlsource import Explanation, Loc, describe, show_value
from policy_agent.yamlsource import explain as explain_value

_IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"
_DATABASE_SHAPES = (
    "a mapping of table names to tables of records keyed by id",
    "records keyed by id (a mapping of id to record)",
    "a record (a mapping of field to value)",
)
"""What is expected at each depth of a database (tables, table, record)."""


def explain(error: ErrorDetails, root: object) -> Explanation:
    """Translate one pydantic error raised validating pack data against the type `root`."""
    found = explain_value(error, root)
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if kind == "parameter_schema":
        # The validator says which keyword inside the parameter's schema is wrong.
        inner = (*found.loc, *ctx.get("keyword", ()))
        return Explanation(loc=inner, field=inner, message=str(ctx["message"]))
    if kind == "invalid_implementation" and isinstance(value, dict) and "op" in value:
        op_loc = (*found.loc, "op")
        message = (
            f"{show_value(value['op'])} is not an op; expected one of "
            "get, find, list, create, update, delete, respond (or python: file.py:function)"
        )
        return Explanation(loc=op_loc, field=op_loc, message=message)
    special = _pack_message(error, found.loc, database=root == Tables)
    return replace(found, message=special) if special else found


def _pack_message(error: ErrorDetails, loc: Loc, *, database: bool) -> str | None:
    kind, value, ctx = error["type"], error.get("input"), error.get("ctx") or {}
    if database and kind == "dict_type" and len(loc) < len(_DATABASE_SHAPES):
        return f"expected {_DATABASE_SHAPES[len(loc)]}, found {describe(value)}"
    if kind == "string_pattern_mismatch" and ctx.get("pattern") == _IDENTIFIER:
        return (
            f"{show_value(value)} is not a valid name; use letters, digits and _ "
            "(not starting with a digit)"
        )
    if kind == "string_pattern_mismatch" and loc and loc[-1] == "python":
        return f"{show_value(value)} is not a Python reference; write path/to/file.py:function"
    return None
