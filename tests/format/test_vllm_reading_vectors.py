"""`vllm_reading` reads every answer as the 0.24+ parser engine does, release by release.

The vectors in tests/format/vectors/reading-vllm-<release>.json were made by running that
release's own qwen3_coder parser (the file names the source and how) on each answer; the
releases in `same_results_in` gave the same results, and each is held to them with its profile.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from policy_agent.format import PROFILES, FunctionSpec, profile_for_version, vllm_reading

VECTORS = Path(__file__).parent / "vectors"
RELEASES = ["0.25.1", "0.32.0", "0.34.0"]


def _load(release: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / f"reading-vllm-{release}.json").read_text())
    return data


def _exact(calls: list[dict[str, Any]], content: str | None) -> str:
    """Calls and content as JSON text, so 2 and 2.0 and True differ; key order does not."""
    return json.dumps({"calls": calls, "content": content}, sort_keys=True)


@pytest.mark.parametrize("release", RELEASES)
def test_reading_equals_the_release_on_every_vector(release: str) -> None:
    data = _load(release)
    functions = [FunctionSpec(**tool) for tool in data["tools"]]
    for same in data["same_results_in"]:
        profile = profile_for_version(same)
        wrong = []
        for vector in data["vectors"]:
            expected = _exact(
                [
                    {"name": c["name"], "arguments": json.loads(c["arguments"])}
                    for c in vector["calls"]
                ],
                vector["content"],
            )
            reading = vllm_reading(vector["answer"], functions, profile)
            ours = _exact(
                [{"name": c.name, "arguments": c.arguments} for c in reading.calls],
                reading.content,
            )
            if ours != expected:
                wrong.append((vector["id"], expected, ours))
        assert wrong == [], f"{len(wrong)} of {len(data['vectors'])} differ from vLLM {same}"
    assert len(data["vectors"]) == 366


def test_every_parser_engine_profile_has_vectors() -> None:
    covered = {profile_for_version(r).name for v in RELEASES for r in _load(v)["same_results_in"]}
    engine = {p.name for p in PROFILES if p.unclosed_function_name == "name_to_end"}
    assert covered == engine
