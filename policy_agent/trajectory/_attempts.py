"""Attempts: an episode lost to infrastructure runs again on resume; readers count the latest.

`episodes.jsonl` is only ever appended to, so a new attempt cannot replace the failed line.
The new line says what it replaces instead: its `attempt` (2, 3, ...) and `supersedes`, the
line number of the attempt before it. Line numbers never change (lines are only appended, and
the only line ever cut is a torn last one, which nothing refers to), so the reference stays
true. The replacement takes effect exactly when the new line is whole on disk: a crash before
leaves the old attempt standing, and the next resume runs it again.

Every reader resolves attempts the same way, through `LatestAttempts`: fed each line's key and
marker in file order, it keeps one entry per (task, trial) and never an episode, so a reader can
stream a run of any size. `iter_latest` does it in two passes over the file: the first reads
only the four fields involved (a quarter of the cost of reading episodes), the second yields
each (task, trial)'s latest attempt with its line number. A run with no re-runs reads the same
as before attempts existed: every line is attempt 1 and supersedes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from policy_agent.records import Episode
from policy_agent.trajectory._errors import AttemptConflict
from policy_agent.trajectory._lines import (
    RecordT,
    _raw_lines,
    _torn,
    iter_records,
    without_tokens,
)
from policy_agent.trajectory._tokens import attach_tokens

EpisodeKey = tuple[str, int]
"""`(task_id, trial)`: what identifies an episode within a run (`Episode.key`)."""


def is_retried_on_resume(episode: Episode) -> bool:
    """Whether `run --resume` runs this episode again (unless `--keep-failed`).

    It is when something outside the agent ended it (`TerminationReason.is_infrastructure`: a
    model unreachable after its retries, a framework failure): its score says nothing of the
    agent. A failed judge does not count: the conversation is whole, and `evaluate` scores it.
    """
    return episode.termination_reason.is_infrastructure


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """Where the latest attempt at one (task, trial) is."""

    line: int
    """Its 1-based line in `episodes.jsonl`."""
    attempt: int
    """1 for the first attempt, then 2, 3, ..."""


class LatestAttempts:
    """Which line holds the latest attempt of each (task, trial), fed lines in file order.

    Memory grows with the run's (task, trial) keys, never with its episodes.
    """

    def __init__(self, path: Path) -> None:
        """Nothing read yet; `path` names the file in errors."""
        self.path = path
        self.last_line = 0
        """The last line fed (or skipped): readers of a growing file stop there."""
        self._latest: dict[EpisodeKey, Attempt] = {}
        self._superseded: dict[int, int] = {}

    def add(self, line: int, key: EpisodeKey, attempt: int, supersedes: int | None) -> int | None:
        """Take line `line`; the line it supersedes, or None for a first attempt.

        Raises `AttemptConflict` for a second line of a key that supersedes nothing (a copied
        line), or one that supersedes a line other than its key's latest attempt.
        """
        self.last_line = max(self.last_line, line)
        current = self._latest.get(key)
        name = f"{key[0]}#{key[1]}"
        if supersedes is None:
            if current is not None:
                raise AttemptConflict(
                    self.path,
                    line,
                    f"episode {name} is already on line {current.line}, and this line does not "
                    "say it supersedes it",
                )
            if attempt != 1:
                raise AttemptConflict(
                    self.path, line, f"attempt {attempt} of {name} supersedes no line"
                )
        elif current is None or current.line != supersedes or attempt != current.attempt + 1:
            found = f"attempt {current.attempt} on line {current.line}" if current else "none"
            raise AttemptConflict(
                self.path,
                line,
                f"attempt {attempt} of {name} says it supersedes line {supersedes}, but the "
                f"latest attempt of {name} before it is {found}",
            )
        else:
            self._superseded[supersedes] = line
        self._latest[key] = Attempt(line=line, attempt=attempt)
        return supersedes

    def skip(self, line: int) -> None:
        """Pass over a line that is not an episode (its reader reports it)."""
        self.last_line = max(self.last_line, line)

    def is_latest(self, line: int) -> bool:
        """Whether no later line supersedes line `line`."""
        return line not in self._superseded

    def superseded_by(self, line: int) -> int | None:
        """The line that supersedes line `line`, or None."""
        return self._superseded.get(line)

    @property
    def latest(self) -> Mapping[EpisodeKey, Attempt]:
        """Each (task, trial) seen, with the line of its latest attempt."""
        return self._latest

    @property
    def superseded(self) -> int:
        """How many lines a later attempt replaced."""
        return len(self._superseded)


class _AttemptFields(BaseModel):
    """The fields of an episode line that attempts depend on; the rest is not even built."""

    model_config = ConfigDict(extra="ignore")

    task_id: str
    trial: int
    attempt: int = 1
    supersedes: int | None = None


_ATTEMPT_FIELD_NAMES = frozenset(_AttemptFields.model_fields)


def index_attempts(path: Path) -> LatestAttempts:
    """Where the latest attempt of each (task, trial) of `path` is (one pass, light parsing).

    A line that is not an episode is skipped here: reading episodes reports it with its line.
    A torn last line is left out (and not warned about: the episodes' pass does that).
    """
    attempts = LatestAttempts(path)
    for raw in _raw_lines(path):
        if _torn(raw) is not None:
            break
        fields = attempt_fields(raw.data)
        if fields is None:
            attempts.skip(raw.number)
            continue
        attempts.add(raw.number, (fields.task_id, fields.trial), fields.attempt, fields.supersedes)
    return attempts


def attempt_fields(data: bytes) -> _AttemptFields | None:
    """The attempt fields of a whole line, or None for a line that is not an episode (its
    reader reports it). What `index_attempts` and the index (`_index`) read of every line."""
    fields = _leading_attempt_fields(data)
    if fields is not None:
        return fields
    try:
        return _AttemptFields.model_validate_json(without_tokens(data))
    except ValidationError:
        return None


_AFTER_ATTEMPT_FIELDS = b',"tokens_offset":'
"""The key `Episode.model_dump_json` writes right after the attempt fields (declared order)."""


def _leading_attempt_fields(data: bytes) -> _AttemptFields | None:
    """The attempt fields read from the start of a line the store wrote, without lexing the
    rest (a 14 kB hotel episode is read in the time of its first 150 bytes); None when the
    line does not start that way, and the whole line must be read.

    Exact when it answers: the bytes `,"tokens_offset":` cannot be inside a JSON string (its
    quote would be escaped), so the cut is at a key; if it is a nested object's, the start is
    left with an unclosed brace and is no JSON object; and the four fields must all be there.
    """
    end = data.find(_AFTER_ATTEMPT_FIELDS)
    if end < 0:
        return None
    try:
        fields = _AttemptFields.model_validate_json(data[:end] + b"}")
    except ValidationError:
        return None
    return fields if fields.model_fields_set == _ATTEMPT_FIELD_NAMES else None


def iter_latest(path: Path, *, tokens: bool = True) -> Iterator[tuple[int, Episode]]:
    """The latest attempt of each (task, trial) in `path`, with its line number, in file order.

    `tokens=True` joins back the traces the store put in `tokens.jsonl` (one seek per
    episode, see `_tokens`) and reads those of older runs inline. `tokens=False` reads every
    generation's token trace as None, without parsing it nor opening `tokens.jsonl`: what a
    reader that does not train on tokens wants (several times faster with `record_tokens`).

    What every reader of a run counts. Lines appended while it reads (a run still going) are
    left for the next read, so the attempts seen stay consistent. Raises what `iter_records`
    raises, `AttemptConflict` (see `LatestAttempts.add`), and `TokensMissing` for traces that
    are not where an episode line says.
    """
    latest = _iter_latest(path, Episode, tokens=tokens)
    return attach_tokens(path.parent, latest) if tokens else latest


def iter_latest_as(path: Path, model_type: type[RecordT]) -> Iterator[tuple[int, RecordT]]:
    """`iter_latest(path, tokens=False)` with each line read as `model_type`: a slim model of
    the few fields a reader uses (`extra="ignore"`) reads a run several times faster than
    whole `Episode`s, whose every message and check is a model of its own."""
    return _iter_latest(path, model_type, tokens=False)


def _iter_latest(
    path: Path, model_type: type[RecordT], *, tokens: bool
) -> Iterator[tuple[int, RecordT]]:
    attempts = index_attempts(path)
    for number, record in iter_records(path, model_type, tokens=tokens):
        if number > attempts.last_line:
            return
        if attempts.is_latest(number):
            yield number, record


@dataclass(frozen=True, kw_only=True)
class Resumption:
    """What a resumed run does with the episodes already in its log."""

    done: frozenset[EpisodeKey]
    """The (task, trial)s whose latest attempt stands: not run again."""
    retried: Mapping[EpisodeKey, Attempt]
    """The (task, trial)s to run again, each with the attempt its new one supersedes."""

    def next_attempt(self, episode: Episode) -> Episode:
        """`episode` marked as the next attempt of its (task, trial) when it is a re-run."""
        replaced = self.retried.get(episode.key)
        if replaced is None:
            return episode
        return episode.model_copy(
            update={"attempt": replaced.attempt + 1, "supersedes": replaced.line}
        )


def plan_resumption(episodes_path: Path, *, retry: bool = True) -> Resumption:
    """Which episodes of the log stand and which run again (`is_retried_on_resume`, if `retry`).

    Call it on a store opened by `RunStore.resume`, whose lock keeps other writers out.
    """
    done: set[EpisodeKey] = set()
    retried: dict[EpisodeKey, Attempt] = {}
    for line, episode in iter_latest(episodes_path, tokens=False):
        if retry and is_retried_on_resume(episode):
            retried[episode.key] = Attempt(line=line, attempt=episode.attempt)
        else:
            done.add(episode.key)
    return Resumption(done=frozenset(done), retried=retried)
