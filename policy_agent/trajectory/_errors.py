"""Typed errors and warnings of the run store. Each names the run's file and says what to do."""

from __future__ import annotations

import errno
from pathlib import Path

from pydantic import ValidationError

from policy_agent.errors import PolicyAgentError


class RunStoreError(PolicyAgentError):
    """A run directory could not be created, opened, read or written."""


class RunExists(RunStoreError):
    """`RunStore.create` found the run's directory already there; runs are never overwritten."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path}: a run with this id already exists; runs are never overwritten. "
            "Make a new manifest (it draws a new run id), or resume that run with --resume."
        )


class RunNotCreated(RunStoreError):
    """A new run's folder or files could not be written; nothing of the run is left behind."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"cannot start a run in {path}: {detail}. Nothing was written; give --out a folder "
            "on a disk you can write to, with room for the run."
        )


class NotARun(RunStoreError):
    """The folder is not a run directory, or its `run.json` cannot be read."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"{path}: not a readable run directory: {detail}. "
            "Pass the folder `policy-agent run` made, e.g. runs/<run-id>."
        )


class RunLocked(RunStoreError):
    """Another process is appending to the run; two writers would duplicate episodes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(
            f"{path}: another process is writing this run. Wait for it to finish or stop it "
            "before resuming; two writers would run the same episodes twice."
        )


class CorruptLine(RunStoreError):
    """A line other than the last is not a JSON object: something other than the store wrote it."""

    def __init__(self, path: Path, line: int, detail: str) -> None:
        self.path = path
        self.line = line
        self.detail = detail
        super().__init__(
            f"{path}:{line}: corrupt line ({detail}). Only the last line can be torn by a crash, "
            "so something else wrote this file. Restore it from a copy, or delete that line "
            "(its episode is then run again on resume)."
        )


class RecordInvalid(RunStoreError):
    """A well-formed line does not match the record model it is read as."""

    def __init__(self, path: Path, line: int, model: str, detail: str) -> None:
        self.path = path
        self.line = line
        self.model = model
        self.detail = detail
        super().__init__(
            f"{path}:{line}: not a valid {model}: {detail}\n"
            "The line was written by a different version of the record schema; read it with "
            "the version of policy-agent that wrote the run (see versions in run.json)."
        )


class AttemptConflict(RunStoreError):
    """Two lines hold the same attempt of an episode, or a line supersedes one it cannot.

    The store never writes either (a re-run names the line it replaces), so another program
    wrote or copied a line; which one counts cannot be told.
    """

    def __init__(self, path: Path, line: int, detail: str) -> None:
        self.path = path
        self.line = line
        self.detail = detail
        super().__init__(
            f"{path}:{line}: {detail}. policy-agent never writes such a line, so something else "
            "appended or copied it; delete the line that should not count (its episode runs "
            "again on resume if none is left)."
        )


class TokensMissing(RunStoreError):
    """An episode line says its token traces are in `tokens.jsonl`, and they are not there."""

    def __init__(self, path: Path, line: int, offset: int, detail: str) -> None:
        self.path = path
        self.line = line
        self.offset = offset
        self.detail = detail
        super().__init__(
            f"{path}: the token traces of line {line} of episodes.jsonl (at byte {offset}) "
            f"cannot be read: {detail}. The store writes them before the episode line, so this "
            "file was cut, replaced or copied without its run. Restore tokens.jsonl with its "
            "episodes.jsonl, or read the run without tokens (`tokens=False`)."
        )


class ResumeRefused(RunStoreError):
    """The run cannot be resumed: its config or its domain pack changed since it started."""

    def __init__(self, path: Path, changes: list[str]) -> None:
        self.path = path
        self.changes = changes
        """One sentence per thing that changed (the config, the domain pack)."""
        listed = "\n".join(f"  - {change}" for change in changes)
        super().__init__(
            f"cannot resume {path}:\n{listed}\n"
            "Resuming would mix episodes of two different setups in one run. Start a new run "
            "instead (drop --resume), or restore the config and the domain pack the run started "
            "with."
        )


def describe_validation_error(error: ValidationError) -> str:
    """`field.path: message` for each problem, joined by `; ` (one line, no pydantic links)."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in error.errors()
    )


class RunStoreWarning(UserWarning):
    """Something in a run's files was repaired or is suspicious, but reading can go on."""


def describe_os_error(error: OSError, path: Path) -> str:
    """What an OSError on `path` means for the user, in words rather than an errno."""
    code = error.errno
    if code == errno.EROFS:
        return f"{path} is on a read-only file system"
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk holding {path} is full"
    if code in (errno.EACCES, errno.EPERM):
        return f"permission denied for {path}"
    if code == errno.ENOTDIR:
        files = [p for p in (path, *path.parents) if p.exists() and not p.is_dir()]
        return f"{files[0] if files else path} is a file, not a folder"
    if code == errno.ENOENT and path.parent.is_dir():
        return f"{path.parent} does not take new files (a system folder such as /proc?)"
    return f"{path}: {error.strerror or error}"
