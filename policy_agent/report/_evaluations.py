"""A run's re-scorings on disk: `evaluations/<name>.jsonl` and `evaluations/<name>.json`.

`policy-agent evaluate` never touches `episodes.jsonl` (it is only ever appended to). It writes
the new rewards beside it instead: one line per episode, `{task_id, trial, attempt, reward,
error}`, and then a small manifest saying which pack and judge produced them. The lines are
written as they are scored to a temporary name (`EvaluationDraft`), and both files are renamed
into place at the end, the manifest last, so an evaluation whose manifest exists is whole; a
`.jsonl` without its `.json` (a crash in between) is ignored by readers.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from policy_agent.errors import PolicyAgentError
from policy_agent.records import RewardInfo
from policy_agent.trajectory import (
    PendingFile,
    describe_validation_error,
    fsync_directory,
    iter_records,
    write_atomically,
)

EVALUATIONS_DIR = "evaluations"
"""The folder inside a run directory that holds its re-scorings."""

_NAME = re.compile(r"^[0-9]{8}-[0-9]{6}-[0-9]{6}$")


class EvaluationFileError(PolicyAgentError):
    """A re-scoring cannot be read or written; the message names the file and what to do."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RescoredEpisode(_Record):
    """One line of `evaluations/<name>.jsonl`: an episode's new reward."""

    kind: Literal["rescored"] = "rescored"
    task_id: str
    trial: int
    attempt: int = Field(default=1, ge=1)
    """The attempt re-scored (`Episode.attempt`): a later attempt keeps its recorded reward."""
    reward: RewardInfo | None
    """None when the episode could not be scored (see `error`): it then counts as unevaluated."""
    error: str | None = None

    @property
    def key(self) -> tuple[str, int, int]:
        """The attempt it scored: `Episode.key` and `Episode.attempt`."""
        return (self.task_id, self.trial, self.attempt)


class EvaluationManifest(_Record):
    """`evaluations/<name>.json`: how the rewards of `<name>.jsonl` were produced."""

    name: str = Field(pattern=_NAME.pattern, description="`YYYYMMDD-HHMMSS-micros`, UTC.")
    created_at: AwareDatetime
    domain: str = Field(description="The pack's folder, as used.")
    domain_hash: str = Field(description="The pack's `content_hash` when it re-scored the run.")
    run_domain_hash: str = Field(description="The hash in run.json: the pack the run was made on.")
    judge_model: str | None = Field(description="The NL-assertion judge's model, if any.")
    episodes: int = Field(ge=0, description="Lines in the `.jsonl`.")
    failed: int = Field(ge=0, description="Episodes that could not be scored (reward null).")

    @property
    def pack_changed(self) -> bool:
        """Whether the pack differs from the one the run was made on."""
        return self.domain_hash != self.run_domain_hash


def new_evaluation_name(now: datetime | None = None) -> str:
    """A fresh name, `YYYYMMDD-HHMMSS-micros` in UTC: names sort by creation time."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S-%f}"


class EvaluationDraft:
    """An evaluation being written: its lines go to a temporary file in the run's `evaluations/`
    as they come (`write`), and become `<name>.jsonl`, then `<name>.json`, only at `commit`.
    Leaving the `with` block without a commit removes the temporary file.
    """

    def __init__(self, run_directory: Path) -> None:
        """Start one in `run_directory` (creating `evaluations/`; `OSError` when it cannot)."""
        self.folder = run_directory / EVALUATIONS_DIR
        self._made_folder = not self.folder.is_dir()
        self.folder.mkdir(exist_ok=True)
        self._lines = PendingFile(self.folder, "evaluation.jsonl")
        self._committed = False

    def write(self, line: RescoredEpisode) -> None:
        """Add the next line (the run's order is the file's)."""
        self._lines.file.write(line.model_dump_json().encode() + b"\n")

    def commit(self, manifest: EvaluationManifest) -> Path:
        """Put the lines in place as `manifest.name`, then the manifest; the `.jsonl` path.

        Refuses (`EvaluationFileError`) to replace an evaluation that already exists.
        """
        records = self.folder / f"{manifest.name}.jsonl"
        described = self.folder / f"{manifest.name}.json"
        if records.exists() or described.exists():
            raise EvaluationFileError(
                f"{records}: an evaluation of this name already exists; evaluations are never "
                "overwritten. Run `policy-agent evaluate` again (it takes a new name)."
            )
        self._lines.commit(records)
        self._committed = True
        write_atomically(described, (manifest.model_dump_json(indent=2) + "\n").encode())
        fsync_directory(self.folder)
        return records

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *error: object) -> None:
        self._lines.__exit__(*error)
        if self._made_folder and not self._committed:
            # Nothing of an evaluation that never was: not even the folder it made.
            with contextlib.suppress(OSError):
                self.folder.rmdir()


def write_evaluation(
    run_directory: Path, manifest: EvaluationManifest, lines: Iterable[RescoredEpisode]
) -> Path:
    """Write `<run>/evaluations/<name>.jsonl`, then its manifest; returns the `.jsonl` path.

    Refuses (`EvaluationFileError`) to replace an evaluation that already exists.
    """
    with EvaluationDraft(run_directory) as draft:
        for line in lines:
            draft.write(line)
        return draft.commit(manifest)


def evaluation_names(run_directory: Path) -> list[str]:
    """The names of the run's complete evaluations (manifest written), oldest first."""
    folder = run_directory / EVALUATIONS_DIR
    if not folder.is_dir():
        return []
    return sorted(
        path.stem
        for path in folder.glob("*.json")
        if _NAME.match(path.stem) and (folder / f"{path.stem}.jsonl").is_file()
    )


