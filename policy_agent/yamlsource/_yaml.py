"""Safe YAML loading that remembers where every value came from.

PyYAML's loaders construct plain Python values and forget their positions, and they silently
keep the last of two equal keys: that is how a duplicate record id or a duplicate tool would
slip through. Here the node graph is composed by a `SafeLoader` (the C one when available) and
turned into JSON values by hand, so that:

- every mapping key and sequence item gets its line, keyed by its path in the document;
- duplicate keys are reported with both lines;
- scalars follow YAML 1.2's core schema, the one JSON values fit: only `true`/`false` are
  booleans (`no` and `on` stay text), dates stay ISO text, `1e5` is a number;
- only the standard tags are accepted, so nothing in a file can name a Python object;
- a `###STOP###`-like marker that YAML took for a comment after unquoted text is reported,
  since the author meant it as part of the text.

Recording a line for every key and item takes time and memory (some 2 million at 100,000
records), and a file without problems never needs them. So the values are built first without
lines, by the same code, stopping at the first problem; only then, or when a line is first asked
for, is the file built again with its lines. The collector is paused while the graph is built:
millions of new objects would otherwise have it traverse them again and again, three times the
whole load.
"""

from __future__ import annotations

import contextlib
import gc
import json
import math
import re
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from policy_agent.errors import PolicyAgentError
from policy_agent.yamlsource._cache import YamlCache

Loc = tuple[str | int, ...]
"""A path into a document: mapping keys and sequence indexes, outermost first."""

MAX_VALUES = 2_000_000
"""Refuse documents whose aliases expand to more values than this (a "billion laughs" guard)."""
MAX_DEPTH = 100
"""Refuse values nested deeper than this rather than overflowing Python's stack."""

_TAG = "tag:yaml.org,2002:"
_NULL, _BOOL, _INT, _FLOAT, _STR = (_TAG + t for t in ("null", "bool", "int", "float", "str"))
_SEQ, _MAP, _MERGE = _TAG + "seq", _TAG + "map", _TAG + "merge"
_MARKER_IN_COMMENT = re.compile(r"^\s+(?:#.*?)?(###[A-Z][A-Z-]*###)")
"""The rest of a line after an unquoted value: a comment holding a `###WORD###` marker."""


@dataclass(frozen=True, kw_only=True)
class DocumentIssue:
    """Something wrong inside a document that did not stop it from loading (a duplicate key)."""

    loc: Loc
    line: int
    message: str


@dataclass(frozen=True, kw_only=True)
class Document:
    """A YAML or JSON file's value, with the 1-based line of every key and item in it."""

    file: Path
    data: object
    lines: Mapping[Loc, int] = field(default_factory=dict)
    """Where each key and item is (a JSON file without problems finds them when first asked)."""
    issues: tuple[DocumentIssue, ...] = ()

    def line_of(self, loc: Loc) -> int | None:
        """The line of `loc`, or of its nearest ancestor the document has a line for."""
        for end in range(len(loc), -1, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return None


class SourceError(PolicyAgentError):
    """A file could not be read or parsed at all (missing, not UTF-8, a syntax error)."""

    def __init__(
        self, file: Path, message: str, *, line: int | None = None, column: int | None = None
    ) -> None:
        self.file = file
        self.message = message
        self.line = line
        self.column = column
        where = f"{file}:{line}:{column}" if line and column else f"{file}:{line}" if line else file
        super().__init__(f"{where}: {message}")


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class CoreSchemaLoader(_BaseLoader):  # type: ignore[valid-type, misc]
    """A SafeLoader resolving plain scalars by YAML 1.2's core schema (JSON's value kinds)."""

    yaml_implicit_resolvers: ClassVar[dict[str | None, list[tuple[str, re.Pattern[str]]]]] = {}


# Reading any value differently? Raise the number in `_cache.LOADER_VERSION`, or cached values
# of big files would still be read the old way.
for _tag, _pattern, _first in (
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_INT, r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        _FLOAT,
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        "-+.0123456789",
    ),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_MERGE, r"^(?:<<)$", "<"),
):
    CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def load_yaml(file: Path, *, cache: YamlCache | None = None) -> Document:
    """Parse a YAML file safely; raises `SourceError` for a syntax error, with line and column.

    With a `cache`, a big file that loaded without problems before is read from its JSON copy;
    the lines are then found in the YAML file when first asked for, as after any clean load.
    """
    raw = _read_bytes(file)
    key = cache.key(raw) if cache is not None else None
    if cache is not None and key is not None and (cached := cache.read(key)) is not None:
        return Document(
            file=file,
            data=cached[0],
            lines=LazyLines(lambda: _placed(file, _decode(file, raw)).lines),
        )
    text = _decode(file, raw)
    document = _load(file, text)
    if cache is not None and key is not None and not document.issues:
        cache.write(key, document.data)
    return document


