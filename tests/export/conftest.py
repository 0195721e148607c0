"""The report tests' runs (the demo, the mixed run), and runs of a model agent on the scripted
server, one per transport and style, with the requests the server received."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from policy_agent.scripted import Script, ScriptedServer
from tests.agent._hotel_script import AGENT_TURNS, scripted
from tests.report._support import STRICT_TASK, run_simulation
from tests.report.conftest import demo, mixed
from tests.simulation._support import model, sim_config

__all__ = ["STYLES", "ModelRun", "demo", "mixed", "model_run_on", "model_runs"]


@dataclass(frozen=True)
class ModelRun:
    """A run of `card_triplet_cribs` by a scripted model agent: reward 1, nine model turns."""

    directory: Path
    transport: str
    style: str
    requests: list[dict[str, Any]]
    """The bodies the server received, in order: one per agent turn."""


def model_run_on(
    out: Path,
    transport: str,
    style: str,
    domain: Path | None = None,
    answers: list[dict[str, Any]] | None = None,
    **model_fields: Any,
) -> ModelRun:
    """The model card's scenario played over HTTP with `transport` and `style` into `out`
    (`answers`: the agent's, default the scenario's; `model_fields`: its model config's)."""
    if answers is None:
        answers = [scripted(turn, transport, style) for turn in AGENT_TURNS]
    script = Script.model_validate({"roles": {"agent": {"answers": answers}}})
    with ScriptedServer(script) as server:
        agent = {
            "model": model(server, "agent", **model_fields),
            "transport": transport,
            "style": style,
        }
        fields: dict[str, Any] = {"agent": agent, "tasks": [STRICT_TASK], "out": str(out)}
        if domain is not None:
            fields["domain"] = str(domain)
        directory = run_simulation(sim_config(**fields))
        bodies = [r.body for r in server.requests if isinstance(r.body, dict)]
    return ModelRun(directory=directory, transport=transport, style=style, requests=bodies)


STYLES = {
    "completions": ("completions", "card"),
    "chat-card": ("chat", "card"),
    "chat-template": ("chat", "template"),
}


@pytest.fixture(scope="session")
def model_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelRun]:
    """One run per transport and style, by name (`STYLES`). Do not write to them."""
    return {
        name: model_run_on(tmp_path_factory.mktemp(name), transport, style)
        for name, (transport, style) in STYLES.items()
    }
