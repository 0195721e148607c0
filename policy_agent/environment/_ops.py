"""Declarative tools: the `op:` implementations of a pack, compiled once and run on every call.

Each op runs in the same steps:
1. the key (get, update, delete) names a record, bound as `record` with its id as `record.id`;
   an unknown id is the error result `<Record> <id> not found`;
2. preconditions are checked in order; the first that does not hold is the error result, its
   `error` template rendered;
3. the op reads or writes; every `set`/`values` expression is evaluated before anything is
   written, so all of them see the record as it was;
4. `returns`, when given, is the result instead of the op's own (it sees the same names).

A `steps` tool runs several such ops in order, each after the first seeing `results` (the
earlier steps' results); the environment undoes every write of a call that fails, so a refusal
in step 2 leaves step 1's write undone too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TypeVar, assert_never

from pydantic import JsonValue

from policy_agent.domain import (
    CreateOp,
    DeclarativeOp,
    DeleteOp,
    FindOp,
    GetOp,
    ListOp,
    RespondOp,
    StepsImplementation,
    ToolSpec,
    UpdateOp,
    expression_names,
)
from policy_agent.environment._database import Database
from policy_agent.environment._errors import ToolDefinitionError, ToolError
from policy_agent.environment._records import JsonRecord, copy_json
from policy_agent.expressions import (
    Expression,
    ExpressionError,
    Scope,
    Template,
    compile_expression,
    compile_template,
)

_T = TypeVar("_T")


class DeclarativeTool:
    """One `op:` tool with every expression compiled; `run` executes it on a database."""

    def __init__(
        self,
        tool: ToolSpec,
        op: DeclarativeOp,
        *,
        now: datetime | None,
        step: int | None = None,
    ) -> None:
        """Compile the op's expressions (of step `step` in a `steps` tool); ToolDefinitionError
        names the field of a bad one."""
        self.name = tool.name
        self._op = op
        self._parameters = list(tool.parameters)
        self._now = now
        names = expression_names(tool, step)
        at = "" if step is None else f"steps[{step}]."

        def expression(source: str, field: str) -> Expression:
            return _compiled(tool.name, at + field, lambda: compile_expression(source, names=names))

        def template(source: str, field: str) -> Template:
            return _compiled(tool.name, at + field, lambda: compile_template(source, names=names))

        self._preconditions = [
            (
                expression(p.check, f"preconditions[{i}].check"),
                template(p.error, f"preconditions[{i}].error"),
            )
            for i, p in enumerate(op.preconditions)
        ]
        self._returns = None if op.returns is None else expression(op.returns, "returns")
        # The key finds `record`, so it cannot use it.
        key_names = names - {"record"}
        self._key = (
            _compiled(tool.name, at + "key", lambda: compile_expression(op.key, names=key_names))
            if isinstance(op, GetOp | UpdateOp | DeleteOp)
            else None
        )
        self._id = expression(op.id, "id") if isinstance(op, CreateOp) and op.id else None
        self._after = expression(op.after, "after") if isinstance(op, ListOp) and op.after else None
        field, sources = _field_sources(op)
        self._fields = {
            name: expression(source, f"{field}.{name}") for name, source in sources.items()
        }

    def run(
        self,
        database: Database,
        arguments: Mapping[str, JsonValue],
        results: list[JsonValue] | None = None,
    ) -> JsonValue:
        """Execute the op with validated arguments (defaults filled in); ToolError for a refusal.
        `results` are the earlier steps' results, in a `steps` tool.

        An expression that fails raises ExpressionEvaluationError, which the caller reports as
        a crash.
        """
        passed = {name: None for name in self._parameters} | dict(arguments)
        variables: dict[str, JsonValue] = {**passed, "args": passed}
        if results:
            variables["results"] = copy_json(results, where="results")
        scope = Scope(variables=variables, tables=database.reader, now=self._now)
        op = self._op
        record_id = self._record_id(scope) if self._key is not None else None
        if record_id is not None:
            assert isinstance(op, GetOp | UpdateOp | DeleteOp)
            variables["record"] = _plain(record_id, database.get(op.table, record_id))
            scope = Scope(variables=variables, tables=database.reader, now=self._now)
        for check, error in self._preconditions:
            if not check.holds(scope):
                raise ToolError(error.render(scope))
        result = self._execute(op, database, scope, record_id)
        return result if self._returns is None else self._returns.evaluate(scope)

    def _execute(
        self, op: DeclarativeOp, database: Database, scope: Scope, record_id: str | None
    ) -> JsonValue:
        values = {name: value.evaluate(scope) for name, value in self._fields.items()}
        match op:
            case GetOp():
                return scope.variables["record"]
            case FindOp(table=table, fields=fields):
                return _project(database.find(table, **values), fields)
            case ListOp(table=table, fields=fields, limit=limit):
                after = self._start(scope)
                return _project(database.page(table, after=after, limit=limit), fields)
            case CreateOp(table=table, id_prefix=prefix):
                new_id = self._new_id(scope) if prefix is None else next_id(database, table, prefix)
                return _plain(new_id, database.insert(table, new_id, values))
            case UpdateOp(table=table):
                assert record_id is not None
                return _plain(record_id, database.update(table, record_id, **values))
            case DeleteOp(table=table):
                assert record_id is not None
                return _plain(record_id, database.delete(table, record_id))
            case RespondOp():
                return ""
            case _:
                assert_never(op)

    def _record_id(self, scope: Scope) -> str:
        assert self._key is not None
        return self._as_id(self._key.evaluate(scope), "key")

    def _new_id(self, scope: Scope) -> str:
        assert self._id is not None
        return self._as_id(self._id.evaluate(scope), "id")

    def _start(self, scope: Scope) -> str | None:
        """The id a `list` page starts after; None (no `after`, or null or '') for the first."""
        if self._after is None:
            return None
        value = self._after.evaluate(scope)
        return None if value is None or value == "" else self._as_id(value, "after")

    def _as_id(self, value: JsonValue, field: str) -> str:
        # Integer ids are written as text, the way they are stored: room 101 is record "101".
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise ToolError(f"{self.name} needs a record id, but its {field} gave {value!r}")


class StepsTool:
    """A `steps` tool: its ops compiled, run in order on one database."""

    def __init__(
        self, tool: ToolSpec, implementation: StepsImplementation, *, now: datetime | None
    ) -> None:
        self.name = tool.name
        self._steps = [
            DeclarativeTool(tool, op, now=now, step=index)
            for index, op in enumerate(implementation.steps)
        ]

    def run(self, database: Database, arguments: Mapping[str, JsonValue]) -> JsonValue:
        """Run every step; the first refusal is the call's result. The caller (the episode's
        `call`) undoes the writes of a call that fails, so nothing is left half done."""
        results: list[JsonValue] = []
        for step in self._steps:
            results.append(step.run(database, arguments, results))
        return results[-1]


def next_id(database: Database, table: str, prefix: str) -> str:
    """`prefix` plus one more than the highest number after it among the table's ids, padded to
    the same width: B11246 -> B11247, C009 -> C010; `prefix` + "1" when there is none yet."""
    highest = database.highest_number(table, prefix)
    if highest is None:
        return f"{prefix}1"
    number, width = highest
    return f"{prefix}{number + 1:0{width}d}"


def _field_sources(op: DeclarativeOp) -> tuple[str, Mapping[str, str]]:
    """The op's per-field expressions and the key they are written under."""
    if isinstance(op, FindOp):
        return "match", op.match
    if isinstance(op, CreateOp):
        return "values", op.values
    if isinstance(op, UpdateOp):
        return "set", op.set
    return "", {}


def _plain(record_id: str, record: Mapping[str, JsonValue]) -> JsonRecord:
    """A plain copy of the record as tools return it: `id` first (the key wins over a field
    called `id`). Results and `record` are copies: their readers may change them."""
    copied = copy_json({k: v for k, v in record.items() if k != "id"}, where=record_id)
    assert isinstance(copied, dict)  # a dict copies to a dict
    return {"id": record_id, **copied}


def _project(rows: Iterable[tuple[str, JsonRecord]], fields: list[str] | None) -> JsonValue:
    if fields is None:
        return [_plain(i, r) for i, r in rows]
    return [_plain(i, {f: r[f] for f in fields if f in r}) for i, r in rows]


def _compiled(tool: str, field: str, compile_: Callable[[], _T]) -> _T:
    try:
        return compile_()
    except ExpressionError as error:
        raise ToolDefinitionError(f"tool {tool}: implementation.{field}: {error}") from None
