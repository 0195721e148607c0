"""Reading `episodes.jsonl`: one JSON object per line, of which only the last may be torn.

The store writes each line whole, newline included, with one `os.write` on an `O_APPEND`
descriptor, so a crash can cut short at most the line being written: the last one. A last line
without its newline, or that is not valid JSON, is that torn write; it is dropped with a
`RunStoreWarning` (and truncated away when the run is resumed). Any other bad line cannot come
from a crash, so it is an error naming its line number.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, JsonValue, ValidationError

from policy_agent.trajectory._errors import (
    CorruptLine,
    RecordInvalid,
    RunStoreWarning,
    describe_validation_error,
)

EPISODES_NAME = "episodes.jsonl"
"""The episode log's file name inside a run directory."""

_READ_BUFFER = 1 << 20
"""Bytes read from `episodes.jsonl` at a time."""

RecordT = TypeVar("RecordT", bound=BaseModel)
_ParsedT = TypeVar("_ParsedT")


@dataclass(frozen=True, kw_only=True)
class Line:
    """One complete line of `episodes.jsonl`, parsed."""

    number: int
    """1-based line number."""
    value: dict[str, JsonValue]
    """The line's JSON object."""


@dataclass(frozen=True, kw_only=True)
class TornTail:
    """The last line of `episodes.jsonl`, cut short by a crash (or still being written)."""

    line: int
    """Its 1-based line number."""
    offset: int
    """The byte offset where it starts: the file's length once it is dropped."""
    size: int
    """Its length in bytes."""
    reason: str
    """Why it counts as torn, e.g. `it does not end with a newline`."""

    def describe(self, path: Path) -> str:
        """One sentence for the user, naming the file and the line."""
        return (
            f"{path}:{self.line}: the last line ({self.size} bytes) is torn: {self.reason}. "
            "A crash cut its write short (or it is still being written); it is ignored, and its "
            "episode runs again when the run is resumed."
        )


@dataclass(frozen=True, kw_only=True)
class _RawLine:
    number: int
    offset: int
    data: bytes
    """The line's bytes, its newline included when it has one."""
    last: bool


def _raw_lines(path: Path, *, offset: int = 0, after: int = 0) -> Iterator[_RawLine]:
    """Every line of `path` with its number and offset, flagging the last one (one lookahead).

    From byte `offset` on, where line `after + 1` starts (the index reads only what was
    appended since it was written).
    """
    # Episode lines are kilobytes long: with the default 8 kB buffer each one is pieced together
    # from several reads, and reading a 133 MB log took 0.3 s instead of 0.07 s.
    with path.open("rb", buffering=_READ_BUFFER) as file:
        file.seek(offset)
        previous: bytes | None = None
        number = after
        for data in file:
            if previous is not None:
                yield _RawLine(number=number, offset=offset, data=previous, last=False)
                offset += len(previous)
            number += 1
            previous = data
        if previous is not None:
            yield _RawLine(number=number, offset=offset, data=previous, last=True)


def _tail_problem(data: bytes) -> str | None:
    """Why a last line is a torn write, or None when it is a whole line."""
    if not data.endswith(b"\n"):
        return "it does not end with a newline"
    try:
        json.loads(data)
    except ValueError:
        return "it is not valid JSON"
    return None


def _torn(raw: _RawLine) -> TornTail | None:
    problem = _tail_problem(raw.data) if raw.last else None
    if problem is None:
        return None
    return TornTail(line=raw.number, offset=raw.offset, size=len(raw.data), reason=problem)


def find_torn_tail(path: Path) -> TornTail | None:
    """The torn last line of `path`, if it has one (reads the file without parsing it)."""
    for raw in _raw_lines(path):
        if raw.last:
            return _torn(raw)
    return None


def _parsed(path: Path, parse: Callable[[int, bytes], _ParsedT]) -> Iterator[_ParsedT]:
    """`parse(number, data)` for every line, the torn last line dropped with a warning."""
    for raw in _raw_lines(path):
        torn = _torn(raw)
        if torn is not None:
            warnings.warn(RunStoreWarning(torn.describe(path)), stacklevel=2)
            return
        yield parse(raw.number, raw.data)


def _json_problem(data: bytes) -> str | None:
    """Why a line is not a JSON object (which every line the store writes is), or None."""
    try:
        value = json.loads(data)
    except ValueError as error:
        return f"not valid JSON: {error}"
    if not isinstance(value, dict):
        return f"a JSON {type(value).__name__}, not an object"
    return None


def iter_lines(path: Path) -> Iterator[Line]:
    """Every complete line of `path` as a JSON object (see the module's docstring for torn ones).

    Raises `CorruptLine` for a line other than the last that is not a JSON object.
    """

    def parse(number: int, data: bytes) -> Line:
        problem = _json_problem(data)
        if problem is not None:
            raise CorruptLine(path, number, problem)
        return Line(number=number, value=json.loads(data))

    return _parsed(path, parse)


_TOKENS_START = b'"tokens":{"prompt_token_ids":'
"""How `model_dump_json` writes a `TokenTrace` inside a generation (fields in declared order)."""
_TOKENS_FIELDS = (b',"completion_token_ids":', b',"completion_logprobs":')


def without_tokens(data: bytes) -> bytes:
    """A line with every generation's `tokens` written as null, found without parsing the JSON.

    `record_tokens` makes token ids and logprobs most of a line (88% of a hotel episode's bytes
    at a real tokenizer's ratio), which readers that never look at them (`report`, `show`,
    `compare`, `evaluate`) would otherwise parse and validate. A `TokenTrace` is written as
    `"tokens":{"prompt_token_ids":[..],"completion_token_ids":[..],"completion_logprobs":[..]}`
    (each list may be null): numbers only, no nested object, so its end is the next `}`. The
    shape is checked before a span is cut; any other `"tokens"` key (in a tool's data, say) and
    the text of messages (where quotes are escaped) are left as they are.
    """
    start = data.find(_TOKENS_START)
    if start < 0:
        return data
    parts = []
    kept = 0
    while start >= 0:
        end = data.find(b"}", start)
        span = data[start:end]
        if end < 0 or not all(field in span for field in _TOKENS_FIELDS) or b"{" in span[10:]:
            start = data.find(_TOKENS_START, start + 1)
            continue
        parts.append(data[kept:start])
        parts.append(b'"tokens":null')
        kept = end + 1
        start = data.find(_TOKENS_START, kept)
    parts.append(data[kept:])
    return b"".join(parts)


def iter_records(
    path: Path, model_type: type[RecordT], *, tokens: bool = True
) -> Iterator[tuple[int, RecordT]]:
    """Every complete line of `path` validated as `model_type`, with its line number.

    Each line is read back with `model_validate_json`, the inverse of the `model_dump_json` that
    wrote it; with `tokens=False` every generation's token trace is left out first (read as
    None, see `without_tokens`). Raises `CorruptLine` for a line other than the last that is not
    a JSON object, and `RecordInvalid` for a JSON object that is not a `model_type`.
    """

    def parse(number: int, data: bytes) -> tuple[int, RecordT]:
        try:
            return number, model_type.model_validate_json(data if tokens else without_tokens(data))
        except ValidationError as error:
            # Parsed again only on this error path, to tell damage from a schema mismatch.
            problem = _json_problem(data)
            if problem is not None:
                raise CorruptLine(path, number, problem) from None
            detail = describe_validation_error(error)
            # A reader's slim model of a record is titled as the record it reads.
            name = model_type.model_config.get("title") or model_type.__name__
            raise RecordInvalid(path, number, name, detail) from None

    return _parsed(path, parse)
