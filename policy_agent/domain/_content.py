"""What a pack's content hash covers, part by part, so a changed pack can say what changed.

A run records its pack's hash, and a resume is refused when the hash differs: episodes of two
packs in one run would make its scores meaningless. The Python files the pack names (tools,
the sync hook, env assertions, initial-state functions) are part of it, byte for byte: a changed
`tools/hotel.py` changes what a tool does as surely as a changed `tools.yaml`. Each part is also
hashed on its own (`content_parts`), so that the refusal can name the file or section that
changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING

from policy_agent.domain._models import PythonImplementation

if TYPE_CHECKING:
    from policy_agent.domain._pack import DomainPack

_UNREADABLE = "unreadable"
"""The hash of a Python file that can no longer be read: differs from any file's content hash."""


def python_references(pack: DomainPack) -> list[str]:
    """Every Python file the pack names, relative to its repository, each once, sorted."""

    def named() -> Iterator[str]:
        for tool in (*pack.tools, *pack.user_tools):
            if isinstance(tool.implementation, PythonImplementation):
                yield tool.implementation.python
        if pack.sync is not None:
            yield pack.sync
        for task in pack.tasks:
            for assertion in task.evaluation_criteria.env_assertions:
                if assertion.python is not None:
                    yield assertion.python
            for action in task.initial_state.actions if task.initial_state else ():
                if action.python is not None:
                    yield action.python

    return sorted({reference.rsplit(":", 1)[0] for reference in named()})


def _digest(value: object) -> str:
    canonical = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def python_digests(pack: DomainPack) -> dict[str, str]:
    """sha256 of each Python file the pack names, by its path relative to the repository."""
    digests = {}
    for path in pack.python_files:
        try:
            digests[path] = hashlib.sha256((pack.repository / path).read_bytes()).hexdigest()
        except OSError:
            digests[path] = _UNREADABLE
    return digests


def hashed_content(pack: DomainPack) -> dict[str, object]:
    """Everything `DomainPack.content_hash` covers, as one JSON value."""
    content: dict[str, object] = {
        "name": pack.name,
        "version": pack.version,
        "policy": pack.policy,
        "clock": pack.clock,
        "sync": pack.sync,
        "tools": [t.model_dump(mode="json") for t in pack.tools],
        "user_tools": [t.model_dump(mode="json") for t in pack.user_tools],
        "database": pack.database,
        "user_database": pack.user_database,
        "tasks": [t.model_dump(mode="json") for t in pack.tasks],
    }
    # Only when set, so the hash of every pack that leaves them out stays what it was.
    if pack.rules:
        content["rules"] = [rule.model_dump(mode="json") for rule in pack.rules]
    if not pack.user_simulator.is_default:
        content["user_simulator"] = pack.user_simulator.model_dump(mode="json")
    if pack.python_digests:
        content["python"] = pack.python_digests
    return content


def content_hash(pack: DomainPack) -> str:
    """sha256 of everything that affects a run (see `hashed_content`)."""
    return _digest(hashed_content(pack))


_PART_NAMES = {
    "policy": "the policy",
    "tools": "the tools",
    "user_tools": "the user tools",
    "database": "the database",
    "user_database": "the user database",
    "tasks": "the tasks",
    "user_simulator": "the user simulator",
    "rules": "the rules",
}


def content_parts(pack: DomainPack) -> dict[str, str]:
    """A hash per part of the pack, keyed by what a person calls it: `the tasks`,
    `the name, version, clock or sync hook`, or a Python file's path (`tools/hotel.py`)."""
    content = hashed_content(pack)
    python = content.pop("python", {})
    header = {key: content.pop(key) for key in ("name", "version", "clock", "sync")}
    parts = {_PART_NAMES[key]: _digest(value) for key, value in content.items()}
    parts["the name, version, clock or sync hook"] = _digest(header)
    if isinstance(python, dict):
        parts.update({path: str(digest) for path, digest in python.items()})
    return parts