def _load(file: Path, text: str) -> Document:
    """The document of `text`, its lines found when first asked for if it has no problems."""
    with _collector_paused():
        root = _compose(file, text)
        if root is None:
            # Problems with an empty file (it lacks everything) are reported at its first line.
            return Document(file=file, data=None, lines={(): 1})
        try:
            data = _Builder(file, text, placing=False).value(root, (), frozenset())
        except _ToPlace:
            return _placed(file, text, root)
    return Document(file=file, data=data, lines=LazyLines(lambda: _placed(file, text).lines))


def _placed(file: Path, text: str, root: Node | None = None) -> Document:
    """The document of `text` with the line of every key and item, and its issues."""
    with _collector_paused():
        root = root if root is not None else _compose(file, text)
        if root is None:
            return Document(file=file, data=None, lines={(): 1})
        builder = _Builder(file, text, placing=True)
        data = builder.value(root, (), frozenset())
    builder.lines.setdefault((), root.start_mark.line + 1)
    return Document(file=file, data=data, lines=builder.lines, issues=tuple(builder.issues))


def _compose(file: Path, text: str) -> Node | None:
    """The node graph of `text`, None for an empty document; `SourceError` if not YAML."""
    try:
        loader = CoreSchemaLoader(text)
        try:
            node: Node | None = loader.get_single_node()
            return node
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "not valid YAML"
        start = error.context_mark
        if error.problem and error.context and start and mark and start.line != mark.line:
            # Where the unfinished construct began is usually where the mistake is.
            problem += f" ({error.context} at line {start.line + 1}, column {start.column + 1})"
        raise SourceError(
            file,
            f"YAML syntax error: {problem}",
            line=mark.line + 1 if mark else None,
            column=mark.column + 1 if mark else None,
        ) from None
    except yaml.reader.ReaderError as error:
        raise _unacceptable_character(file, text, error) from None
    except yaml.YAMLError as error:
        raise SourceError(file, f"YAML syntax error: {error}") from None


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No garbage collection inside (the graph being built has no garbage to find)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class LazyLines(Mapping[Loc, int]):
    """The lines of a document that loaded without problems, found when first asked for."""

    def __init__(self, find: Callable[[], Mapping[Loc, int]]) -> None:
        self._find: Callable[[], Mapping[Loc, int]] | None = find
        self._lines: Mapping[Loc, int] = {}

    def _found(self) -> Mapping[Loc, int]:
        if self._find is not None:
            self._lines, self._find = self._find(), None
        return self._lines

    def __getitem__(self, loc: Loc) -> int:
        return self._found()[loc]

    def __iter__(self) -> Iterator[Loc]:
        return iter(self._found())

    def __len__(self) -> int:
        return len(self._found())


def _unacceptable_character(file: Path, text: str, error: yaml.reader.ReaderError) -> SourceError:
    """The error for a character YAML refuses anywhere (a NUL byte, a control character).

    The reader's position counts bytes in the C loader and characters in the Python one, so
    the character is looked for instead: being refused anywhere, its first one is the culprit.
    """
    if not isinstance(error.character, int):
        return SourceError(file, f"YAML refuses a character in it: {error.reason}")
    character = chr(error.character)
    name = "a NUL byte (\\0)" if character == "\0" else f"the character U+{error.character:04X}"
    offset = text.find(character)
    if offset < 0:
        return SourceError(file, f"YAML refuses {name}: {error.reason}")
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return SourceError(file, f"{name} is not allowed in YAML; remove it", line=line, column=column)


def special_file_kind(path: Path) -> str | None:
    """What `path` is when it exists but is neither a regular file nor a folder (`a FIFO (named
    pipe)`, `a socket`, ...): reading one would block or make no sense. None otherwise."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    kinds = (
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    return next((kind for test, kind in kinds if test(mode)), None)


def read_text(file: Path) -> str:
    """A file's text as UTF-8 (a leading BOM is dropped); `SourceError` if unreadable."""
    return _decode(file, _read_bytes(file))


def _read_bytes(file: Path) -> bytes:
    try:
        return file.read_bytes()
    except FileNotFoundError:
        raise SourceError(file, "file not found") from None
    except IsADirectoryError:
        raise SourceError(file, "is a folder, not a file") from None
    except OSError as error:
        raise SourceError(file, f"cannot be read: {error.strerror}") from None


