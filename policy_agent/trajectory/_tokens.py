"""`tokens.jsonl`: each episode's token traces, beside `episodes.jsonl` and out of its lines.

With `record_tokens`, token ids and logprobs are most of an episode (88% of a hotel episode's
bytes), and most readers (`report`, `compare`, `evaluate`, `show`'s index) never look at them.
So the store writes them to a sidecar file, one line per episode that has any:

    {"task_id": "...", "trial": 0, "attempt": 1, "traces": [TokenTrace | null, ...]}

`traces` holds every `Generation`'s `tokens` of the episode in the order `generations` visits
them (field order, list order: the agent's, the user simulator's, the judge's, wherever they
are), null for a generation without one. The episode line keeps every `tokens` null and says
where its traces are: `Episode.tokens_offset`, the byte offset of its token line, so that one
episode's tokens are a seek, not a scan. The token line repeats the episode's key and attempt,
which a reader checks, so an offset can never join the wrong traces.

Order of writes, and what a crash leaves: the token line is appended (one `os.write`, fsynced)
before the episode line, so an episode line on disk never points at missing traces. A crash
between the two, or during the first, leaves token bytes that no episode line refers to: readers
never reach them (they only seek to offsets that episode lines give), and a resume cuts them off
(`cut_unreferenced_tokens`), like a torn episode line, before anything is appended again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from policy_agent.records import Episode, Generation, TokenTrace
from policy_agent.trajectory._errors import TokensMissing, describe_validation_error
from policy_agent.trajectory._lines import EPISODES_NAME, _raw_lines, _torn

TOKENS_NAME = "tokens.jsonl"
"""The token traces' file name inside a run directory."""


class TokenLine(BaseModel):
    """One line of `tokens.jsonl`: the token traces of one attempt of one episode."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    trial: int
    attempt: int
    traces: list[TokenTrace | None]
    """Each generation's `tokens`, in the order `generations` visits them."""


def _rebuilt(value: object, change: Callable[[Generation], Generation]) -> object:
    """`value` with `change` applied to every `Generation` in it; unchanged parts kept as they
    are (the same objects), so an episode without generations is not copied at all."""
    if isinstance(value, Generation):
        return change(value)
    if isinstance(value, BaseModel):
        updates = {}
        for name in type(value).model_fields:
            old = getattr(value, name)
            new = _rebuilt(old, change)
            if new is not old:
                updates[name] = new
        return value.model_copy(update=updates) if updates else value
    if isinstance(value, list):
        items = [_rebuilt(item, change) for item in value]
        return items if any(a is not b for a, b in zip(items, value, strict=True)) else value
    if isinstance(value, dict):
        entries = {key: _rebuilt(item, change) for key, item in value.items()}
        return entries if any(entries[key] is not value[key] for key in value) else value
    return value


def generations(episode: Episode) -> list[Generation]:
    """Every generation of `episode`, in the order of `TokenLine.traces`."""
    found: list[Generation] = []

    def visit(generation: Generation) -> Generation:
        found.append(generation)
        return generation

    _rebuilt(episode, visit)
    return found


def split_tokens(episode: Episode) -> tuple[Episode, list[TokenTrace | None]]:
    """`episode` with every generation's `tokens` None, and those traces in order.

    The traces are empty when no generation has one: then the episode is returned as it is.
    """
    traces: list[TokenTrace | None] = []

    def take(generation: Generation) -> Generation:
        traces.append(generation.tokens)
        if generation.tokens is None:
            return generation
        return generation.model_copy(update={"tokens": None})

    stripped = _rebuilt(episode, take)
    assert isinstance(stripped, Episode)
    if all(trace is None for trace in traces):
        return episode, []
    return stripped, traces


def join_tokens(episode: Episode, traces: list[TokenTrace | None]) -> Episode:
    """`episode` with `traces` put back into its generations, as it was before `split_tokens`,
    and `tokens_offset` None (its traces are inline again).

    Raises ValueError when `traces` does not have one entry per generation.
    """
    remaining = iter(traces)
    missing = object()

    def give(generation: Generation) -> Generation:
        trace = next(remaining, missing)
        if trace is missing:
            raise ValueError(f"it has {len(traces)} traces, fewer than the episode's generations")
        assert trace is None or isinstance(trace, TokenTrace)
        return generation if trace is None else generation.model_copy(update={"tokens": trace})

    joined = _rebuilt(episode, give)
    if next(remaining, missing) is not missing:
        raise ValueError(f"it has {len(traces)} traces, more than the episode's generations")
    assert isinstance(joined, Episode)
    return joined.model_copy(update={"tokens_offset": None})


