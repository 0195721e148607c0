"""A simulation on in-process model doubles plays the episodes an HTTP run of the script plays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import DomainPack
from policy_agent.llm import ModelConfig
from policy_agent.records import Episode
from policy_agent.scripted import Script, ScriptedModelClient
from policy_agent.simulation import ConfigError, Simulation
from policy_agent.trajectory import RunStore
from tests.simulation._support import lookup_then_thanks, model, sim_config
from tests.simulation.conftest import Serve


async def _run(simulation: Simulation, out: Path) -> list[Episode]:
    store = RunStore.create(out, simulation.manifest())
    try:
        await simulation.run(store)
    finally:
        store.close()
        await simulation.aclose()
    return RunStore.open(store.directory).read(Episode)


def _played(episode: Episode) -> tuple[Any, ...]:
    """What an episode is, without its timing."""
    messages = [
        record.model_dump(exclude={"timestamp", "generation", "duration_ms"})
        for record in episode.messages
    ]
    reward = episode.reward.reward if episode.reward is not None else None
    return (
        episode.task_id,
        episode.trial,
        episode.seed,
        messages,
        episode.termination_reason,
        reward,
    )


async def test_in_process_clients_play_what_the_scripted_server_plays(
    serve: Serve, hotel: DomainPack, tmp_path: Path
) -> None:
    roles = lookup_then_thanks()
    server = await serve(roles)
    over_http = sim_config(
        agent={"model": model(server, "agent")},
        user={"kind": "llm", "model": model(server, "user")},
        tasks=["cancel_free_window", "crib_too_late"],
        trials=2,
        out=str(tmp_path / "http"),
    )
    in_process = over_http.model_copy(update={"out": tmp_path / "in-process"})
    script = Script.model_validate({"roles": roles})
    clients = {
        role: ScriptedModelClient(
            script, ModelConfig.model_validate(model(server, role)), role=role
        )
        for role in ("agent", "user")
    }

    expected = await _run(Simulation(over_http, hotel), tmp_path / "http")
    played = await _run(Simulation(in_process, hotel, clients=clients), tmp_path / "in-process")

    # Episodes are appended as they end, in whichever order that is.
    assert sorted(map(_played, played)) == sorted(map(_played, expected))
    assert len(clients["agent"].requests) == sum(e.totals["agent"].calls for e in played)


def test_in_process_clients_cannot_serve_worker_processes(hotel: DomainPack) -> None:
    script = Script.model_validate({"roles": {"agent": {"answers": ["Hi"]}}})
    config = sim_config(agent={"model": {"model": "hosted_vllm/agent"}}, processes=2)

    with pytest.raises(ConfigError, match="cannot serve 2 worker processes; set `processes: 1`"):
        Simulation(config, hotel, clients={"agent": ScriptedModelClient(script)})
