"""Compiled expressions: parsed and checked once when a pack loads, evaluated on every call."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from pydantic import JsonValue

from policy_agent.expressions._ast import Call, Index, Literal, Member, Name, Node, walk
from policy_agent.expressions._evaluate import evaluate
from policy_agent.expressions._parser import parse
from policy_agent.expressions._scope import Scope
from policy_agent.expressions._values import thaw, truthy

_TABLE_FUNCTIONS = frozenset({"lookup", "exists", "find", "count"})

FieldRead = tuple[str | None, str, int]
"""A record field an expression reads by name: the table (None: the op's own `record`), the
field, and the offset of the `.` or `[` that reads it."""


@dataclass(frozen=True, kw_only=True)
class Expression:
    """An expression ready to evaluate; make one with `compile_expression`."""

    source: str
    node: Node
    """The syntax tree (`to_source(node)` prints it back)."""
    names_used: frozenset[str]
    """The variables it reads."""
    tables_used: frozenset[str]
    """Tables named by a string literal in `lookup`, `exists`, `find` or `count`."""
    fields_read: frozenset[FieldRead] = frozenset()
    """`record.field` and `lookup('table', ...).field`: fields read from a known table."""

    def evaluate(self, scope: Scope) -> JsonValue:
        """The expression's value: fresh lists and dicts, never the scope's own objects.

        Raises ExpressionEvaluationError (with this source and the failing offset) on a type
        mismatch, division by zero, a bad date, a missing table or clock, or an unbound name.
        """
        return thaw(evaluate(self.node, scope, self.source))

    def holds(self, scope: Scope) -> bool:
        """Whether the value is true by the language's rule (null, false, 0, '', [], {} are not)."""
        return truthy(evaluate(self.node, scope, self.source))


def compile_expression(source: str, *, names: Collection[str]) -> Expression:
    """Parse `source` once, checking that it only uses `names` and known functions.

    `names` are the variables the caller will bind (a tool's parameters, `args`, `record`,
    `now`, ...). Raises ExpressionSyntaxError with the offset of the first problem.
    """
    node, _ = parse(source, names=frozenset(names))
    names_used, tables_used = usage([node])
    return Expression(
        source=source,
        node=node,
        names_used=names_used,
        tables_used=tables_used,
        fields_read=fields_read([node]),
    )


def usage(nodes: Iterable[Node]) -> tuple[frozenset[str], frozenset[str]]:
    """The variables read by `nodes`, and the tables they name literally."""
    names: set[str] = set()
    tables: set[str] = set()
    for root in nodes:
        for node, _ in walk(root):
            if isinstance(node, Name):
                names.add(node.name)
            elif isinstance(node, Call) and node.function in _TABLE_FUNCTIONS:
                first = node.args[0]
                if isinstance(first, Literal) and isinstance(first.value, str):
                    tables.add(first.value)
    return frozenset(names), frozenset(tables)


def fields_read(nodes: Iterable[Node]) -> frozenset[FieldRead]:
    """The fields `nodes` read from `record` or from a `lookup` of a table named literally."""
    found: set[FieldRead] = set()
    for root in nodes:
        for node, _ in walk(root):
            if isinstance(node, Member):
                name: object = node.name
            elif isinstance(node, Index) and isinstance(node.index, Literal):
                name = node.index.value
            else:
                continue
            if not isinstance(name, str):
                continue
            target = node.target
            if isinstance(target, Name) and target.name == "record":
                found.add((None, name, node.offset))
            elif (
                isinstance(target, Call)
                and target.function == "lookup"
                and isinstance(first := target.args[0], Literal)
                and isinstance(first.value, str)
            ):
                found.add((first.value, name, node.offset))
    return frozenset(found)