def read_evaluation(
    run_directory: Path, name: str
) -> tuple[EvaluationManifest, list[RescoredEpisode]]:
    """An evaluation's manifest and lines; `EvaluationFileError` names a missing or invalid file.

    Holds every line: a reader of a big run wants `open_evaluation`.
    """
    manifest = _read_manifest(run_directory, name)
    path = run_directory / EVALUATIONS_DIR / f"{name}.jsonl"
    return manifest, [record for _, record in iter_records(path, RescoredEpisode)]


def open_evaluation(
    run_directory: Path, name: str, *, checked: bool = False
) -> tuple[EvaluationManifest, EvaluationRewards]:
    """An evaluation's manifest and its rewards, each read from the file when asked for;
    `EvaluationFileError` names a missing or invalid file (or line, when it is read; with
    `checked`, every line is validated whole here, so that one read later fails only if the
    file changed meanwhile)."""
    manifest = _read_manifest(run_directory, name)
    path = run_directory / EVALUATIONS_DIR / f"{name}.jsonl"
    return manifest, EvaluationRewards(path, checked=checked)


def _read_manifest(run_directory: Path, name: str) -> EvaluationManifest:
    described = run_directory / EVALUATIONS_DIR / f"{name}.json"
    if name not in evaluation_names(run_directory):
        known = ", ".join(evaluation_names(run_directory)) or "none"
        raise EvaluationFileError(
            f"{described}: no such evaluation of {run_directory}; its evaluations are: {known}"
        )
    try:
        return EvaluationManifest.model_validate_json(described.read_bytes())
    except ValidationError as error:
        raise EvaluationFileError(
            f"{described}: not a valid evaluation manifest: {describe_validation_error(error)}"
        ) from None


class _RescoredKey(BaseModel):
    """Of a `RescoredEpisode` line: its key; the reward is lexed, never built."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["rescored"]
    task_id: str
    trial: int
    attempt: int = Field(default=1, ge=1)


_READ_BUFFER = 1 << 20
"""Bytes read at a time when indexing an evaluation (its lines are kilobytes long)."""


class EvaluationRewards(Mapping[tuple[str, int, int], RewardInfo | None]):
    """An evaluation's reward of each (task, trial, attempt) it scored, read from its `.jsonl`
    when asked for. It keeps each line's key and where the line starts, not the rewards: a
    reward with its checks and rules is tens of kilobytes of objects, and a reader of a run of
    10,000 re-scored episodes held 230 MiB of them. A later line of the same key wins.
    """

    def __init__(self, path: Path, *, checked: bool = False) -> None:
        """Index `path`: one pass, each line's key read, or with `checked` each line validated
        whole and let go (`EvaluationFileError` names a line that is no re-scored episode,
        `OSError` a file that cannot be read)."""
        self.path = path
        self._lines: dict[tuple[str, int, int], tuple[int, int]] = {}
        model: type[_RescoredKey | RescoredEpisode] = RescoredEpisode if checked else _RescoredKey
        offset = 0
        with path.open("rb", buffering=_READ_BUFFER) as file:
            for number, data in enumerate(file, start=1):
                try:
                    key = model.model_validate_json(data)
                except ValidationError as error:
                    raise self._invalid(number, error) from None
                self._lines[(key.task_id, key.trial, key.attempt)] = (number, offset)
                offset += len(data)

    def __getitem__(self, key: tuple[str, int, int]) -> RewardInfo | None:
        number, offset = self._lines[key]
        with self.path.open("rb") as file:
            file.seek(offset)
            data = file.readline()
        try:
            return RescoredEpisode.model_validate_json(data).reward
        except ValidationError as error:
            raise self._invalid(number, error) from None

    def __contains__(self, key: object) -> bool:
        return key in self._lines

    def __iter__(self) -> Iterator[tuple[str, int, int]]:
        return iter(self._lines)

    def __len__(self) -> int:
        return len(self._lines)

    def _invalid(self, number: int, error: ValidationError) -> EvaluationFileError:
        return EvaluationFileError(
            f"{self.path}:{number}: not a line of an evaluation: "
            f"{describe_validation_error(error)}; run `policy-agent evaluate` again, or name "
            "another evaluation (--evaluation)"
        )
