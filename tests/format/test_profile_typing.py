"""Every profile types parameter text exactly as its vLLM release's own parser does.

The vectors in tests/format/vectors/typing-vllm-<release>.json were made by running that
release's parser (the file names the source) over each (schema, raw value) pair; every other
release of the line gave the same results (`same_results_in`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy_agent.format import (
    PROFILES,
    ServerProfile,
    ServerTypingError,
    coerce_value,
    cut_value,
    profile_for_version,
)

VECTORS = Path(__file__).parent / "vectors"


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _load(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"typing-vllm-{release}.json").read_text())
    return data


def _expected(outcome: dict[str, str]) -> object:
    """The value the client receives, or the failure's kind."""
    if "unparsed" in outcome:
        return "parser_error"
    try:
        arguments = json.loads(outcome["arguments"], parse_constant=_no_constants)
    except ValueError:
        return "not_json"
    return ("value", arguments["p"])


def _ours(raw: str, schema: object, profile: ServerProfile) -> object:
    properties = {"q": {"type": "integer"}} if schema is None else {"p": schema}
    try:
        value = coerce_value(cut_value(f"\n{raw}\n", profile), "p", properties, profile)
    except ServerTypingError as error:
        return error.failure
    return ("value", value)


RELEASES = ["0.17.1", "0.21.0", "0.22.1", "0.25.1", "0.26.0", "0.32.0", "0.33.0"]


@pytest.mark.parametrize("release", RELEASES)
def test_typing_equals_the_release_on_every_vector(release: str) -> None:
    vectors = _load(release)
    profile = profile_for_version(release)
    assert set(vectors["same_results_in"]) <= {
        r for r in _all_releases() if profile_for_version(r) == profile
    }
    wrong = []
    for schema, raw, outcome in vectors["cases"]:
        expected, ours = _expected(outcome), _ours(raw, schema, profile)
        # Exact types too: 1 and 1.0 and True are different JSON.
        if json.dumps(expected) != json.dumps(ours):
            wrong.append((schema, raw, expected, ours))
    assert wrong == [], f"{len(wrong)} of {len(vectors['cases'])} differ from vLLM {release}"
    assert len(vectors["cases"]) > 2900


def _all_releases() -> list[str]:
    return [r for p in PROFILES for r in _load_releases(p)]


def _load_releases(profile: ServerProfile) -> list[str]:
    for release in RELEASES:
        if profile_for_version(release) == profile:
            return list(_load(release)["same_results_in"])
    return []


def test_every_profile_has_vectors() -> None:
    assert {profile_for_version(r).name for r in RELEASES} == {p.name for p in PROFILES}
