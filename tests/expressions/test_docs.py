"""The examples of docs/expressions.md, checked so that the documentation stays true."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import JsonValue

from policy_agent.expressions import Scope, compile_expression, compile_template

from ._support import NOW
from ._support import evaluate as ev

DOC = (Path(__file__).parents[2] / "docs" / "expressions.md").read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    return [block.split("```")[0] for block in DOC.split("```yaml\n")[1:]]


@pytest.mark.parametrize(
    ("source", "value"),
    [
        ("10 - 3 - 2", 5),
        ("'a' or 'b'", True),
        ("'1' == 1", False),
        ("null == 0", False),
        ("1 == 1.0", True),
        ("true == 1", False),
        ("'2025-06-10' < '2025-07-01'", True),
        ("'a' + str(1)", "a1"),
        ("300 / 2", 150),
        ("7 / 2", 3.5),
        ("-7 % 3", 2),
        ("round(2.5)", 3),
        ("round(2.675, 2)", 2.68),
        ("str(2.5)", "2.5"),
        ("str(null)", "null"),
        ("int(-2.9)", -2),
        ("days_until('2025-06-10')", 5.625),
    ],
)
def test_claims(source: str, value: JsonValue) -> None:
    assert ev(source) == value


def test_the_yaml_examples_compile_and_the_first_runs() -> None:
    blocks = yaml_blocks()
    tool = yaml.safe_load(blocks[0])[0]
    names = {*tool["parameters"], "args", "record", "now"}
    implementation = tool["implementation"]
    record: dict[str, JsonValue] = {
        "id": "B1",
        "status": "confirmed",
        "cribs": 1,
        "check_in": "2025-06-10",
    }
    scope = Scope(variables={"booking_id": "B1", "count": 2, "record": record}, now=NOW)
    for precondition in implementation["preconditions"]:
        assert compile_expression(precondition["check"], names=names).holds(scope)
        compile_template(precondition["error"], names=names)
    assert compile_expression(implementation["set"]["cribs"], names=names).evaluate(scope) == 3

    examples = blocks[1]
    names = {"record", "check_in", "check_out", "rate", "nights", "guest_id"}
    sources = [line.split(": ", 1)[1] for line in examples.splitlines() if not line.startswith("#")]
    assert len(sources) == 4
    for source in sources:
        compile_expression(source, names=names)


def test_the_template_examples_render_as_shown() -> None:
    lines = yaml_blocks()[2].splitlines()
    pairs = [(lines[i], lines[i + 1]) for i in range(0, len(lines), 2)]
    record: dict[str, JsonValue] = {"status": "cancelled", "cribs": 1, "id": "B11246"}
    scope = Scope(variables={"booking_id": "B11246", "record": record})
    for template_line, shown in pairs:
        source = yaml.safe_load(template_line)["error"]
        rendered = compile_template(source, names={"booking_id", "record"}).render(scope)
        assert f"# -> {rendered}" == shown
