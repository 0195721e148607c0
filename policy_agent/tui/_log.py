"""The episode list over `episodes.jsonl`: read once, extended as lines are appended, and lazy.

A run can hold thousands of episodes of tens of kilobytes each, so the replay keeps only a
summary of each (`EpisodeEntry`: what the list shows and filters on, and where the line is,
some 0.3 KiB), read through the slim `ListedEpisode`, and reads a whole episode again from its
byte offset when it is opened. The text a search looks through, some 2 KiB an episode, is kept
in a temporary file (`SearchTexts`), not in memory. `poll` reads only what was appended since
the last call, which is how `--follow` keeps up with a running simulation. `locate` finds one
episode without the list, through the run's `episodes.index`
(`policy_agent.trajectory.load_index`): one line read, however big the run.

The store writes each line whole, newline last, with one `os.write` (see
`policy_agent.trajectory`); bytes after the last newline are a line still being written (or
torn by a crash) and are left for a later `poll`. A complete line that is not an episode cannot
come from the store: it is reported in `problems` and skipped, so one bad line never hides the
others.

The list holds each (task, trial)'s latest attempt, as every reader counts it: when a resume
ran an episode again (after an infrastructure failure), the new line supersedes the old one,
which leaves `entries` for `superseded` (still found by its line number).

Rewards given to the log (a re-scoring's, `policy-agent evaluate`) replace the recorded ones of
the episodes they cover, in the entries and in every episode loaded.
"""

from __future__ import annotations

import bisect
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pydantic import ValidationError

from policy_agent.records import Episode, RewardInfo, TerminationReason
from policy_agent.trajectory import (
    AttemptConflict,
    CorruptLine,
    IndexedLine,
    LatestAttempts,
    RecordInvalid,
    RunStoreError,
    TornTail,
    load_index,
    parse_episode_id,
    with_tokens,
    without_tokens,
)
from policy_agent.tui._listing import ListedEpisode


@dataclass(frozen=True, kw_only=True, slots=True)
class EpisodeEntry:
    """What the episode list knows about one episode without keeping the episode itself."""

    line: int
    """1-based line number in `episodes.jsonl`."""
    offset: int
    """Byte offset of the line, to read the episode again."""
    size: int
    task_id: str
    trial: int
    attempt: int
    """1, or more for an episode a resume ran again (see `Episode.attempt`)."""
    reward: float | None
    success: bool | None
    """See `is_success`: None for an episode not yet evaluated that ended normally."""
    termination: TerminationReason
    turns: int
    """Records in the conversation (the steps of its replay, trailing events aside)."""
    violations: int
    codes: tuple[str, ...]
    """Violation codes, each once."""
    rules: tuple[str, ...] = ()
    """The policy rules the episode broke, each once."""
    text_offset: int = field(default=0, compare=False)
    text_size: int = field(default=0, compare=False)
    """Where `search_text` of the episode (lower case, UTF-8) is in the log's `SearchTexts`
    (read it with `EpisodeLog.text`); 0 bytes in a log made without search
    (`EpisodeLog(searchable=False)`: `show`'s list, which prints it nowhere). Not compared:
    an entry read twice is the same entry."""

    @property
    def id(self) -> str:
        """`task_id#trial`."""
        return f"{self.task_id}#{self.trial}"

    @property
    def failed(self) -> bool:
        """Scored below 1, or ended abnormally (the episodes people read first)."""
        return self.success is False


