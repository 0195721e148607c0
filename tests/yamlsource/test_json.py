"""The position-tracking JSON loader: the same documents as the YAML one, from JSON files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import given

from policy_agent.yamlsource import SourceError, load_json
from policy_agent.yamlsource._json import _Parser
from tests.yamlsource._support import JSON_VALUES


def _write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "a.json"
    file.write_text(text, encoding="utf-8")
    return file


@given(JSON_VALUES)
def test_json_round_trip(value: object) -> None:
    """The JSON loader agrees with `json.loads`, compact or indented, and finds the lines the
    position-tracking parser finds."""
    for text in (json.dumps(value), json.dumps(value, indent=2, ensure_ascii=False)):
        with tempfile.TemporaryDirectory() as folder:
            file = _write(Path(folder), text)
            document = load_json(file)
            assert document.data == json.loads(text)
            assert dict(document.lines) == _Parser(file, text).document().lines
            assert document.issues == ()


def test_lines_of_a_file_without_problems_are_found_when_asked_for(tmp_path: Path) -> None:
    document = load_json(_write(tmp_path, '{\n  "a": {"x": 1},\n  "b": [\n    1,\n    2\n  ]\n}\n'))
    assert document.line_of(("b", 1)) == 5
    assert document.lines[("a", "x")] == 2 and len(document.lines) == 6


def test_json_lines_and_duplicates(tmp_path: Path) -> None:
    text = '{\n  "a": {"x": 1},\n  "b": [\n    1,\n    2\n  ],\n  "a": 3\n}\n'
    document = load_json(_write(tmp_path, text))
    assert document.data == {"a": {"x": 1}, "b": [1, 2]}
    assert document.lines[("b", 1)] == 5
    assert document.lines[("a", "x")] == 2
    [issue] = document.issues
    assert (issue.line, issue.message) == (7, "duplicate key 'a' (first at line 2)")


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ('{"a": 1,}', 1, 9, "expected a key in double quotes"),
        ('{\n"a" 1}', 2, 5, "expected ':' after the key"),
        ("[1,\n 2", 2, 3, "expected ',' or ']'"),
        ("", 1, 1, "the file is empty; expected a JSON value"),
        ('{"a": tru}', 1, 7, "expected a JSON value"),
        ("[1] 2", 1, 5, "unexpected text after the JSON value"),
        ('"a\nb"', 1, 3, "invalid control character"),
        ("[NaN]", 1, 2, "expected a JSON value"),
        ('{"a": Infinity}', 1, 7, "expected a JSON value"),
        ("-Infinity", 1, 1, "expected a JSON value"),
    ],
)
def test_json_syntax_errors(
    tmp_path: Path, text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(SourceError) as error:
        load_json(_write(tmp_path, text))
    assert (error.value.line, error.value.column) == (line, column)
    assert error.value.message == f"JSON syntax error: {message}"


def test_nesting_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nested more than 100 levels"):
        load_json(_write(tmp_path, "[" * 102 + "]" * 102))
    assert load_json(_write(tmp_path, "[" * 101 + "]" * 101)).data is not None
