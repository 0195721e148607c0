"""Tokenizing and parsing: precedence, literals, and every syntax error with its offset."""

from __future__ import annotations

import pytest

from policy_agent.expressions import ExpressionSyntaxError, compile_expression, to_source
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
)

NAMES = frozenset({"a", "b", "c", "d", "record", "count", "args"})


def tree(source: str) -> Node:
    return compile_expression(source, names=NAMES).node


def grouped(node: Node) -> str:
    """The tree with every operation in parentheses, to show how the parser grouped it."""
    match node:
        case Binary(op=op, left=left, right=right):
            return f"({grouped(left)} {op} {grouped(right)})"
        case Unary(op=op, operand=operand):
            return f"({op}{' ' if op == 'not' else ''}{grouped(operand)})"
        case Member(target=target, name=name):
            return f"{grouped(target)}.{name}"
        case Index(target=target, index=index):
            return f"{grouped(target)}[{grouped(index)}]"
        case Call(function=function, args=args):
            return f"{function}({', '.join(map(grouped, args))})"
        case ListDisplay(items=items):
            return f"[{', '.join(map(grouped, items))}]"
    return to_source(node)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("a or b and c", "(a or (b and c))"),
        ("a and b or c", "((a and b) or c)"),
        ("not a and b", "((not a) and b)"),
        ("not a == b", "(not (a == b))"),
        ("not not a", "(not (not a))"),
        ("a == b and c != d", "((a == b) and (c != d))"),
        ("a < b + c", "(a < (b + c))"),
        ("a in b or c not in d", "((a in b) or (c not in d))"),
        ("a + b * c", "(a + (b * c))"),
        ("a * b + c", "((a * b) + c)"),
        ("a - b - c", "((a - b) - c)"),
        ("a / b / c", "((a / b) / c)"),
        ("a % b * c", "((a % b) * c)"),
        ("-a * b", "((-a) * b)"),
        ("-a.b", "(-a.b)"),
        ("- -a", "(-(-a))"),
        ("a - -b", "(a - (-b))"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a.b[0].c", "a.b[0].c"),
        ("record['check-in']", "record['check-in']"),
        ("len(a.b) + 1", "(len(a.b) + 1)"),
        ("[a, b + 1][0]", "[a, (b + 1)][0]"),
        ("(a < b) == c", "((a < b) == c)"),
        ("a == (not b)", "(a == (not b))"),
    ],
)
def test_precedence_and_grouping(source: str, expected: str) -> None:
    assert grouped(tree(source)) == expected


def test_literals() -> None:
    assert tree("3") == Literal(value=3)
    assert isinstance(tree("3").value, int)  # type: ignore[attr-defined]
    assert tree("2.5") == Literal(value=2.5)
    assert tree("1e3") == Literal(value=1000.0)
    assert tree("1.5E-2") == Literal(value=0.015)
    assert tree("true") == Literal(value=True)
    assert tree("false") == Literal(value=False)
    assert tree("null") == Literal(value=None)
    assert tree("[]") == ListDisplay(items=())
    assert tree("[1, 2,]") == ListDisplay(items=(Literal(value=1), Literal(value=2)))


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("'confirmed'", "confirmed"),
        ('"confirmed"', "confirmed"),
        (r"'it\'s'", "it's"),
        (r'"say \"hi\""', 'say "hi"'),
        (r"'a\\b'", "a\\b"),
        (r"'one\ntwo\tthree'", "one\ntwo\tthree"),
        ("'{braces} and \"quotes\"'", '{braces} and "quotes"'),
        ("''", ""),
        ("'héllo ✓'", "héllo ✓"),
    ],
)
def test_strings_and_escapes(source: str, value: str) -> None:
    assert tree(source) == Literal(value=value)


def test_keywords_are_field_names_after_a_dot() -> None:
    assert tree("args.in") == Member(target=Name(name="args"), name="in")
    assert tree("record.null.not") == Member(
        target=Member(target=Name(name="record"), name="null"), name="not"
    )


def test_function_names_and_variable_names_do_not_clash() -> None:
    # `count` is the tool's argument here, and also a function.
    node = tree("count + count('bookings', 'status', 'confirmed')")
    assert isinstance(node, Binary)
    assert node.left == Name(name="count")
    assert isinstance(node.right, Call)


def test_whitespace_and_newlines_are_ignored() -> None:
    assert tree("  a\n  +\tb\r\n") == tree("a + b")


def test_offsets_point_at_operators_and_starts() -> None:
    node = tree("record.cribs + count <= 3")
    assert isinstance(node, Binary)
    assert node.offset == 21
    assert node.left.offset == 13
    member = node.left.left  # type: ignore[attr-defined]
    assert member.offset == 6  # the dot
    assert member.target.offset == 0


