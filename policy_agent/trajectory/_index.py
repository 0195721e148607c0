"""`episodes.index`: where each line of `episodes.jsonl` starts and which attempt it holds, kept
beside the run so that a reader of one episode (`show -e`, the replay) seeks to its line instead
of reading the run.

```
{"format":1,"size":139167430,"lines":10000,"last_line_sha256":"f9d368ab..."}
[0,"card_triplet_cribs",0,1,null]
[14178,"crib_limit_partial",0,1,null]
...
```
A header line says what it covers: the first `size` bytes of `episodes.jsonl`, `lines` whole
lines, the last of which hashes to `last_line_sha256`. Then one row per line, in order: its byte
offset, its key (task, trial) and its attempt markers (`attempt`, `supersedes`), read as
`index_attempts` reads them, so that `RunIndex.attempts` is exactly what `index_attempts` gives.

`load_index` is the only way in: it reads the index when it covers the file as it is, extends it
when the file only grew (the store only appends: a run still going, or resumed), and builds it
again when the header does not hold (the file was replaced or cut) or the index cannot be read.
It is a cache: a missing or stale one only costs a scan. It is written only when every line is a
whole episode line (a torn last line or a line that is not an episode is answered by scanning,
every time, until a resume or a person fixes the file) and only where it can be (a read-only
folder is read, never written). It is written to a temporary file renamed over the old one, so
readers racing each other see one whole index or another, each true of a prefix of the file.

A file replaced by another of the same length or longer whose line at the end of the covered
part is the same bytes is not told apart: the store never does that (it only appends).
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from policy_agent.trajectory._attempts import EpisodeKey, LatestAttempts, attempt_fields
from policy_agent.trajectory._errors import describe_os_error
from policy_agent.trajectory._lines import TornTail, _raw_lines, _torn
from policy_agent.trajectory._manifest import write_atomically

INDEX_NAME = "episodes.index"
"""The index's file name, beside `episodes.jsonl`."""
INDEX_FORMAT: Literal[1] = 1
"""The version of the index's layout; an index of another version is built again."""

IndexSource = Literal["read", "extended", "built", "scanned"]
"""How `load_index` answered: the index as it was, extended by the lines appended since, built
anew, or found by scanning the file without writing an index (see `RunIndex.unwritten`)."""


@dataclass(frozen=True, kw_only=True, slots=True)
class IndexedLine:
    """Where one episode line is, and which attempt of which (task, trial) it holds."""

    line: int
    """Its 1-based line number."""
    offset: int
    """The byte offset where it starts."""
    size: int
    """Its length in bytes, newline included."""
    key: EpisodeKey
    attempt: int
    supersedes: int | None


@dataclass(frozen=True, kw_only=True)
class RunIndex:
    """What `load_index` found: every whole episode line of `episodes.jsonl`, in order."""

    path: Path
    """The `episodes.jsonl` it is the index of."""
    lines: tuple[IndexedLine, ...]
    skipped: tuple[int, ...] = ()
    """Whole lines that are not episodes (reading them whole says why): never indexed."""
    torn: TornTail | None = None
    """The torn last line (a crash, or a line still being written): not indexed."""
    source: IndexSource
    unwritten: str | None = None
    """Why `episodes.index` does not hold this answer (a bad line, a read-only folder); None
    when it does."""

    def attempts(self) -> LatestAttempts:
        """The latest attempt of each (task, trial): `index_attempts(path)` without reading it.

        Raises `AttemptConflict` where `index_attempts` does.
        """
        attempts = LatestAttempts(self.path)
        for row in self.lines:
            attempts.add(row.line, row.key, row.attempt, row.supersedes)
        for line in self.skipped:
            attempts.skip(line)
        return attempts

    def line(self, number: int) -> IndexedLine | None:
        """The episode on line `number`, or None when that line holds none."""
        at = bisect.bisect_left(self.lines, number, key=_number)
        return self.lines[at] if at < len(self.lines) and self.lines[at].line == number else None


