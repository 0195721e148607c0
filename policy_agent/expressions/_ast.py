"""The immutable syntax tree of an expression, and printing it back as source.

Offsets are left out of equality: two trees are equal when they mean the same, wherever their
parts were written.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from policy_agent.expressions._lexer import ESCAPES

Scalar = None | bool | int | float | str

COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in", "not in"})
PRECEDENCE = {
    "or": 1,
    "and": 2,
    **dict.fromkeys(COMPARISONS, 4),
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}
"""How tightly each binary operator binds (a higher number binds tighter)."""
NOT_PRECEDENCE, NEGATE_PRECEDENCE = 3, 7
"""Prefix `not` binds looser than comparisons; unary `-` tighter than every binary operator."""
_POSTFIX, _ATOM = 8, 9


@dataclass(frozen=True, kw_only=True, slots=True)
class Node:
    """A part of an expression; `offset` is where it starts (for operators: the operator)."""

    offset: int = field(default=0, compare=False)


@dataclass(frozen=True, kw_only=True, slots=True)
class Literal(Node):
    """A number, string, `true`, `false` or `null`."""

    value: Scalar


@dataclass(frozen=True, kw_only=True, slots=True)
class ListDisplay(Node):
    """`[a, b, ...]`."""

    items: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Name(Node):
    """A variable bound by the caller (an argument, `args`, `record`, `now`, ...)."""

    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Member(Node):
    """`target.name`: a field of a mapping (offset: the dot)."""

    target: Node
    name: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Index(Node):
    """`target[index]`: an item of a list or string, or a field of a mapping (offset: `[`)."""

    target: Node
    index: Node


@dataclass(frozen=True, kw_only=True, slots=True)
class Call(Node):
    """`function(args...)`: a call of a built-in function."""

    function: str
    args: tuple[Node, ...]


@dataclass(frozen=True, kw_only=True, slots=True)
class Unary(Node):
    """`-operand` or `not operand`."""

    op: str
    operand: Node


@dataclass(frozen=True, kw_only=True, slots=True)
class Binary(Node):
    """`left op right` for every binary operator, `and` and `or` included."""

    op: str
    left: Node
    right: Node


def to_source(node: Node) -> str:
    """Source text that parses back to the same tree, with only the parentheses it needs."""
    match node:
        case Literal(value=value):
            return _literal(value)
        case ListDisplay(items=items):
            return "[" + ", ".join(map(to_source, items)) + "]"
        case Name(name=name):
            return name
        case Member(target=target, name=name):
            return f"{_operand(target, _POSTFIX)}.{name}"
        case Index(target=target, index=index):
            return f"{_operand(target, _POSTFIX)}[{to_source(index)}]"
        case Call(function=function, args=args):
            return f"{function}({', '.join(map(to_source, args))})"
        case Unary(op="not", operand=operand):
            return f"not {_operand(operand, NOT_PRECEDENCE)}"
        case Unary(operand=operand):
            return f"-{_operand(operand, NEGATE_PRECEDENCE)}"
        case Binary(op=op, left=left, right=right):
            # Left-associative; comparisons do not chain, so neither side may be one.
            tight = PRECEDENCE[op] + (op in COMPARISONS)
            return f"{_operand(left, tight)} {op} {_operand(right, PRECEDENCE[op] + 1)}"
    raise TypeError(f"not an expression node: {node!r}")


def _precedence(node: Node) -> int:
    match node:
        case Binary(op=op):
            return PRECEDENCE[op]
        case Unary(op=op):
            return NOT_PRECEDENCE if op == "not" else NEGATE_PRECEDENCE
        case Literal(value=int() | float() as value) if not isinstance(value, bool) and value < 0:
            return NEGATE_PRECEDENCE
    return _ATOM


def _operand(node: Node, least: int) -> str:
    text = to_source(node)
    return text if _precedence(node) >= least else f"({text})"


_ESCAPED = {char: "\\" + escape for escape, char in ESCAPES.items() if escape != '"'}


def _literal(value: Scalar) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + "".join(_ESCAPED.get(char, char) for char in value) + "'"
    return repr(value)


def children(node: Node) -> tuple[Node, ...]:
    """The nodes directly inside `node`, in source order."""
    match node:
        case ListDisplay(items=items) | Call(args=items):
            return items
        case Member(target=target) | Unary(operand=target):
            return (target,)
        case Index(target=left, index=right) | Binary(left=left, right=right):
            return (left, right)
    return ()


def walk(node: Node) -> Iterator[tuple[Node, int]]:
    """Every node in `node` (itself included) with its depth (`node` is 1), without recursion."""
    stack = [(node, 1)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        stack.extend((child, depth + 1) for child in reversed(children(node)))


def start(node: Node) -> int:
    """Where the text of `node` begins (an operator's `offset` is the operator itself)."""
    while isinstance(node, Binary | Member | Index):
        node = node.left if isinstance(node, Binary) else node.target
    return node.offset