@pytest.mark.parametrize(
    ("source", "offset", "message"),
    [
        ("", 0, "the expression is empty"),
        ("   ", 3, "the expression is empty"),
        ("a +", 3, "the expression ends too early"),
        ("a + * b", 4, "unexpected `*`"),
        ("a b", 2, "expected an operator or the end, found `b`"),
        ("(a + b", 6, "expected `)` to close the `(`, found the end"),
        ("[a, b", 5, "expected `]` to close the `[`, found the end"),
        ("a[0", 3, "expected `]` to close the `[`"),
        ("len(a", 5, "expected `)` to close the `(`"),
        ("a)", 1, "found `)`"),
        ("a.", 2, "expected a field name after `.`"),
        ("a.1", 2, "expected a field name after `.`"),
        ("a = b", 2, "unexpected character '='; use `==` to compare"),
        ("!a", 0, "use `not`"),
        ("a && b", 2, "use `and`"),
        ("a || b", 2, "use `or`"),
        ("a ** b", 3, "unexpected `*`"),
        ("{a}", 0, "unexpected character '{'"),
        ("a @ b", 2, "unexpected character '@'"),
        ("a\u00a0+ b", 1, "unexpected character"),
        ("'abc", 0, "string never closed; end it with '"),
        ("\"abc'", 0, 'string never closed; end it with "'),
        (r"'a\qb'", 2, "unknown escape"),
        ("'abc\\", 4, "unknown escape"),
        ("1e999", 0, "the number 1e999 is too large"),
        ("a + 1e300", 4, "the number 1e300 is too large"),
        ("1" + "0" * 300, 0, "is too large"),
        ("9" * 5000, 0, "is too large"),
        ("a < b < c", 6, "comparisons cannot be chained"),
        ("a == b != c", 7, "comparisons cannot be chained"),
        ("a in b in c", 7, "comparisons cannot be chained"),
        ("a == not b", 5, "put `not ...` in parentheses here"),
        ("-not a", 1, "put `not ...` in parentheses here"),
        ("a and", 5, "the expression ends too early"),
        ("and a", 0, "unexpected `and`"),
        ("a not b", 2, "expected an operator or the end, found `not`"),
        ("a.b(1)", 3, "only functions can be called"),
        ("(len)(a)", 1, "unknown name `len`"),
        ("a[0](1)", 4, "only functions can be called"),
        ("len(,)", 4, "unexpected `,`"),
        ("[1,,2]", 3, "unexpected `,`"),
        ("bookng", 0, "unknown name `bookng`"),
        ("a + recrod.x", 4, "unknown name `recrod`; did you mean `record`?"),
        ("True", 0, "unknown name `True`; did you mean `true`?"),
        ("None", 0, "unknown name `None`"),
        ("zzz", 0, "known: a, args, b, c, count, d, false, null, record, true"),
        ("lenght(a)", 0, "unknown function `lenght`; did you mean `len`?"),
        ("a + foo(1)", 4, "unknown function `foo`; known: abs, count,"),
        ("len()", 0, "len() takes 1 argument, got 0"),
        ("len(a, b)", 0, "len() takes 1 argument, got 2"),
        ("a + round(1, 2, 3)", 4, "round() takes 1 or 2 arguments, got 3"),
        ("find('t', 'f')", 0, "find() takes 3 arguments, got 2"),
        ("if(a, b)", 0, "if() takes 3 arguments, got 2"),
    ],
)
def test_syntax_errors(source: str, offset: int, message: str) -> None:
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, names=NAMES)
    assert caught.value.offset == offset
    assert caught.value.source == source
    assert message in caught.value.message


def test_nesting_is_limited_instead_of_overflowing_the_stack() -> None:
    compile_expression("(" * 40 + "a" + ")" * 40, names=NAMES)
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        compile_expression("(" * 5000 + "a" + ")" * 5000, names=NAMES)
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        compile_expression("-" * 5000 + "a", names=NAMES)
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply"):
        compile_expression("not " * 5000 + "a", names=NAMES)


def test_long_chains_are_limited_too() -> None:
    compile_expression(" + ".join(["a"] * 90), names=NAMES)
    with pytest.raises(ExpressionSyntaxError, match="nested too deeply") as caught:
        compile_expression(" + ".join(["a"] * 5000), names=NAMES)
    assert caught.value.offset is not None


def test_names_used_and_tables_used() -> None:
    expression = compile_expression(
        "lookup('guests', record.guest).vip and count('bookings', 'guest', a) > 1"
        " or exists(c, 'x') or find(\"rooms\", 'f', b) == []",
        names=NAMES,
    )
    assert expression.names_used == {"record", "a", "b", "c"}
    assert expression.tables_used == {"guests", "bookings", "rooms"}
    assert compile_expression("1 + 2", names=()).names_used == frozenset()
