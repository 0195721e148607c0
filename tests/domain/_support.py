"""Building small packs in a temporary folder for the loader's tests."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_agent.domain import PackError, load_pack

BASE: dict[str, Any] = {
    "name": "library",
    "policy": "Lend books; at most 3 per member.",
    "tools": [
        {
            "name": "get_book",
            "kind": "read",
            "parameters": {"book_id": {"type": "string", "description": "The book's id."}},
            "implementation": {"op": "get", "table": "books", "key": "book_id"},
        },
    ],
    "database": {"books": {"BK1": {"title": "Dune"}}, "loans": {}},
    "tasks": [
        {
            "id": "t1",
            "user_scenario": {"instructions": "You want to know about BK1."},
            "evaluation_criteria": {
                "actions": [{"action_id": "a", "name": "get_book", "arguments": {"book_id": "BK1"}}]
            },
        }
    ],
}


def pack_data(**changes: Any) -> dict[str, Any]:
    """A copy of the base pack with some top-level keys replaced (None removes a key)."""
    data = copy.deepcopy(BASE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def write_pack(folder: Path, data: dict[str, Any], files: dict[str, str] | None = None) -> Path:
    """Write `domain.yaml` and `files` into `folder`, with a pyproject.toml (the repository)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pyproject.toml").write_text("", encoding="utf-8")
    (folder / "domain.yaml").write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    for name, text in (files or {}).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def problems(folder: Path) -> list[tuple[str, str]]:
    """(field, message) of every problem loading the pack in `folder`."""
    with pytest.raises(PackError) as error:
        load_pack(folder)
    return [(problem.field, problem.message) for problem in error.value.problems]


def tool(name: str, implementation: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """A tool dict with string parameters (or the schemas given)."""
    return {
        "name": name,
        "parameters": {
            p: schema if isinstance(schema, dict) else {"type": "string"}
            for p, schema in parameters.items()
        },
        "implementation": implementation,
    }
