"""JSON loading with the line of every key and item, and duplicate keys reported.

`json.loads` forgets positions and keeps the last of two equal keys, so files written as JSON
(a pack's tools, database and tasks, as the imported tau2 packs have them) are also parsed by a
small recursive-descent parser over the standard library's own string and number scanners,
producing the same `Document` as the YAML loader.

That parser runs in Python, more than 10 times slower than `json.loads`: 10 s for a
100,000-record database. So a file is read with `json.loads` first, refusing what the parser
refuses (a duplicate key, `NaN` and `Infinity`, nesting deeper than `MAX_DEPTH`); the parser
reads it only when that fails, to report where, or when a line is first asked for (a problem
to report in a file that parsed).
"""

from __future__ import annotations

import bisect
import json
import re
from json.scanner import NUMBER_RE
from pathlib import Path
from typing import NoReturn

from policy_agent.yamlsource._yaml import (
    MAX_DEPTH,
    Document,
    DocumentIssue,
    LazyLines,
    Loc,
    SourceError,
    read_text,
)

_scanstring = json.decoder.scanstring  # type: ignore[attr-defined]  # public, but not in typeshed
_SPACE = re.compile(r"[ \t\n\r]*")
_LITERALS: dict[str, object] = {"true": True, "false": False, "null": None}
_CONTAINERS = (dict, list)


def load_json(file: Path) -> Document:
    """Parse a JSON file; raises `SourceError` with line and column for a syntax error."""
    text = read_text(file)
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant)
    except (ValueError, _Refused, RecursionError):
        return _Parser(file, text).document()
    if _deeper_than(MAX_DEPTH, data):
        return _Parser(file, text).document()
    return Document(
        file=file, data=data, lines=LazyLines(lambda: _Parser(file, text).document().lines)
    )


class _Refused(Exception):
    """What `json.loads` accepts and the parser does not: let the parser say where."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    mapping = dict(pairs)
    if len(mapping) != len(pairs):
        raise _Refused
    return mapping


def _no_constant(_name: str) -> NoReturn:
    raise _Refused


def _deeper_than(limit: int, data: object) -> bool:
    """Whether a value lies more than `limit` levels inside `data` (the parser's bound)."""
    level = [data] if isinstance(data, dict | list) else []
    for _ in range(limit):
        inside: list[object] = []
        for container in level:
            inside.extend(container.values() if isinstance(container, dict) else container)
        level = [value for value in inside if isinstance(value, _CONTAINERS)]
    return any(level)


class _Parser:
    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]
        self.lines: dict[Loc, int] = {}
        self.issues: list[DocumentIssue] = []

    def document(self) -> Document:
        start = self.skip(0)
        if start == len(self.text):
            self.fail(start, "the file is empty; expected a JSON value")
        data, end = self.value(start, ())
        end = self.skip(end)
        if end != len(self.text):
            self.fail(end, "unexpected text after the JSON value")
        self.lines[()] = self.line(start)
        return Document(file=self.file, data=data, lines=self.lines, issues=tuple(self.issues))

    def value(self, pos: int, loc: Loc) -> tuple[object, int]:
        if len(loc) > MAX_DEPTH:
            self.fail(pos, f"nested more than {MAX_DEPTH} levels deep")
        char = self.text[pos : pos + 1]
        if char == "{":
            return self.mapping(pos + 1, loc)
        if char == "[":
            return self.array(pos + 1, loc)
        if char == '"':
            return self.string(pos)
        number = NUMBER_RE.match(self.text, pos)
        if number:
            integer, fraction, exponent = number.groups()
            if fraction or exponent:
                return float(integer + (fraction or "") + (exponent or "")), number.end()
            return int(integer), number.end()
        for word, literal in _LITERALS.items():
            if self.text.startswith(word, pos):
                return literal, pos + len(word)
        self.fail(pos, "expected a JSON value" if char else "the file ends where a value belongs")

    def mapping(self, pos: int, loc: Loc) -> tuple[dict[str, object], int]:
        result: dict[str, object] = {}
        first_lines: dict[str, int] = {}
        pos = self.skip(pos)
        if self.text.startswith("}", pos):
            return result, pos + 1
        while True:
            if not self.text.startswith('"', pos):
                self.fail(pos, "expected a key in double quotes")
            key_line = self.line(pos)
            key, pos = self.string(pos)
            pos = self.skip(pos)
            if not self.text.startswith(":", pos):
                self.fail(pos, "expected ':' after the key")
            pos = self.skip(pos + 1)
            if key in first_lines:
                message = f"duplicate key {key!r} (first at line {first_lines[key]})"
                self.issues.append(DocumentIssue(loc=(*loc, key), line=key_line, message=message))
                _, pos = self.value(pos, (*loc, key, "(duplicate)"))
            else:
                first_lines[key] = key_line
                self.lines[(*loc, key)] = key_line
                result[key], pos = self.value(pos, (*loc, key))
            pos = self.skip(pos)
            if self.text.startswith("}", pos):
                return result, pos + 1
            if not self.text.startswith(",", pos):
                self.fail(pos, "expected ',' or '}'")
            pos = self.skip(pos + 1)

    def array(self, pos: int, loc: Loc) -> tuple[list[object], int]:
        items: list[object] = []
        pos = self.skip(pos)
        if self.text.startswith("]", pos):
            return items, pos + 1
        while True:
            self.lines[(*loc, len(items))] = self.line(pos)
            item, pos = self.value(pos, (*loc, len(items)))
            items.append(item)
            pos = self.skip(pos)
            if self.text.startswith("]", pos):
                return items, pos + 1
            if not self.text.startswith(",", pos):
                self.fail(pos, "expected ',' or ']'")
            pos = self.skip(pos + 1)

    def string(self, pos: int) -> tuple[str, int]:
        try:
            text, end = _scanstring(self.text, pos + 1)
            return str(text), int(end)
        except json.JSONDecodeError as error:
            message = error.msg.removesuffix(" at").removesuffix(" starting at")
            self.fail(error.pos, message[0].lower() + message[1:])

    def skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        return match.end() if match else pos

    def line(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos)

    def fail(self, pos: int, message: str) -> NoReturn:
        line = self.line(pos)
        column = pos - self.line_starts[line - 1] + 1
        raise SourceError(self.file, f"JSON syntax error: {message}", line=line, column=column)
