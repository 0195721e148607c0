"""Property tests: the parser only ever raises its own error, trees print and re-parse to
themselves, and integer arithmetic and comparisons agree with Python's."""

from __future__ import annotations

import contextlib
import operator
from collections.abc import Callable
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st
from pydantic import JsonValue

from policy_agent.expressions import (
    FUNCTIONS,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    Scope,
    compile_expression,
    compile_template,
    to_source,
)
from policy_agent.expressions._ast import (
    COMPARISONS,
    PRECEDENCE,
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

from ._support import NOW, hotel

VARIABLES: dict[str, JsonValue] = {
    "a": 1,
    "b": "text",
    "c": [1, 2.5, None],
    "d": {"k": 1, "when": "2025-06-05"},
    "record": {"status": "confirmed", "cribs": 1},
}
NAMES = frozenset(VARIABLES) | {"now"}
SCOPE = Scope(variables=VARIABLES, tables=hotel(), now=NOW)

# Token soup reaches deeper into the parser than random characters do.
TOKENS = [
    *"+-*/%()[],.<>",
    *("==", "!=", "<=", ">=", "=", "{", "}", "'", '"', "\\", "@", "\n"),
    *("and", "or", "not", "in", "true", "false", "null", "x"),
    *("0", "7", "2.5", "1e3", "1e999", "'s'", '"q\\"t"', "'\\n'"),
    *VARIABLES,
    *FUNCTIONS,
]
source_text = st.text() | st.lists(st.sampled_from(TOKENS), max_size=25).map(" ".join)


def compile_and_run(source: str) -> None:
    """Compile and evaluate; only the language's own errors may come out."""
    try:
        expression = compile_expression(source, names=NAMES)
    except ExpressionSyntaxError as error:
        assert error.offset is None or 0 <= error.offset <= len(source)
        str(error)
        return
    try:
        expression.evaluate(SCOPE)
    except ExpressionEvaluationError as error:
        assert error.offset is not None and 0 <= error.offset <= len(source)
        str(error)


@given(source_text)
def test_compiling_and_evaluating_arbitrary_text_raises_only_expression_errors(source: str) -> None:
    compile_and_run(source)


@given(source_text)
def test_compiling_arbitrary_templates_raises_only_syntax_errors(source: str) -> None:
    try:
        template = compile_template(source, names=NAMES)
    except ExpressionSyntaxError:
        return
    with contextlib.suppress(ExpressionEvaluationError):
        template.render(SCOPE)


# --------------------------------------------------------------------------- round trip

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
literals = st.builds(
    Literal,
    value=st.none()
    | st.booleans()
    | st.integers(min_value=0, max_value=10**299)
    | st.floats(min_value=0, max_value=1e299, allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
)
leaves = literals | st.builds(Name, name=st.sampled_from(sorted(NAMES)))


def calls(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    def with_arity(name: str) -> st.SearchStrategy[Node]:
        function = FUNCTIONS[name]
        args = st.lists(children, min_size=function.least, max_size=function.most)
        return args.map(lambda items: Call(function=name, args=tuple(items)))

    return st.sampled_from(sorted(FUNCTIONS)).flatmap(with_arity)


def compound(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(Binary, op=st.sampled_from(sorted(PRECEDENCE)), left=children, right=children),
        st.builds(Unary, op=st.sampled_from(["-", "not"]), operand=children),
        st.builds(Member, target=children, name=identifiers),
        st.builds(Index, target=children, index=children),
        st.lists(children, max_size=3).map(lambda items: ListDisplay(items=tuple(items))),
        calls(children),
    )


trees = st.recursive(leaves, compound, max_leaves=20)


@given(trees)
def test_printed_trees_parse_back_to_themselves(tree: Node) -> None:
    source = to_source(tree)
    reparsed = compile_expression(source, names=NAMES).node
    assert reparsed == tree
    # Equality treats 1 == 1.0 == true; the printed forms tell them apart.
    assert to_source(reparsed) == source


@given(trees)
def test_evaluating_random_trees_raises_only_evaluation_errors(tree: Node) -> None:
    compile_and_run(to_source(tree))


# --------------------------------------------------------------------------- agreement with Python

PYTHON: dict[str, Callable[[int, int], object]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "%": operator.mod,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
small = st.integers(min_value=-1000, max_value=1000)


def arithmetic(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    ops = st.sampled_from(["+", "-", "*", "%"])
    return st.builds(Binary, op=ops, left=children, right=children) | st.builds(
        Unary, op=st.just("-"), operand=children
    )


int_trees = st.recursive(st.builds(Literal, value=small), arithmetic, max_leaves=12)


def python_value(node: Node) -> int:
    """What Python computes for an integer tree (without ever running text as code)."""
    match node:
        case Literal(value=int() as value):
            return value
        case Unary(operand=operand):
            return -python_value(operand)
        case Binary(op=op, left=left, right=right):
            return PYTHON[op](python_value(left), python_value(right))  # type: ignore[return-value]
    raise AssertionError(node)


@given(int_trees, st.sampled_from(sorted(COMPARISONS - {"in", "not in"})), int_trees)
def test_integer_arithmetic_and_comparison_agree_with_python(
    left: Node, op: str, right: Node
) -> None:
    for tree in (left, Binary(op=op, left=left, right=right)):
        expression = compile_expression(to_source(tree), names=())
        try:
            expected = python_value(tree)
        except ZeroDivisionError:
            try:
                expression.evaluate(Scope(variables={}))
            except ExpressionEvaluationError as error:
                assert "division by zero" in error.message
            else:
                raise AssertionError(f"{expression.source} should divide by zero") from None
            return
        result = expression.evaluate(Scope(variables={}))
        assert result == expected
        assert type(result) is type(expected)


@given(small, small)
def test_division_is_exact_when_it_can_be_and_float_otherwise(a: int, b: int) -> None:
    expression = compile_expression("x / y", names={"x", "y"})
    scope = Scope(variables={"x": a, "y": b})
    if b == 0:
        try:
            expression.evaluate(scope)
        except ExpressionEvaluationError:
            return
        raise AssertionError("division by zero passed")
    result = expression.evaluate(scope)
    assert result == a / b
    if a % b == 0:
        assert type(result) is int
        assert Fraction(a, b) == result
    else:
        assert type(result) is float