class TokenReader:
    """Reads one run's token lines by offset; `tokens.jsonl` is opened on first use only, so a
    run whose episodes hold no offset is never touched."""

    def __init__(self, directory: Path) -> None:
        """Nothing opened yet."""
        self.path = directory / TOKENS_NAME
        self._file: BinaryIO | None = None

    def attach(self, episode: Episode, line: int) -> Episode:
        """`episode` (read from line `line` of episodes.jsonl) with its traces joined back.

        An episode whose traces are inline (or that has none) is returned as it is. Raises
        `TokensMissing` when its token line is absent, torn, or another episode's.
        """
        offset = episode.tokens_offset
        if offset is None:
            return episode
        try:
            if self._file is None:
                self._file = self.path.open("rb")
            self._file.seek(offset)
            data = self._file.readline()
        except OSError as error:
            raise TokensMissing(self.path, line, offset, error.strerror or str(error)) from None
        if not data.endswith(b"\n"):
            raise TokensMissing(self.path, line, offset, "the file ends before a whole line")
        try:
            found = TokenLine.model_validate_json(data)
        except ValidationError as error:
            detail = f"not a token line: {describe_validation_error(error)}"
            raise TokensMissing(self.path, line, offset, detail) from None
        wanted = (episode.task_id, episode.trial, episode.attempt)
        if (found.task_id, found.trial, found.attempt) != wanted:
            detail = (
                f"the line there holds attempt {found.attempt} of {found.task_id}#{found.trial}, "
                f"not attempt {wanted[2]} of {wanted[0]}#{wanted[1]}"
            )
            raise TokensMissing(self.path, line, offset, detail)
        try:
            return join_tokens(episode, found.traces)
        except ValueError as error:
            raise TokensMissing(self.path, line, offset, str(error)) from None

    def close(self) -> None:
        """Close `tokens.jsonl` if it was opened."""
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def with_tokens(directory: Path, episode: Episode, line: int) -> Episode:
    """One episode of the run in `directory` (read from line `line`) with its token traces:
    one seek into `tokens.jsonl` when they are there, nothing read when they are inline."""
    with TokenReader(directory) as reader:
        return reader.attach(episode, line)


def attach_tokens(
    directory: Path, episodes: Iterator[tuple[int, Episode]]
) -> Iterator[tuple[int, Episode]]:
    """`episodes` (line number, episode) of the run in `directory`, each with its traces."""
    with TokenReader(directory) as reader:
        for line, episode in episodes:
            yield line, reader.attach(episode, line)


class _TokensOffset(BaseModel):
    """The one field of an episode line that says where its traces are."""

    model_config = ConfigDict(extra="ignore")

    tokens_offset: int | None = None


@dataclass(frozen=True, kw_only=True)
class UnreferencedTokens:
    """Bytes at the end of `tokens.jsonl` that no whole episode line refers to."""

    offset: int
    """Where they start: the end of the last token line an episode refers to (or 0)."""
    size: int

    def describe(self, path: Path) -> str:
        """One sentence for the user, naming the file."""
        return (
            f"{path}: the last {self.size} bytes belong to no episode line: a crash came "
            "after an episode's token traces were written and before its line was; they are "
            "cut off, and that episode runs again."
        )


def find_unreferenced_tokens(directory: Path) -> UnreferencedTokens | None:
    """The bytes at the end of `directory`'s `tokens.jsonl` that no whole line of its
    `episodes.jsonl` refers to, if there are any (reads the episode log's offsets)."""
    path = directory / TOKENS_NAME
    if not path.is_file():
        return None
    end = 0
    for raw in _raw_lines(directory / EPISODES_NAME):
        if _torn(raw) is not None:
            break
        try:
            offset = _TokensOffset.model_validate_json(raw.data).tokens_offset
        except ValidationError:
            continue  # not an episode line: its readers report it
        if offset is not None and offset >= end:
            with path.open("rb") as file:
                file.seek(offset)
                end = offset + len(file.readline())
    size = path.stat().st_size
    if size <= end:
        return None
    return UnreferencedTokens(offset=end, size=size - end)


def cut_unreferenced_tokens(directory: Path) -> UnreferencedTokens | None:
    """Truncate what `find_unreferenced_tokens` finds, durably; what was cut, if anything.

    Only under the run's exclusive lock (`RunStore.resume`): no writer is then mid-append.
    """
    found = find_unreferenced_tokens(directory)
    if found is not None:
        handle = os.open(directory / TOKENS_NAME, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.ftruncate(handle, found.offset)
            os.fsync(handle)
        finally:
            os.close(handle)
    return found