class _Header(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal[1]
    size: int
    lines: int
    last_line_sha256: str | None


_ROWS = TypeAdapter(list[tuple[int, str, int, int, int | None]])


def index_path(episodes: Path) -> Path:
    """Where the index of `episodes` (a run's `episodes.jsonl`) is kept."""
    return episodes.with_name(INDEX_NAME)


def load_index(episodes: Path) -> RunIndex:
    """The index of `episodes`, read, extended, built or scanned (see the module's docstring).

    Raises OSError only when `episodes` cannot be read; an index that cannot be read or written
    is worked around.
    """
    stored = _read_stored(index_path(episodes), episodes)
    if stored is not None and stored.covers_all:
        return RunIndex(path=episodes, lines=stored.lines, source="read")
    start = stored.lines if stored is not None else ()
    offset = start[-1].offset + start[-1].size if start else 0
    scan = _scan(episodes, offset=offset, after=len(start))
    lines = start + scan.lines
    problem = None
    if scan.skipped:
        problem = f"line {scan.skipped[0]} is not an episode"
    elif scan.torn is not None:
        problem = f"its last line (line {scan.torn.line}) is torn"
    if problem is not None:
        return RunIndex(
            path=episodes,
            lines=lines,
            skipped=scan.skipped,
            torn=scan.torn,
            source="scanned",
            unwritten=f"{episodes}: {problem}, so no index is written",
        )
    digest = scan.last_digest if scan.lines else (stored.last_digest if stored else None)
    source: IndexSource = "extended" if stored is not None else "built"
    try:
        _write(index_path(episodes), lines, digest)
    except OSError as error:
        unwritten = describe_os_error(error, index_path(episodes))
        return RunIndex(path=episodes, lines=lines, source=source, unwritten=unwritten)
    return RunIndex(path=episodes, lines=lines, source=source)


@dataclass(frozen=True, kw_only=True)
class _Stored:
    """An index file whose header holds for the start of `episodes.jsonl`."""

    lines: tuple[IndexedLine, ...]
    last_digest: str | None
    covers_all: bool
    """It covers the whole file as it is now."""


def _read_stored(path: Path, episodes: Path) -> _Stored | None:
    """The index at `path` when it holds for `episodes`, else None (missing, unreadable, of
    another format, or of a file that was replaced or cut since)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head, _, rest = data.partition(b"\n")
    try:
        header = _Header.model_validate_json(head)
        rows = _ROWS.validate_json(b"[" + b",".join(rest.splitlines()) + b"]")
    except ValidationError:
        return None
    if len(rows) != header.lines:
        return None
    offsets = [row[0] for row in rows] + [header.size]
    if offsets[0] != 0 or any(a >= b for a, b in itertools.pairwise(offsets)):
        return None
    lines = tuple(
        IndexedLine(
            line=number,
            offset=offset,
            size=offsets[number] - offset,
            key=(task_id, trial),
            attempt=attempt,
            supersedes=supersedes,
        )
        for number, (offset, task_id, trial, attempt, supersedes) in enumerate(rows, start=1)
    )
    with episodes.open("rb") as file:
        size = os.fstat(file.fileno()).st_size
        if size < header.size:
            return None
        if lines:
            file.seek(lines[-1].offset)
            last = file.read(lines[-1].size)
            if not last.endswith(b"\n") or _digest(last) != header.last_line_sha256:
                return None
    return _Stored(lines=lines, last_digest=header.last_line_sha256, covers_all=size == header.size)


@dataclass(frozen=True, kw_only=True)
class _Scan:
    lines: tuple[IndexedLine, ...]
    skipped: tuple[int, ...]
    torn: TornTail | None
    last_digest: str | None


def _scan(episodes: Path, *, offset: int, after: int) -> _Scan:
    """The lines of `episodes` from byte `offset` (where line `after + 1` starts) to its end."""
    lines: list[IndexedLine] = []
    skipped: list[int] = []
    last: bytes | None = None
    for raw in _raw_lines(episodes, offset=offset, after=after):
        torn = _torn(raw)
        if torn is not None:
            return _Scan(lines=tuple(lines), skipped=tuple(skipped), torn=torn, last_digest=None)
        fields = attempt_fields(raw.data)
        if fields is None:
            skipped.append(raw.number)
            continue
        lines.append(
            IndexedLine(
                line=raw.number,
                offset=raw.offset,
                size=len(raw.data),
                key=(fields.task_id, fields.trial),
                attempt=fields.attempt,
                supersedes=fields.supersedes,
            )
        )
        last = raw.data
    digest = None if last is None else _digest(last)
    return _Scan(lines=tuple(lines), skipped=tuple(skipped), torn=None, last_digest=digest)


def remove_index_temporaries(directory: Path) -> None:
    """Delete the temporary indexes of readers killed while writing one (`RunStore.resume`
    calls it; a reader still writing one only finds its index unwritten, and says so)."""
    for stale in directory.glob(f".{INDEX_NAME}.*.tmp"):
        stale.unlink(missing_ok=True)


def _write(path: Path, lines: tuple[IndexedLine, ...], last_digest: str | None) -> None:
    end = lines[-1].offset + lines[-1].size if lines else 0
    header = _Header(format=INDEX_FORMAT, size=end, lines=len(lines), last_line_sha256=last_digest)
    rows = [
        json.dumps([row.offset, *row.key, row.attempt, row.supersedes], separators=(",", ":"))
        for row in lines
    ]
    text = "\n".join([header.model_dump_json(), *rows]) + "\n"
    write_atomically(path, text.encode())


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _number(row: IndexedLine) -> int:
    return row.line