def _decode(file: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise SourceError(file, "is not UTF-8 text", line=line) from None


class _ToPlace(Exception):
    """A problem found while building without lines: build again, placing it."""


class _Builder:
    """Turns a composed node graph into JSON values, recording lines and duplicate keys.

    Unless `placing`, no lines are recorded and the first problem raises `_ToPlace`.
    """

    def __init__(self, file: Path, text: str, *, placing: bool) -> None:
        self.file = file
        self.text = text
        self.source: list[str] | None = None
        """The text's lines, split when first needed."""
        self.markers_possible = "###" in text
        self.placing = placing
        self.lines: dict[Loc, int] = {}
        self.issues: list[DocumentIssue] = []
        self.count = 0

    def value(self, node: Node, loc: Loc, active: frozenset[int]) -> object:
        self.count += 1
        if self.count > MAX_VALUES:
            raise SourceError(
                self.file,
                f"holds more than {MAX_VALUES:,} values once aliases are expanded",
                line=_line(node),
            )
        if len(loc) > MAX_DEPTH:
            raise SourceError(
                self.file, f"nested more than {MAX_DEPTH} levels deep", line=_line(node)
            )
        if id(node) in active:
            raise SourceError(self.file, "an alias refers to the value it is in", line=_line(node))
        if isinstance(node, ScalarNode):
            return self.scalar(node, loc)
        inner = active | {id(node)}
        if isinstance(node, SequenceNode) and node.tag == _SEQ:
            items: list[object] = []
            for index, item in enumerate(node.value):
                if self.placing:
                    self.lines[(*loc, index)] = _line(item)
                items.append(self.value(item, (*loc, index), inner))
            return items
        if isinstance(node, MappingNode) and node.tag == _MAP:
            return self.mapping(node, loc, inner)
        self.unsupported_tag(loc, node)
        return None

    def mapping(self, node: MappingNode, loc: Loc, active: frozenset[int]) -> dict[str, object]:
        result: dict[str, object] = {}
        explicit: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                for key, line, merged in self.merge_sources(value_node, loc):
                    if key not in result:
                        if self.placing:
                            self.lines[(*loc, key)] = line
                        result[key] = self.value(merged, (*loc, key), active)
                continue
            if not isinstance(key_node, ScalarNode):
                self.issue(loc, key_node, "a key must be plain text, not a list or a mapping")
                continue
            key = key_node.value
            if key in explicit:
                message = f"duplicate key {key!r} (first at line {_line(explicit[key])})"
                self.issue_at((*loc, key), _line(key_node), message)
                continue
            explicit[key] = key_node  # its line is worked out only when it is needed
            if self.placing:
                self.lines[(*loc, key)] = _line(key_node)
            result[key] = self.value(value_node, (*loc, key), active)
        return result

    def merge_sources(self, node: Node, loc: Loc) -> Iterator[tuple[str, int, Node]]:
        """The entries a `<<:` merge key brings in; earlier sources win, as YAML says."""
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.issue(loc, source, "`<<` merges mappings only (an alias to a mapping)")
                continue
            for key_node, value_node in source.value:
                if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                    yield key_node.value, _line(key_node), value_node

    def scalar(self, node: ScalarNode, loc: Loc) -> object:
        text: str = node.value
        try:
            if node.tag == _STR:
                self.check_marker_comment(node, loc)
                return text
            if node.tag == _NULL:
                return None
            if node.tag == _BOOL and text.lower() in ("true", "false"):
                return text.lower() == "true"
            if node.tag == _INT:
                digits = text.lstrip("+-")
                sign = -1 if text.startswith("-") else 1
                base = 8 if digits[:2] == "0o" else 16 if digits[:2] == "0x" else 10
                return sign * int(digits[2:] if base != 10 else digits, base)
            if node.tag == _FLOAT and math.isfinite(number := float(text)):
                return number
        except ValueError:
            pass
        if node.tag in (_BOOL, _INT, _FLOAT, _NULL):
            self.issue(loc, node, f"{text!r} is not a valid !!{node.tag.removeprefix(_TAG)}")
            return text
        self.unsupported_tag(loc, node)
        return text

    def check_marker_comment(self, node: ScalarNode, loc: Loc) -> None:
        """`- Thanks. ###STOP###` unquoted: YAML reads ` ###STOP###` as a comment and drops it."""
        if node.style not in (None, "") or not self.markers_possible:
            return
        if self.source is None:
            self.source = self.text.splitlines()
        end = node.end_mark
        if end.line >= len(self.source):
            return
        rest = self.source[end.line][end.column :]
        found = _MARKER_IN_COMMENT.match(rest)
        if found:
            meant = json.dumps(node.value + rest.rstrip(), ensure_ascii=False)
            self.issue(
                loc,
                node,
                f"YAML reads {found.group(1)} here as a comment (a # after a space starts one), "
                f"so the text ends without it; put the text in quotes: {meant}",
            )

    def unsupported_tag(self, loc: Loc, node: Node) -> None:
        tag = str(node.tag).replace(_TAG, "!!")
        self.issue(loc, node, f"the tag {tag} is not supported; write a plain YAML value")

    def issue(self, loc: Loc, node: Node, message: str) -> None:
        self.issue_at(loc, _line(node), message)

    def issue_at(self, loc: Loc, line: int, message: str) -> None:
        if not self.placing:
            raise _ToPlace
        self.issues.append(DocumentIssue(loc=loc, line=line, message=message))


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1
