"""The interpreter: walks the syntax tree over JSON values, never running any Python of the pack."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping

from pydantic import JsonValue

from policy_agent.expressions._ast import (
    Binary,
    Call,
    Index,
    ListDisplay,
    Literal,
    Member,
    Name,
    Node,
    Unary,
    start,
    to_source,
)
from policy_agent.expressions._errors import ExpressionEvaluationError
from policy_agent.expressions._functions import FUNCTIONS, clock
from policy_agent.expressions._scope import Scope
from policy_agent.expressions._values import (
    Failure,
    bounded,
    describe,
    equal,
    is_number,
    order,
    truthy,
)

_ORDERINGS: Mapping[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}
_ARITHMETIC: Mapping[str, Callable[[int | float, int | float], int | float]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    # Exact integer quotients stay integers (300 / 2 is 150, shown as 150, not 150.0).
    "/": lambda a, b: a // b if isinstance(a, int) and isinstance(b, int) and a % b == 0 else a / b,
    "%": operator.mod,
}


def evaluate(node: Node, scope: Scope, source: str) -> JsonValue:
    """The value of `node`; it may share lists and mappings with `scope` (callers copy)."""
    return _Interpreter(scope, source).value(node)


class _Interpreter:
    def __init__(self, scope: Scope, source: str) -> None:
        self.scope, self.source = scope, source

    def value(self, node: Node) -> JsonValue:
        try:
            return self._value(node)
        except Failure as failure:
            offset = node.offset
            if isinstance(node, Call) and failure.argument is not None:
                offset = start(node.args[failure.argument])
            raise ExpressionEvaluationError(failure.message, self.source, offset) from None

    def _value(self, node: Node) -> JsonValue:
        match node:
            case Literal(value=value):
                return value
            case ListDisplay(items=items):
                return [self.value(item) for item in items]
            case Name(name=name):
                if name in self.scope.variables:
                    return self.scope.variables[name]
                if name == "now":
                    return clock(self.scope).isoformat()
                raise Failure(f"`{name}` has no value here (the caller did not bind it)")
            case Member(target=target, name=name):
                return _field(self.value(target), name, target)
            case Index(target=target, index=index):
                return _item(self.value(target), self.value(index), target)
            case Call(function="if", args=(condition, then, otherwise)):
                return self.value(then if truthy(self.value(condition)) else otherwise)
            case Call(function=function, args=args):
                apply = FUNCTIONS[function].apply
                assert apply is not None, "only `if` is evaluated lazily"
                return apply(self.scope, [self.value(arg) for arg in args])
            case Unary(op="not", operand=operand):
                return not truthy(self.value(operand))
            case Unary(operand=operand):
                number = self.value(operand)
                if not is_number(number):
                    raise Failure(f"cannot negate {describe(number)}")
                return -number
            case Binary(op="and", left=left, right=right):
                return truthy(self.value(left)) and truthy(self.value(right))
            case Binary(op="or", left=left, right=right):
                return truthy(self.value(left)) or truthy(self.value(right))
            case Binary(op=op, left=left, right=right):
                return _binary(op, self.value(left), self.value(right), right)
        raise TypeError(f"not an expression node: {node!r}")


def _field(target: JsonValue, name: str, target_node: Node) -> JsonValue:
    if not isinstance(target, Mapping):
        where = f"`{to_source(target_node)}` is {describe(target)}"
        raise Failure(f"{where}, which has no field `{name}`")
    return target.get(name)


def _item(target: JsonValue, index: JsonValue, target_node: Node) -> JsonValue:
    if isinstance(target, Mapping):
        if not isinstance(index, str):
            raise Failure(f"a mapping's keys are strings, not {describe(index)}")
        return target.get(index)
    if not isinstance(target, list | tuple | str):
        where = f"`{to_source(target_node)}` is {describe(target)}"
        raise Failure(f"{where}, which cannot be indexed")
    if not isinstance(index, int) or isinstance(index, bool):
        raise Failure(f"an index must be an integer, not {describe(index)}")
    if not -len(target) <= index < len(target):
        raise Failure(
            f"index {index} is out of range: `{to_source(target_node)}` has {len(target)} items"
        )
    return target[index]


def _binary(op: str, left: JsonValue, right: JsonValue, right_node: Node) -> JsonValue:
    if op in ("==", "!="):
        return equal(left, right) == (op == "==")
    if op in _ORDERINGS:
        return _ORDERINGS[op](order(left, right))
    if op in ("in", "not in"):
        return _contains(left, right) == (op == "in")
    if op == "+" and isinstance(left, str) and isinstance(right, str):
        return left + right
    if op == "+" and isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return [*left, *right]
    if not (is_number(left) and is_number(right)):
        kinds = "two numbers, two strings or two lists" if op == "+" else "two numbers"
        hint = (
            "; str(x) makes text of a number"
            if op == "+" and str in (type(left), type(right))
            else ""
        )
        raise Failure(f"`{op}` needs {kinds}, got {describe(left)} and {describe(right)}{hint}")
    if op in ("/", "%") and right == 0:
        named = "" if isinstance(right_node, Literal) else f": `{to_source(right_node)}` is 0"
        raise Failure(f"division by zero{named}")
    try:
        result = _ARITHMETIC[op](left, right)
    except OverflowError:
        raise Failure("the result is too large") from None
    return bounded(result)


def _contains(needle: JsonValue, haystack: JsonValue) -> bool:
    if isinstance(haystack, list | tuple):
        return any(equal(needle, item) for item in haystack)
    if not isinstance(haystack, str | Mapping):
        raise Failure(
            f"`in` needs a string, list or mapping on its right, got {describe(haystack)}"
        )
    if not isinstance(needle, str):
        whose = "a string" if isinstance(haystack, str) else "a mapping's keys"
        raise Failure(f"`in` {whose} needs a string on its left, got {describe(needle)}")
    return needle in haystack
