"""The JSON Schemas of the pack files, for editors (`# yaml-language-server: $schema=...`)."""

from __future__ import annotations

import json
from typing import Any

from pydantic import TypeAdapter

from policy_agent.domain._file import DomainFile
from policy_agent.domain._models import Tables, ToolSpec
from policy_agent.domain._rules import Rule
from policy_agent.domain._tasks import Task

SCHEMA_KINDS = ("domain", "tools", "database", "tasks", "rules")
"""The pack files there is a schema for; each is written as `<kind>.schema.json`."""

_DESCRIPTIONS: dict[str, tuple[Any, str, str]] = {
    "domain": (DomainFile, "Domain pack", "A domain pack's `domain.yaml`."),
    "tools": (list[ToolSpec], "Tools", "A tools file of a domain pack: a list of tools."),
    "database": (
        Tables,
        "Database",
        "A database file of a domain pack: tables of records keyed by id.",
    ),
    "tasks": (list[Task], "Tasks", "A tasks file of a domain pack: a list of tasks."),
    "rules": (
        list[Rule],
        "Rules",
        "A rules file of a domain pack (`rules.yaml`): policy rules checked over every episode.",
    ),
}


def pack_schema(kind: str) -> dict[str, object]:
    """The JSON Schema of one kind of pack file (one of `SCHEMA_KINDS`)."""
    annotation, title, description = _DESCRIPTIONS[kind]
    schema: dict[str, object] = TypeAdapter(annotation).json_schema()
    return {"title": title, "description": description, **schema}


def pack_schema_text(kind: str) -> str:
    """`pack_schema(kind)` as the text written to `<kind>.schema.json`."""
    return json.dumps(pack_schema(kind), indent=2, ensure_ascii=False) + "\n"
