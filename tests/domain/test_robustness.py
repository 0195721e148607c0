"""Whatever a pack says, loading it gives a pack or a PackError: never another exception."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given
from hypothesis import strategies as st

from policy_agent.domain import PackError, load_pack
from tests._examples import fast_and_thorough
from tests.domain._support import BASE

# Keys and values a pack uses, so that generated packs get deep into validation and checks.
WORDS = [
    "name", "policy", "tools", "database", "tasks", "user_tools", "user_database", "kind",
    "parameters", "implementation", "op", "get", "find", "create", "update", "python", "table",
    "key", "set", "values", "match", "fields", "preconditions", "check", "error", "returns",
    "type", "string", "books", "BK1", "book_id", "id", "user_scenario", "instructions",
    "evaluation_criteria", "actions", "action_id", "arguments", "reward_basis", "DB", "ACTION",
    "requestor", "user", "get_book", "record.title", "tools/x.py:f", "file", "..", "{x}",
]  # fmt: skip
SCALARS = st.sampled_from(WORDS) | st.none() | st.booleans() | st.integers(-2, 2) | st.text()
VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS), children, max_size=4)
    ),
    max_leaves=25,
)
EDITS = st.lists(st.tuples(st.lists(st.integers(0, 9), max_size=6), VALUES), min_size=1, max_size=3)


def _replace(data: object, path: list[int], value: object) -> object:
    """`data` with the value at `path` (indexes into keys or items, modulo their count) replaced."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    if isinstance(data, dict):
        key = list(data)[path[0] % len(data)]
        return {**data, key: _replace(data[key], path[1:], value)}
    index = path[0] % len(data)
    return [*data[:index], _replace(data[index], path[1:], value), *data[index + 1 :]]


def _loads_or_reports_problems(edits: list[tuple[list[int], object]]) -> None:
    data: object = BASE
    for path, value in edits:
        data = _replace(data, path, value)
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "pyproject.toml").write_text("")
        (Path(folder) / "domain.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
        try:
            load_pack(folder)
        except PackError as error:
            assert error.problems
            assert all(problem.message for problem in error.problems)
            assert error.report().endswith("run policy-agent validate again.")


test_any_pack_loads_or_reports_problems, test_any_pack_loads_or_reports_problems_thoroughly = (
    fast_and_thorough(
        given(EDITS),
        _loads_or_reports_problems,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
)
