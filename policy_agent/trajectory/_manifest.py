"""A run's manifest, `run.json`: what ran, on which domain, with which versions, and when.

`run.json` is small and changes a few times in a run's life (when it ends, when it is resumed),
so it is rewritten whole, atomically: a temporary file in the same folder is written and
fsynced, then renamed over the old one with `os.replace`. A crash at any moment leaves either the
old manifest or the new one, never a mix (episodes.jsonl, which is large, is only ever appended).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import os
import platform
import re
import secrets
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, JsonValue, ValidationError

import policy_agent
from policy_agent.records import canonical_json
from policy_agent.trajectory._errors import NotARun, describe_validation_error

MANIFEST_NAME = "run.json"
"""The manifest's file name inside a run directory."""

RUN_ID_PATTERN = r"^[0-9]{8}-[0-9]{6}-[A-Za-z0-9_]+-[0-9a-f]{6}$"
"""`YYYYMMDD-HHMMSS-<domain>-<6 hex>`, the time in UTC: ids sort by start time (to the second)."""

_DOMAIN_SEGMENT = re.compile(r"^[A-Za-z0-9_]+$")


class Versions(BaseModel):
    """The software a run was made with, for reading its episodes later with the right eyes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_agent: str
    litellm: str | None = Field(description="None when litellm is not installed.")
    python: str = Field(description="e.g. `3.11.9`.")
    platform: str = Field(
        description="`platform.platform()`, e.g. `Linux-6.1.0-x86_64-with-glibc2.36`."
    )


def collect_versions() -> Versions:
    """The versions of this process's software; reads litellm's from its metadata, not by import.

    Importing litellm takes seconds and loads its cost map, so the version is read from the
    installed distribution's metadata instead.
    """
    try:
        litellm: str | None = importlib.metadata.version("litellm")
    except importlib.metadata.PackageNotFoundError:
        litellm = None
    return Versions(
        policy_agent=policy_agent.__version__,
        litellm=litellm,
        python=platform.python_version(),
        platform=platform.platform(),
    )


def new_run_id(domain_name: str, *, now: datetime | None = None) -> str:
    """A fresh run id, `YYYYMMDD-HHMMSS-<domain>-<6 hex>` (UTC; the hex is random).

    Ids sort by start time; two runs of one domain started in the same second differ by the
    random part (and `RunStore.create` refuses to reuse a directory, so a clash cannot overwrite).
    """
    if not _DOMAIN_SEGMENT.match(domain_name):
        raise ValueError(
            f"domain name {domain_name!r} cannot go into a run id: use letters, digits and _ only"
        )
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{moment:%Y%m%d-%H%M%S}-{domain_name}-{secrets.token_hex(3)}"


def hashed_config(
    config: Mapping[str, JsonValue], *, exclude: Collection[str]
) -> dict[str, JsonValue]:
    """The part of `config` that `config_hash` covers: a copy without the `exclude` fields.

    `exclude` names fields by dotted path (`concurrency`, `output.dir`); a path that is absent
    is ignored, so the same set works on every config.
    """
    kept: dict[str, JsonValue] = dict(config)
    for path in exclude:
        *parents, leaf = path.split(".")
        node: dict[str, JsonValue] = kept
        for name in parents:
            child = node.get(name)
            if not isinstance(child, dict):
                break
            # Copy on the way down so that the caller's nested dicts are left as they were.
            copied = dict(child)
            node[name] = copied
            node = copied
        else:
            node.pop(leaf, None)
    return kept


def config_hash(config: Mapping[str, JsonValue], *, exclude: Collection[str]) -> str:
    """sha256 (hex) of the canonical JSON of `config` without the `exclude` fields.

    `exclude` lists the fields that may differ between a run and its resumption without changing
    what an episode is (concurrency, the output folder, how progress is shown); everything else,
    and so every change of model, sampling, seeds or tasks, changes the hash.
    """
    return hashlib.sha256(canonical_json(hashed_config(config, exclude=exclude))).hexdigest()


class AgentServer(BaseModel):
    """Which vLLM release line the run's agent was served by, and how that was found."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    profile: str = Field(description="The server profile used (`vllm-0.17`, ...).")
    version: str | None = Field(
        default=None, description="The version the server reported (GET /version), if any."
    )
    detected_from: str = Field(
        description="`config` (named by `agent.server_profile`), the URL that answered the "
        "version, or why the card minimum was taken."
    )
    warnings: tuple[str, ...] = Field(
        default=(),
        description="What the check before the run found doubtful about the agent's server: a "
        "model the card's format is not known for, a chat template that ignores "
        "`enable_thinking` (docs/servers.md); empty in runs made before it was recorded.",
    )


