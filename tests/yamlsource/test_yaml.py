"""The position-tracking YAML loader."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_agent.yamlsource import Document, SourceError, load_yaml
from policy_agent.yamlsource._yaml import _placed
from tests.yamlsource._support import JSON_VALUES


def _write(tmp_path: Path, name: str, text: str) -> Path:
    file = tmp_path / name
    file.write_text(text, encoding="utf-8")
    return file


def test_every_key_and_item_has_its_line(tmp_path: Path) -> None:
    file = _write(tmp_path, "a.yaml", "a:\n  b: 1\n  c:\n    - x\n    - {d: 2}\nz: 3\n")
    document = load_yaml(file)
    assert document.data == {"a": {"b": 1, "c": ["x", {"d": 2}]}, "z": 3}
    assert document.lines == {
        (): 1,
        ("a",): 1,
        ("a", "b"): 2,
        ("a", "c"): 3,
        ("a", "c", 0): 4,
        ("a", "c", 1): 5,
        ("a", "c", 1, "d"): 5,
        ("z",): 6,
    }
    # A location with no line of its own (a missing key) falls back to its parent's.
    assert document.line_of(("a", "c", 1, "missing")) == 5


def test_duplicate_keys_are_reported_with_both_lines_and_the_first_is_kept(tmp_path: Path) -> None:
    file = _write(tmp_path, "a.yaml", "rooms:\n  R1: {beds: 1}\n  R2: {beds: 2}\n  R1: {beds: 3}\n")
    document = load_yaml(file)
    assert document.data == {"rooms": {"R1": {"beds": 1}, "R2": {"beds": 2}}}
    [issue] = document.issues
    assert (issue.loc, issue.line) == (("rooms", "R1"), 4)
    assert issue.message == "duplicate key 'R1' (first at line 2)"


def test_scalars_follow_the_yaml_1_2_core_schema(tmp_path: Path) -> None:
    text = (
        "[no, on, yes, true, False, 2025-06-04, 1e5, 0x1F, 0o17, ~, null, '1', .inf, 1_000, 07]\n"
    )
    data = load_yaml(_write(tmp_path, "a.yaml", text)).data
    assert data == [
        "no", "on", "yes", True, False, "2025-06-04", 100000.0, 31, 15, None, None, "1",
        ".inf", "1_000", 7,
    ]  # fmt: skip


def test_keys_are_always_text_as_written(tmp_path: Path) -> None:
    data = load_yaml(_write(tmp_path, "a.yaml", "101: a\n1.50: b\ntrue: c\n")).data
    assert data == {"101": "a", "1.50": "b", "true": "c"}


def test_aliases_and_merge_keys(tmp_path: Path) -> None:
    text = "base: &b {x: 1, y: 2}\nm:\n  <<: *b\n  y: 3\nlist: [*b]\n"
    data = load_yaml(_write(tmp_path, "a.yaml", text)).data
    assert data == {
        "base": {"x": 1, "y": 2},
        "m": {"x": 1, "y": 3},
        "list": [{"x": 1, "y": 2}],
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: !!binary aGk=\n", "the tag !!binary is not supported; write a plain YAML value"),
        ("a: !!python/object:os.system x\n", "the tag !!python/object:os.system is not supported"),
        ("a: !custom x\n", "the tag !custom is not supported"),
        ("a: !!int abc\n", "'abc' is not a valid !!int"),
        ("? [a, b]\n: c\n", "a key must be plain text, not a list or a mapping"),
    ],
)
def test_only_plain_values_are_accepted(tmp_path: Path, text: str, message: str) -> None:
    [issue] = load_yaml(_write(tmp_path, "a.yaml", text)).issues
    assert issue.message.startswith(message)


def test_an_alias_inside_itself_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="an alias refers to the value it is in"):
        load_yaml(_write(tmp_path, "a.yaml", "a: &x [1, *x]\n"))


def test_alias_bombs_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("policy_agent.yamlsource._yaml.MAX_VALUES", 1000)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 5)]
    with pytest.raises(SourceError, match="more than 1,000 values"):
        load_yaml(_write(tmp_path, "a.yaml", "\n".join(lines) + "\n"))


def test_syntax_errors_have_line_and_column(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as error:
        load_yaml(_write(tmp_path, "a.yaml", "a: [1, 2\nb: 3\n"))
    assert (error.value.line, error.value.column) == (2, 2)
    assert error.value.message == (
        "YAML syntax error: did not find expected ',' or ']' "
        "(while parsing a flow sequence at line 1, column 4)"
    )


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="file not found"):
        load_yaml(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_bytes(b"a: 1\nb: \xff\n")
    with pytest.raises(SourceError, match="is not UTF-8 text") as error:
        load_yaml(tmp_path / "bad.yaml")
    assert error.value.line == 2


@pytest.mark.parametrize(
    ("text", "line", "column", "message"),
    [
        ("a: 1\nb: x\x00y\n", 2, 5, "a NUL byte (\\0) is not allowed in YAML; remove it"),
        # The C loader counts bytes, the Python one characters: é takes two bytes.
        ("é: 1\nbé: éé\x00\n", 2, 7, "a NUL byte (\\0) is not allowed in YAML; remove it"),
        ("a: 1\n\nb: '\x07'\n", 3, 5, "the character U+0007 is not allowed in YAML; remove it"),
    ],
)
def test_a_character_yaml_refuses_is_located(
    tmp_path: Path, text: str, line: int, column: int, message: str
) -> None:
    with pytest.raises(SourceError) as error:
        load_yaml(_write(tmp_path, "a.yaml", text))
    assert (error.value.line, error.value.column, error.value.message) == (line, column, message)
    assert str(error.value) == f"{tmp_path / 'a.yaml'}:{line}:{column}: {message}"


def test_an_empty_file_is_null_at_its_first_line(tmp_path: Path) -> None:
    document = load_yaml(_write(tmp_path, "a.yaml", "# nothing\n\n# still nothing\n"))
    assert document.data is None
    assert document.line_of(("name",)) == 1


@given(JSON_VALUES)
def test_yaml_round_trip(value: object) -> None:
    """JSON values that PyYAML writes with quoted strings load back the same. (Unquoted, PyYAML
    writes strings such as 0E0 plain, which YAML 1.2 reads as numbers: see below.)"""
    assert _load_text(yaml.safe_dump(value, default_style='"')) == value


@pytest.mark.parametrize("text", ["0E0", "1e5", "-2.5E-3"])
def test_plain_exponents_are_numbers_as_yaml_1_2_says(text: str) -> None:
    # PyYAML (YAML 1.1) would read these as text and even writes such strings unquoted; packs
    # follow YAML 1.2 and JSON, so write "1e5" in quotes for the string.
    assert _load_text(f"value: {text}\n") == {"value": float(text)}
    assert _load_text(f"value: '{text}'\n") == {"value": text}


def _load_text(text: str) -> object:
    # Hypothesis runs a test many times per call, so a fresh folder each time, not tmp_path.
    with tempfile.TemporaryDirectory() as folder:
        return load_yaml(_write(Path(folder), "a.yaml", text)).data


def test_nesting_is_bounded(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nested more than 100 levels"):
        load_yaml(_write(tmp_path, "a.yaml", "[" * 102 + "]" * 102))
    assert load_yaml(_write(tmp_path, "a.yaml", "[" * 101 + "]" * 101)).data is not None


def test_a_marker_read_as_a_comment_after_unquoted_text_is_reported(tmp_path: Path) -> None:
    text = (
        "- Thank you, that's all. ###STOP###\n"
        "- 'Quoted, so kept. ###STOP###'\n"
        "- A plain comment  # nothing to see\n"
        "# a whole-line comment may name ###STOP###\n"
        "- key: value ###TRANSFER###\n"
    )
    document = load_yaml(_write(tmp_path, "a.yaml", text))
    assert document.data == [
        "Thank you, that's all.",
        "Quoted, so kept. ###STOP###",
        "A plain comment",
        {"key": "value"},
    ]
    assert [(issue.loc, issue.line, issue.message) for issue in document.issues] == [
        (
            (0,),
            1,
            "YAML reads ###STOP### here as a comment (a # after a space starts one), so the "
            'text ends without it; put the text in quotes: "Thank you, that\'s all. ###STOP###"',
        ),
        (
            (3, "key"),
            5,
            "YAML reads ###TRANSFER### here as a comment (a # after a space starts one), so the "
            'text ends without it; put the text in quotes: "value ###TRANSFER###"',
        ),
    ]


_TRICKY_SCALARS = [
    "yes", "no", "on", "off", "y", "n", "true", "True", "FALSE", "tRue", "~", "null", "Null", "",
    "2025-06-04", "2025-06-04T09:00:00", "12:30", "0x1F", "0X1F", "0o17", "017", "07", "0b101",
    "1e5", "1E-3", "1.", ".5", "+1", "-0", "1_000", ".inf", "-.Inf", ".nan", ".NaN", "'1'",
    '"a\\tb"', "!!int abc", "!!int 12", "!!str 12", "!!float 1", "!!bool yes", "!!null ''",
    "!!binary aGk=", "!custom x", "Thanks. ###STOP###", "a # note", "*a", "*b", "[]", "{}",
]  # fmt: skip
_KEYS = st.sampled_from(["k", "k", "id", "1", "true", "~", "<<", "'<<'", "x y"])
_ANCHORS = st.sampled_from(["", "", "&a ", "&b "])
_FLOW = st.recursive(
    st.sampled_from(_TRICKY_SCALARS),
    lambda inner: (
        st.builds(
            lambda a, items: f"{a}[{', '.join(items)}]", _ANCHORS, st.lists(inner, max_size=3)
        )
        | st.builds(
            lambda a, pairs: f"{a}{{{', '.join(f'{k}: {v}' for k, v in pairs)}}}",
            _ANCHORS,
            st.lists(st.tuples(_KEYS, inner), max_size=3),
        )
    ),
    max_leaves=8,
)
_BLOCK = st.lists(
    st.builds(
        lambda key, value, comment: f"{key}: {value}{comment}",
        _KEYS,
        _FLOW,
        st.sampled_from(["", " # a note", " ###STOP###", "  # ###TRANSFER###"]),
    ),
    min_size=1,
    max_size=5,
).map(lambda lines: "\n".join(lines) + "\n")


def _both_ways(text: str) -> tuple[object, object]:
    """`load_yaml`'s document of `text` (lines found when asked) and the one built with lines
    from the start, each as (data, issues, lines), or the error raised."""

    def seen(load: Callable[[Path], Document], file: Path) -> object:
        try:
            document = load(file)
        except SourceError as error:
            return str(error)
        return document.data, document.issues, dict(document.lines)

    with tempfile.TemporaryDirectory() as folder:
        file = _write(Path(folder), "a.yaml", text)
        return seen(load_yaml, file), seen(lambda f: _placed(f, text), file)


@settings(max_examples=300)
@given(_FLOW | _BLOCK)
def test_loading_without_lines_reads_what_loading_with_them_reads(text: str) -> None:
    """The fast path (values built without lines, lines found when asked for) is the slow one:
    the same values, issues, lines and errors, on YAML full of scalars that YAML 1.1 and 1.2
    read apart, tags, duplicate keys, anchors, aliases and merge keys."""
    fast, placed = _both_ways(text)
    assert fast == placed


def test_a_problem_found_without_lines_is_placed(tmp_path: Path) -> None:
    text = "rows:\n  - {id: 1}\n  - {id: 2, id: 3}\n"
    document = load_yaml(_write(tmp_path, "a.yaml", text))
    assert [(issue.loc, issue.line) for issue in document.issues] == [(("rows", 1, "id"), 3)]
    assert document.lines[("rows", 1)] == 3
