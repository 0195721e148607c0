"""A run directory: `run.json` (the manifest) and `episodes.jsonl` (one line per finished episode).

`episodes.jsonl` is never rewritten. Each record is appended as one line, written whole with a
single `os.write` on an `O_APPEND` descriptor and fsynced before `append` returns; a lock keeps
lines whole when tasks or threads append at once, and an exclusive `flock` keeps a second process
from appending to the same run. Because of this, a crash (even SIGKILL) can tear only the last
line, and only a line whose `append` never returned: its episode was never counted as done.

An episode's token traces (`record_tokens`) go to `tokens.jsonl` instead, appended and fsynced
the same way just before its line (`_tokens` says why, and what a crash between the two leaves).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
import warnings
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel, JsonValue

from policy_agent.records import Episode
from policy_agent.trajectory._attempts import iter_latest
from policy_agent.trajectory._errors import (
    NotARun,
    RunExists,
    RunLocked,
    RunNotCreated,
    RunStoreError,
    RunStoreWarning,
    describe_os_error,
)
from policy_agent.trajectory._index import remove_index_temporaries
from policy_agent.trajectory._lines import (
    EPISODES_NAME,
    Line,
    RecordT,
    TornTail,
    find_torn_tail,
    iter_lines,
    iter_records,
)
from policy_agent.trajectory._manifest import (
    MANIFEST_NAME,
    AgentServer,
    RunManifest,
    fsync_directory,
    read_manifest,
    remove_stale_temporaries,
    write_manifest,
)
from policy_agent.trajectory._resume import check_resumable
from policy_agent.trajectory._tokens import (
    TOKENS_NAME,
    TokenLine,
    UnreferencedTokens,
    cut_unreferenced_tokens,
    split_tokens,
)


class RunStore:
    """One run's directory, open for reading (`open`) or for appending (`create`, `resume`).

    `fsync=True` (the default) makes every appended line durable before `append` returns, which
    survives a power cut as well as a killed process. It costs about 0.3 ms per line on this
    project's machines (docs/runs.md), against episodes that take seconds, so it stays on;
    `fsync=False` only protects against a killed process.
    """

    def __init__(
        self,
        *,
        directory: Path,
        manifest: RunManifest,
        repaired: TornTail | None,
        handle: int | None,
        fsync: bool,
    ) -> None:
        """Use `RunStore.create`, `RunStore.open` or `RunStore.resume` instead."""
        self.directory = directory
        self.manifest = manifest
        """The run's manifest as last read or written."""
        self.repaired = repaired
        """The torn last line that `resume` truncated, if there was one."""
        self.repaired_tokens: UnreferencedTokens | None = None
        """The token traces no episode line referred to that `resume` cut off, if any."""
        self._handle = handle
        self._tokens_handle: int | None = None
        self._fsync = fsync
        self._lock = threading.Lock()

    @property
    def episodes_path(self) -> Path:
        """The path of `episodes.jsonl`."""
        return self.directory / EPISODES_NAME

    @property
    def tokens_path(self) -> Path:
        """The path of `tokens.jsonl` (made by the first episode appended with token traces)."""
        return self.directory / TOKENS_NAME

    @property
    def writable(self) -> bool:
        """True while records can be appended (made by `create` or `resume`, not yet closed)."""
        return self._handle is not None

    @classmethod
    def create(cls, runs_dir: Path, manifest: RunManifest, *, fsync: bool = True) -> Self:
        """Make `runs_dir/<run-id>/` with its manifest and an empty episode log, open to append.

        Raises `RunExists` rather than touch a directory that is already there, and
        `RunNotCreated` when the folder or its files cannot be written (a read-only or full
        disk, a file in the way): then nothing is left behind, not even an empty run folder.
        """
        directory = runs_dir / manifest.run_id
        try:
            runs_dir.mkdir(parents=True, exist_ok=True)
            directory.mkdir()
        except FileExistsError:
            raise RunExists(directory) from None
        except OSError as error:
            failed = Path(error.filename) if error.filename else runs_dir
            raise RunNotCreated(runs_dir, describe_os_error(error, failed)) from None
        try:
            write_manifest(directory, manifest)
            handle = _open_for_append(directory / EPISODES_NAME, create=True)
            try:
                fsync_directory(directory)
            except BaseException:
                os.close(handle)
                raise
        except OSError as error:
            _remove_new_run(directory)
            raise RunNotCreated(runs_dir, describe_os_error(error, directory)) from None
        except BaseException:
            _remove_new_run(directory)
            raise
        return cls(
            directory=directory, manifest=manifest, repaired=None, handle=handle, fsync=fsync
        )

    @classmethod
    def open(cls, path: Path) -> Self:
        """Open a run for reading; nothing is modified, so a run still being written can be read."""
        manifest = read_manifest(path)
        episodes = path / EPISODES_NAME
        if not episodes.is_file():
            raise NotARun(path, f"there is no {EPISODES_NAME}")
        return cls(directory=path, manifest=manifest, repaired=None, handle=None, fsync=False)

    @classmethod
    def resume(
        cls,
        path: Path,
        *,
        config_hash: str,
        domain_hash: str,
        config: Mapping[str, JsonValue] | None = None,
        domain_parts: Mapping[str, str] | None = None,
        agent_server: AgentServer | None = None,
        fsync: bool = True,
        now: datetime | None = None,
    ) -> Self:
        """Reopen an interrupted run to append the episodes it lacks.

        Refuses (`ResumeRefused`, see `check_resumable`) when the config or the domain changed,
        before anything is modified, naming what changed (given `config` and `domain_parts`);
        `RunLocked` when another process still appends to it. Then truncates a torn last line
        (with a `RunStoreWarning`) so that the next line starts clean, and records the
        resumption in the manifest. Truncating is safe: it happens under the
        exclusive lock, so no writer is mid-line, and the torn line's `append` never returned,
        so its episode was not counted as done and runs again.
        """
        reader = cls.open(path)
        check_resumable(reader, config_hash, domain_hash, config=config, domain_parts=domain_parts)
        handle = _open_for_append(reader.episodes_path, create=False)
        try:
            # Looked for under the lock, so that no writer can be in the middle of the last line.
            torn = find_torn_tail(reader.episodes_path)
            if torn is not None:
                warnings.warn(RunStoreWarning(torn.describe(reader.episodes_path)), stacklevel=2)
                os.ftruncate(handle, torn.offset)
                os.fsync(handle)
            # After the episode log's tail: the traces of a torn episode line go with it.
            unreferenced = cut_unreferenced_tokens(path)
            if unreferenced is not None:
                warnings.warn(
                    RunStoreWarning(unreferenced.describe(path / TOKENS_NAME)), stacklevel=2
                )
            remove_stale_temporaries(path)
            remove_index_temporaries(path)
            moment = (now or datetime.now(UTC)).astimezone(UTC)
            update: dict[str, object] = {
                "finished_at": None,
                "resumed_at": [*reader.manifest.resumed_at, moment],
            }
            if reader.manifest.agent_server is None and agent_server is not None:
                update["agent_server"] = agent_server  # a run made before it was recorded
            manifest = reader.manifest.model_copy(update=update)
            write_manifest(path, manifest)
        except BaseException:
            os.close(handle)
            raise
        store = cls(directory=path, manifest=manifest, repaired=torn, handle=handle, fsync=fsync)
        store.repaired_tokens = unreferenced
        return store

    def append(self, record: BaseModel) -> None:
        """Append `record` as one JSON line; when this returns the line is whole on disk.

        An `Episode` with token traces has them appended to `tokens.jsonl` first, and its line
        says where (`Episode.tokens_offset`; every `tokens` in it null). Safe to call from many
        asyncio tasks or threads at once (a lock serialises the writes; from a coroutine,
        `await asyncio.to_thread(store.append, record)` keeps the event loop free during the
        fsync). If a write fails part-way, the partial line is cut off again, so both files
        stay sequences of whole lines.
        """
        traces = None
        if isinstance(record, Episode):
            if record.tokens_offset is not None:
                raise RunStoreError(
                    f"{self.episodes_path}: episode {record.task_id}#{record.trial} refers to "
                    f"token traces in another run's {TOKENS_NAME} (tokens_offset "
                    f"{record.tokens_offset}). Read it with its tokens (latest_episodes() with "
                    "tokens=True) before appending it to a run."
                )
            record, found = split_tokens(record)
            if found:
                line = TokenLine(
                    task_id=record.task_id,
                    trial=record.trial,
                    attempt=record.attempt,
                    traces=found,
                )
                traces = line.model_dump_json().encode() + b"\n"
        with self._lock:
            handle = self._handle
            if handle is None:
                raise RunStoreError(
                    f"{self.episodes_path}: this store cannot append: it was opened for reading, "
                    "or closed, or a failed write could not be undone. Append through the store "
                    "returned by RunStore.create or RunStore.resume."
                )
            tokens_at = None
            if traces is not None:
                assert isinstance(record, Episode)
                tokens = self._open_tokens()
                tokens_at = os.fstat(tokens).st_size
                self._write(tokens, traces, tokens_at)
                record = record.model_copy(update={"tokens_offset": tokens_at})
            data = record.model_dump_json().encode() + b"\n"
            try:
                self._write(handle, data, os.fstat(handle).st_size)
            except BaseException:
                if tokens_at is not None and self._tokens_handle is not None:
                    # Unreferenced traces are harmless (resume cuts them); only tidier gone.
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._tokens_handle, tokens_at)
                raise

    def _write(self, handle: int, data: bytes, start: int) -> None:
        """Write `data` whole at the end of `handle` (which is `start` bytes long), fsynced if
        the store fsyncs; cut back to `start` if that fails part-way."""
        try:
            view = memoryview(data)
            while view:
                # One write almost always; a short write only after an interruption.
                view = view[os.write(handle, view) :]
            if self._fsync:
                os.fsync(handle)
        except BaseException:
            self._cut_back(handle, start)
            raise

    def _open_tokens(self) -> int:
        """The `O_APPEND` descriptor on `tokens.jsonl`, made on first use (the episode log's
        lock, held by this store, covers it)."""
        if self._tokens_handle is None:
            existed = self.tokens_path.exists()
            flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | os.O_CREAT
            self._tokens_handle = os.open(self.tokens_path, flags, 0o644)
            if not existed:
                fsync_directory(self.directory)
        return self._tokens_handle

    def _cut_back(self, handle: int, start: int) -> None:
        """Remove a partly written line; if even that fails, stop appending to this run."""
        try:
            os.ftruncate(handle, start)
        except OSError:
            if handle == self._handle:
                self._handle = None
            else:
                self._tokens_handle = None
            os.close(handle)

    def find_torn_tail(self) -> TornTail | None:
        """The episode log's torn last line as the file is now, if it has one (reads it all)."""
        return find_torn_tail(self.episodes_path)

    def iter_lines(self) -> Iterator[Line]:
        """Every complete line as a JSON object; a torn last line is dropped with a warning.

        Raises `CorruptLine`, naming the line number, for any other line that is not JSON.
        """
        return iter_lines(self.episodes_path)

    def read(self, model_type: type[RecordT]) -> list[RecordT]:
        """Every complete line validated as `model_type` (see `iter_lines` for bad lines).

        Every line, superseded attempts included: the log as written (an episode's traces in
        `tokens.jsonl` stay there: its `tokens_offset` says where). What a run's readers count,
        tokens included, is `latest_episodes`.

        Raises `RecordInvalid`, naming the line number, for a line that is not a `model_type`.
        """
        return [record for _, record in iter_records(self.episodes_path, model_type)]

    def latest_episodes(self, *, tokens: bool = True) -> Iterator[tuple[int, Episode]]:
        """Each (task, trial)'s latest attempt with its line number: what a run's readers count.

        Streamed (see `iter_latest`): memory grows with the run's keys, not its episodes.
        `tokens=True` joins each episode's traces back from `tokens.jsonl` (one seek each);
        `tokens=False` leaves every generation's token trace out (None), unparsed, and never
        opens `tokens.jsonl`.
        Raises what `read` raises, and `AttemptConflict` for a line the store did not write.
        """
        return iter_latest(self.episodes_path, tokens=tokens)

    def finish(self, *, now: datetime | None = None) -> None:
        """Record in the manifest that the run ended now (rewrites `run.json` atomically)."""
        if self._handle is None:
            raise RunStoreError(
                f"{self.directory}: this store cannot finish the run: it was opened for reading, "
                "or closed. Finish through the store returned by RunStore.create or "
                "RunStore.resume."
            )
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        self.manifest = self.manifest.model_copy(update={"finished_at": moment})
        write_manifest(self.directory, self.manifest)

    def close(self) -> None:
        """Release the episode log, its lock and `tokens.jsonl` (reading keeps working)."""
        with self._lock:
            if self._handle is not None:
                os.close(self._handle)
                self._handle = None
            if self._tokens_handle is not None:
                os.close(self._tokens_handle)
                self._tokens_handle = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _remove_new_run(directory: Path) -> None:
    """Undo a `create` that failed part-way: its files (never an episode yet) and its folder."""
    for name in (EPISODES_NAME, MANIFEST_NAME):
        with contextlib.suppress(OSError):
            (directory / name).unlink(missing_ok=True)
    remove_stale_temporaries(directory)
    with contextlib.suppress(OSError):
        directory.rmdir()


def _open_for_append(path: Path, *, create: bool) -> int:
    """An `O_APPEND` descriptor on the episode log, holding its exclusive lock."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT | os.O_EXCL if create else 0)
    handle = os.open(path, flags, 0o644)
    try:
        # flock is released by the kernel when the process dies, even by SIGKILL.
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as error:
        os.close(handle)
        if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            raise RunLocked(path.parent) from None
        raise
    return handle