class SearchTexts:
    """The episodes' search texts, each some 2 KiB, kept in an unnamed temporary file instead
    of in memory (200 MiB at 100,000 episodes): a search reads them back, in the list's order,
    at the speed of the page cache. The file has no name from the start, so nothing is left on
    disk when the process ends, however it ends; it is closed with this object. Where no
    temporary file can be made (no writable `TMPDIR`), the texts are kept in memory."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._memory: bytearray | None = None
        self._size = 0

    def add(self, text: str) -> tuple[int, int]:
        """Keep `text`; its (offset, size) to `read` it with."""
        data = text.encode()
        offset = self._size
        if self._file is None and self._memory is None:
            try:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 (kept open, closed with self)
            except OSError:
                self._memory = bytearray()
        if self._file is not None:
            os.pwrite(self._file.fileno(), data, offset)
        elif self._memory is not None:
            self._memory += data
        self._size += len(data)
        return offset, len(data)

    def read(self, offset: int, size: int) -> str:
        """The text kept at (offset, size)."""
        if self._file is not None:
            return os.pread(self._file.fileno(), size, offset).decode()
        if self._memory is not None:
            return self._memory[offset : offset + size].decode()
        return ""


class EpisodeNotFound(RunStoreError):
    """`--episode` names no episode of the run."""


class EpisodeLog:
    """The episodes of one `episodes.jsonl`, indexed as far as `poll` has read."""

    def __init__(
        self,
        path: Path,
        *,
        rewards: Mapping[tuple[str, int, int], RewardInfo | None] | None = None,
        searchable: bool = True,
    ) -> None:
        """Index nothing yet; call `poll` to read the lines there are. `rewards`, by episode key,
        replace the recorded rewards (None: the episode could not be re-scored). Without
        `searchable` no search text is made (an eighth of the time a list takes): a list that
        is only printed needs none.
        """
        self.path = path
        self.searchable = searchable
        self.rewards: Mapping[tuple[str, int, int], RewardInfo | None] = (
            {} if rewards is None else rewards
        )
        self.texts = SearchTexts()
        """The entries' search texts (see `text`)."""
        self.entries: list[EpisodeEntry] = []
        """The latest attempt of every episode read so far, in file order."""
        self.superseded: dict[int, EpisodeEntry] = {}
        """Earlier attempts a later line replaced, by their line number."""
        self.superseded_lines: set[int] = set()
        """The line numbers of those attempts, also of entries `stream` gave and did not keep."""
        self.problems: list[RunStoreError] = []
        """Complete lines that are not episodes (`CorruptLine`, `RecordInvalid`), skipped, and
        lines that repeat an episode without superseding it (`AttemptConflict`), kept."""
        self.pending_bytes = 0
        """Bytes after the last line read: lines a `poll(max_lines=...)` left for the next call,
        or a line still being written (or torn by a crash)."""
        self._offset = 0
        self._line = 0
        self._attempts = LatestAttempts(path)

    def poll(self, max_lines: int | None = None) -> list[EpisodeEntry]:
        """Read the lines appended since the last call (at most `max_lines` of them, so that a
        large run can be read in batches between screen updates); return the new entries.

        An entry that a new line supersedes leaves `entries` for `superseded`; a caller that
        shows entries as they come shows them all again when `superseded` grew."""
        before = self._line
        for entry in self._read(max_lines):
            self.entries.append(entry)  # before the next line, which may supersede it
        # Entries are in line order: those of the lines just read are the last ones.
        return self.entries[bisect.bisect_right(self.entries, before, key=_line_of) :]

    def stream(self) -> Iterator[EpisodeEntry]:
        """The entries of the lines appended since the last read, one at a time and kept
        nowhere (`entries` does not grow): for a reader that goes through a run once, in
        memory that does not grow with it (`show`'s list).

        Every episode line's entry is given, superseded ones too: a line is superseded by a
        later one, so which are is known when the stream ends, in `superseded_lines`. The last
        entry given is never among them."""
        yield from self._read(None)

    def _read(self, max_lines: int | None) -> Iterator[EpisodeEntry]:
        read = 0
        with self.path.open("rb") as file:
            file.seek(self._offset)
            for data in file:
                if not data.endswith(b"\n") or read == max_lines:
                    break
                read += 1
                self._line += 1
                entry = self._entry(data)
                self._offset += len(data)
                if entry is not None:
                    yield entry
            self.pending_bytes = file.seek(0, 2) - self._offset

    def _entry(self, data: bytes) -> EpisodeEntry | None:
        episode = self._parse(self._line, data)
        if episode is None:
            return None
        try:
            replaced = self._attempts.add(
                self._line, episode.key, episode.attempt, episode.supersedes
            )
        except AttemptConflict as error:
            self.problems.append(error)
            replaced = None
        if replaced is not None:
            self._supersede(replaced)
        return self._summary(episode, line=self._line, offset=self._offset, size=len(data))

    def _supersede(self, line: int) -> None:
        """Move the entry of line `line` from `entries` to `superseded`."""
        self.superseded_lines.add(line)
        index = bisect.bisect_left(self.entries, line, key=_line_of)
        if index < len(self.entries) and self.entries[index].line == line:
            self.superseded[line] = self.entries.pop(index)

    def _parse(self, line: int, data: bytes) -> ListedEpisode | None:
        try:
            # The list never shows tokens; `load` reads them with the whole episode.
            return self._rescored_listed(ListedEpisode.model_validate_json(without_tokens(data)))
        except ValidationError as error:
            try:
                value = json.loads(data)
            except ValueError as bad_json:
                self.problems.append(CorruptLine(self.path, line, f"not valid JSON: {bad_json}"))
                return None
            if not isinstance(value, dict):
                detail = f"a JSON {type(value).__name__}, not an object"
                self.problems.append(CorruptLine(self.path, line, detail))
                return None
            self.problems.append(RecordInvalid(self.path, line, "Episode", _describe(error)))
            return None

    def torn_tail(self) -> TornTail | None:
        """The bytes after the last line read when they are no whole line: a line torn by a
        crash, or still being written (None when there are none, or only whole lines that a
        `poll(max_lines=...)` left)."""
        with self.path.open("rb") as file:
            file.seek(self._offset)
            rest = file.read()
        if not rest or b"\n" in rest:
            return None
        reason = "it does not end with a newline"
        return TornTail(line=self._line + 1, offset=self._offset, size=len(rest), reason=reason)

    def load(self, entry: EpisodeEntry, *, tokens: bool = True) -> Episode:
        """The whole episode of `entry`, read again from its line, with its token traces (from
        `tokens.jsonl` when the store put them there: one seek); `tokens=False` reads every
        trace as None without opening `tokens.jsonl` (what `show` and the replay, which
        show no token, do)."""
        with self.path.open("rb") as file:
            file.seek(entry.offset)
            data = file.read(entry.size)
        if not tokens:
            return self._rescored(Episode.model_validate_json(without_tokens(data)))
        episode = with_tokens(self.path.parent, Episode.model_validate_json(data), entry.line)
        return self._rescored(episode)

    def _rescored(self, episode: Episode) -> Episode:
        attempt = (*episode.key, episode.attempt)
        if attempt not in self.rewards:
            return episode
        return episode.model_copy(update={"reward": self.rewards[attempt]})

    def _rescored_listed(self, episode: ListedEpisode) -> ListedEpisode:
        attempt = (*episode.key, episode.attempt)
        if attempt not in self.rewards:
            return episode
        return episode.rewarded(self.rewards[attempt])

    def locate(self, text: str) -> tuple[EpisodeEntry, TornTail | None] | None:
        """The entry `text` names (as `find` takes it), read from its line alone through the
        run's index, and the torn last line the index left out, if any; None when the index
        cannot answer alone: a line that is not an episode, or two lines that hold one attempt
        (then `poll` the whole log and `find`, which report them).

        Raises ValueError for text of neither form, `EpisodeNotFound` for an id or line that
        has no episode, and the store's errors for a line that cannot be read as one.
        """
        wanted = parse_episode_id(text)
        index = load_index(self.path)
        if index.skipped:
            return None
        try:
            attempts = index.attempts()
        except AttemptConflict:
            return None
        if isinstance(wanted, int):
            row = index.line(wanted)
        else:
            latest = attempts.latest.get(wanted)
            row = None if latest is None else index.line(latest.line)
        if row is None:
            lines = sorted(attempt.line for attempt in attempts.latest.values())
            ids = [_id(index.line(line)) for line in lines[:5]]
            raise _not_found(self.path, wanted, text, len(lines), ids)
        return self._summary_at(row), index.torn

    def _summary_at(self, row: IndexedLine) -> EpisodeEntry:
        """The entry of the episode on `row`'s line, read from that line alone."""
        with self.path.open("rb") as file:
            file.seek(row.offset)
            data = file.read(row.size)
        try:
            episode = self._rescored_listed(ListedEpisode.model_validate_json(without_tokens(data)))
        except ValidationError as error:
            raise RecordInvalid(self.path, row.line, "Episode", _describe(error)) from None
        return self._summary(episode, line=row.line, offset=row.offset, size=row.size)

    def _summary(
        self, episode: ListedEpisode, *, line: int, offset: int, size: int
    ) -> EpisodeEntry:
        return EpisodeEntry(
            line=line,
            offset=offset,
            size=size,
            task_id=episode.task_id,
            trial=episode.trial,
            attempt=episode.attempt,
            reward=None if episode.reward is None else episode.reward.reward,
            success=episode.success,
            termination=episode.termination_reason,
            turns=len(episode.messages),
            violations=episode.violations,
            codes=episode.violation_codes,
            rules=episode.broken_rules,
            **self._text_of(episode),
        )

    def _text_of(self, episode: ListedEpisode) -> dict[str, int]:
        if not self.searchable:
            return {}
        offset, size = self.texts.add(episode.search_text())
        return {"text_offset": offset, "text_size": size}

    def text(self, entry: EpisodeEntry) -> str:
        """`search_text` of `entry`'s episode, lower case ("" in a log made without search)."""
        return self.texts.read(entry.text_offset, entry.text_size)

    def find(self, text: str) -> EpisodeEntry:
        """The entry `text` names: `task_id#trial` or a line number (see `parse_episode_id`).

        An id names the latest attempt; a line number may name an earlier, superseded one.
        Raises ValueError for text of neither form and `EpisodeNotFound` for an id or line
        that has no episode among those read.
        """
        wanted = parse_episode_id(text)
        for entry in self.entries:
            if wanted == entry.line or wanted == (entry.task_id, entry.trial):
                return entry
        if isinstance(wanted, int) and wanted in self.superseded:
            return self.superseded[wanted]
        ids = [entry.id for entry in self.entries[:5]]
        raise _not_found(self.path, wanted, text, len(self.entries), ids)


def _id(row: IndexedLine | None) -> str:
    assert row is not None  # the latest attempts' lines are all indexed
    return f"{row.key[0]}#{row.key[1]}"


def _not_found(
    path: Path, wanted: int | tuple[str, int], text: str, episodes: int, ids: list[str]
) -> EpisodeNotFound:
    what = f"line {wanted}" if isinstance(wanted, int) else f"episode {text.strip()!r}"
    more = ", ..." if episodes > 5 else ""
    return EpisodeNotFound(
        f"{path}: no {what} among its {episodes} episodes ({', '.join(ids)}{more}); "
        "give TASK_ID#TRIAL or a line number, as `policy-agent show RUN` lists them."
    )


def _line_of(entry: EpisodeEntry) -> int:
    return entry.line


def _describe(error: ValidationError) -> str:
    """The first problems of a validation error on one line: `field.path: message; ...`."""
    problems = error.errors(include_url=False)
    described = [f"{'.'.join(map(str, p['loc'])) or '(top level)'}: {p['msg']}" for p in problems]
    more = f" (and {len(described) - 3} more)" if len(described) > 3 else ""
    return "; ".join(described[:3]) + more