class RunManifest(BaseModel):
    """The content of `run.json`: the resolved config, the hashes resume checks, versions, times."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    run_id: str = Field(pattern=RUN_ID_PATTERN, description="Also the run directory's name.")
    created_at: AwareDatetime
    finished_at: AwareDatetime | None = Field(
        default=None, description="When the run last ended; null while it runs or if it died."
    )
    config: dict[str, JsonValue] = Field(description="The resolved run config, as JSON.")
    config_hash: str = Field(description="`config_hash(config, exclude=config_hash_excludes)`.")
    config_hash_excludes: list[str] = Field(
        description="Dotted config fields left out of the hash: they may change on resume."
    )
    domain_name: str
    domain_hash: str = Field(description="The domain pack's `content_hash`.")
    domain_parts: dict[str, str] = Field(
        default_factory=dict,
        description="A hash per part of the pack (`the tasks`, `tools/hotel.py`, ...), for "
        "saying which changed; empty in runs made before policy-agent recorded them.",
    )
    versions: Versions
    resumed_at: list[AwareDatetime] = Field(
        default_factory=list, description="When each resumption started, oldest first."
    )
    episodes_planned: int = Field(ge=0, description="Tasks × trials this run is to produce.")
    agent_server: AgentServer | None = Field(
        default=None,
        description="The agent's server profile; null for an oracle run, or one made before "
        "policy-agent recorded it.",
    )
    constrain: Literal["none", "grammar"] = Field(
        default="none",
        description="How the agent's decoding was constrained (`agent.constrain`): `none` or "
        "`grammar`; `none` in runs made before policy-agent recorded it.",
    )
    grammar_sha256: str | None = Field(
        default=None,
        description="sha256 (hex) of the one-answer grammar every agent call carried, with "
        "`constrain: grammar`.",
    )

    @classmethod
    def start(
        cls,
        *,
        config: Mapping[str, JsonValue],
        exclude: Collection[str],
        domain_name: str,
        domain_hash: str,
        episodes_planned: int,
        domain_parts: Mapping[str, str] | None = None,
        agent_server: AgentServer | None = None,
        now: datetime | None = None,
        constrain: Literal["none", "grammar"] = "none",
        grammar_sha256: str | None = None,
    ) -> Self:
        """The manifest of a run starting now: a fresh run id, the config hashed, versions read.

        `domain_parts` (the pack's `content_parts`) lets a refused resume name what changed;
        `constrain` and `grammar_sha256` say how the agent's decoding was constrained.
        """
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        return cls(
            run_id=new_run_id(domain_name, now=moment),
            created_at=moment,
            config=dict(config),
            config_hash=config_hash(config, exclude=exclude),
            config_hash_excludes=sorted(exclude),
            domain_name=domain_name,
            domain_hash=domain_hash,
            domain_parts=dict(domain_parts or {}),
            versions=collect_versions(),
            episodes_planned=episodes_planned,
            agent_server=agent_server,
            constrain=constrain,
            grammar_sha256=grammar_sha256,
        )


class PendingFile:
    """A file written under a temporary name beside where it goes, `.NAME.<random>.tmp`, then
    made whole at once: `commit` fsyncs it and renames it into place; leaving the `with` block
    without a commit (an exception, or nothing to keep) removes it.

    Readers see the old file or the new one, never part of one; a crash leaves at worst the
    temporary file. It is created as `open` creates a file (0666 less the umask), not with
    `tempfile`'s 0600: what it becomes is for others to read too.
    """

    def __init__(self, folder: Path, name: str) -> None:
        """Create the temporary file in `folder` for a file named `name` (`OSError` if not)."""
        self.temporary = folder / f".{name}.{secrets.token_hex(8)}.tmp"
        handle = os.open(self.temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        self.file: BinaryIO = os.fdopen(handle, "wb")
        """Write the content here."""
        self._done = False

    def commit(self, path: Path) -> None:
        """Make `path` this file's content: fsync, rename over whatever `path` was. The caller
        fsyncs the folder when the rename must survive a power cut too."""
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()
        os.replace(self.temporary, path)
        self._done = True

    def discard(self) -> None:
        """Remove the temporary file (nothing happens to where it would have gone)."""
        self.file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temporary)
        self._done = True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        if not self._done:
            self.discard()


def write_atomically(path: Path, data: bytes | Iterable[bytes]) -> None:
    """Write `path` whole or not at all (`PendingFile`): `data`, or its pieces one after the
    other (never joined in memory).

    A crash at any moment leaves the old file or the new one, never part of one (plus, at
    worst, a `.NAME.*.tmp` file). The caller fsyncs the folder when the rename must survive
    a power cut too.
    """
    with PendingFile(path.parent, path.name) as pending:
        for piece in [data] if isinstance(data, bytes) else data:
            pending.file.write(piece)
        pending.commit(path)


def write_manifest(directory: Path, manifest: RunManifest) -> None:
    """Write `directory/run.json` atomically: temp file, fsync, `os.replace`, fsync the folder."""
    write_atomically(
        directory / MANIFEST_NAME, (manifest.model_dump_json(indent=2) + "\n").encode()
    )
    fsync_directory(directory)


def remove_stale_temporaries(directory: Path) -> None:
    """Delete temporary manifests left by a process killed while writing `run.json`."""
    for stale in directory.glob(f".{MANIFEST_NAME}.*.tmp"):
        stale.unlink(missing_ok=True)


def read_manifest(directory: Path) -> RunManifest:
    """`directory/run.json`, validated; `NotARun` says why it cannot be read."""
    path = directory / MANIFEST_NAME
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise NotARun(directory, f"there is no {MANIFEST_NAME}") from None
    except OSError as error:
        raise NotARun(directory, f"cannot read {MANIFEST_NAME}: {error.strerror}") from error
    try:
        return RunManifest.model_validate_json(text)
    except ValidationError as error:
        raise NotARun(
            directory,
            f"{MANIFEST_NAME} is not a valid manifest: {describe_validation_error(error)}",
        ) from None


def fsync_directory(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable (Linux needs the folder fsynced)."""
    handle = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
