"""How errors show themselves: the source, a caret under the failing part, line and column."""

from __future__ import annotations

import pickle

import pytest

from policy_agent.expressions import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    Scope,
    compile_expression,
)


def test_rendering_of_an_evaluation_error() -> None:
    expression = compile_expression("record.cribs + count <= 'three'", names={"record", "count"})
    with pytest.raises(ExpressionEvaluationError) as caught:
        expression.evaluate(Scope(variables={"record": {"cribs": 1}, "count": 2}))
    assert str(caught.value) == (
        "cannot compare integer 3 with string 'three'\n"
        "    record.cribs + count <= 'three'\n"
        "                         ^ (column 22)"
    )
    assert (caught.value.line, caught.value.column) == (1, 22)


def test_rendering_of_a_syntax_error_on_a_later_line() -> None:
    source = "record.status == 'confirmed'\n  and recrd.cribs < 3"
    with pytest.raises(ExpressionSyntaxError) as caught:
        compile_expression(source, names={"record"})
    assert str(caught.value) == (
        "unknown name `recrd`; did you mean `record`?\n"
        "      and recrd.cribs < 3\n"
        "          ^ (line 2, column 7)"
    )
    assert (caught.value.line, caught.value.column) == (2, 7)


def test_the_caret_keeps_tabs_so_it_lines_up() -> None:
    error = ExpressionSyntaxError("bad", "\tx y", 3)
    assert str(error).splitlines()[2] == "    \t  ^ (column 4)"


def test_the_caret_can_sit_after_the_last_character() -> None:
    error = ExpressionSyntaxError("the expression ends too early", "a +\n", 4)
    assert str(error) == "the expression ends too early\n    \n    ^ (line 2, column 1)"


def test_an_error_without_offset_shows_the_source() -> None:
    error = ExpressionEvaluationError("something went wrong", "a + b")
    assert str(error) == "something went wrong\n    a + b"
    assert error.line is None
    assert error.column is None


def test_errors_are_expression_errors_and_survive_pickling() -> None:
    error = ExpressionSyntaxError("bad", "a b", 2)
    assert isinstance(error, ExpressionError)
    assert isinstance(ExpressionEvaluationError("x", "y"), ExpressionError)
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ExpressionSyntaxError
    assert (copy.message, copy.source, copy.offset) == ("bad", "a b", 2)


def test_windows_line_ends_do_not_reach_the_terminal() -> None:
    error = ExpressionSyntaxError("bad", "a\r\n+ +", 4)
    assert str(error) == "bad\n    + +\n     ^ (line 2, column 2)"
