"""Failures outside the agent: counted by cause, a streak of them stops the run, limits warned."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_agent.domain import DomainPack
from policy_agent.records import Episode, ErrorEvent, JudgeUsage, TerminationReason
from policy_agent.simulation import (
    FailureTally,
    InfrastructureCause,
    RunTally,
    ServedModels,
    Simulation,
    budget_warnings,
    load_config,
)
from policy_agent.trajectory import RunStore, config_hash
from tests._models import ScriptedModels
from tests.simulation._support import (
    REPOSITORY,
    closed_port_url,
    lookup_then_thanks,
    model,
    play_one,
    sim_config,
)

TASKS = ["cancel_free_window", "crib_too_late", "complaint_transfer", "card_triplet_cribs"]


def failed(episode: Episode, role: str, kind: str, message: str = "it broke") -> Episode:
    """`episode` as if an infrastructure failure of `role` had ended it."""
    event = ErrorEvent(role=role, error_type=kind, message=message)  # type: ignore[arg-type]
    return episode.model_copy(
        update={
            "termination_reason": TerminationReason.INFRASTRUCTURE_ERROR,
            "events": [event],
            "reward": None,
        }
    )


async def run_into(simulation: Simulation, folder: Path) -> tuple[RunTally, RunStore]:
    """Run `simulation` into a new run in `folder`: its tally, and the run opened for reading."""
    store = RunStore.create(folder, simulation.manifest())
    try:
        tally = await simulation.run(store)
    finally:
        store.close()
        await simulation.aclose()
    return tally, RunStore.open(store.directory)


async def test_a_dead_server_stops_the_run_after_a_streak_and_leaves_it_resumable(
    hotel: DomainPack, tmp_path: Path
) -> None:
    url = closed_port_url()
    config = sim_config(
        agent={"model": model(url, "agent")},
        tasks=TASKS,
        trials=3,
        concurrency=1,
        stop_after_infrastructure_failures=3,
        out=str(tmp_path),
    )
    simulation = Simulation(config, hotel)
    tally, run = await run_into(simulation, tmp_path)
    assert tally.stopped is not None
    assert tally.stopped.cause == InfrastructureCause(role="agent", kind="ServerUnreachable")
    assert str(tally.stopped).startswith(
        "3 episodes in a row failed on the agent's side (agent ServerUnreachable), so no more "
        f"were started; the last said: agent model hosted_vllm/agent at {url}: cannot reach "
        "the server: "
    )
    assert len(run.read(Episode)) == 3 < len(simulation.episodes)
    assert run.manifest.finished_at is None  # so `run --resume` plays the rest
    assert tally.summary().startswith(
        "3/12 episodes; pass -; infrastructure failures 3 (agent ServerUnreachable 3); "
    )


async def test_without_a_streak_limit_every_episode_is_played(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = sim_config(
        agent={"model": model(closed_port_url(), "agent")},
        tasks=TASKS,
        concurrency=2,
        stop_after_infrastructure_failures=None,
        out=str(tmp_path),
    )
    tally, run = await run_into(Simulation(config, hotel), tmp_path)
    assert tally.stopped is None and tally.infrastructure == 4
    assert run.manifest.finished_at is not None


async def test_a_streak_is_one_roles_and_a_scored_episode_ends_it(hotel: DomainPack) -> None:
    solved = await play_one(sim_config(), hotel, "cancel_free_window")
    tally = FailureTally()
    for episode in (
        failed(solved, "agent", "ServerError"),
        failed(solved, "agent", "LLMTimeout"),
        solved,
        failed(solved, "agent", "ServerError"),
        failed(solved, "user", "ServerError"),
        failed(solved, "user", "ServerError", "the second"),
    ):
        tally.add(episode)
    assert (tally.streak_role, tally.streak) == ("user", 2)
    tally.check_streak(3)  # not yet
    assert tally.counts_text() == "agent ServerError 2, user ServerError 2, agent LLMTimeout 1"
    assert tally.report(top=2) == [
        "2 × agent ServerError: it broke",
        "2 × user ServerError: it broke",
    ]


async def test_a_failed_judge_is_its_own_cause(hotel: DomainPack) -> None:
    solved = await play_one(sim_config(), hotel, "cancel_free_window")
    assert solved.reward is not None
    judge = JudgeUsage(model="hosted_vllm/judge", error="ServerUnreachable: judge model x: down")
    reward = solved.reward.model_copy(
        update={"infrastructure_error": "the judge failed: ...", "judge": judge}
    )
    tally = FailureTally()
    assert tally.add(solved.model_copy(update={"reward": reward})) is True
    assert tally.report() == ["1 × judge ServerUnreachable: judge model x: down"]


async def test_a_server_that_serves_another_model_is_warned_about(hotel: DomainPack) -> None:
    # A llama.cpp-like server: one model, answering any name with its own.
    roles = lookup_then_thanks()
    models = ScriptedModels.of({"any": roles["agent"]}, single_model="qwen")
    agent = {"model": model(models, "nvidia/Nemotron-Cascade-2-30B-A3B")}
    episode = await play_one(sim_config(agent=agent), hotel, "cancel_free_window", models=models)
    served = ServedModels()
    served.add(episode)
    calls = episode.totals["agent"].calls
    assert calls > 1
    asked = "hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B"
    assert served.warnings() == [
        f"the agent's server says model qwen answered {calls} calls that named {asked}: those "
        f"answers are qwen's, filed under {asked}; point the agent at the right server or model "
        "name"
    ]
    honest = await play_one(
        sim_config(agent={"model": model(models, "qwen")}),
        hotel,
        "cancel_free_window",
        models=models,
    )
    served = ServedModels()
    served.add(honest)
    assert served.warnings() == []


def test_a_retry_budget_beyond_the_episode_limit_is_warned_about() -> None:
    config = sim_config(
        agent={"model": {"model": "hosted_vllm/a", "timeout": 600, "retries": 2}},
        episode_timeout_s=1800,
    )
    assert budget_warnings(config) == [
        "agent: one model call may take up to 1803 s (3 attempts of up to `timeout` 600 s, and "
        "the backoff between them), more than episode_timeout_s 1800 s: a hung server would use "
        "up an episode's whole time on one call; lower the role's `timeout` or `retries`, or "
        "raise `episode_timeout_s`"
    ]
    assert budget_warnings(config.model_copy(update={"episode_timeout_s": None})) == []


@pytest.mark.parametrize(
    "path", sorted((REPOSITORY / "simulations").glob("*.yaml")), ids=lambda path: path.name
)
def test_the_shipped_configs_fit_their_calls_in_the_episode_limit(path: Path) -> None:
    assert budget_warnings(load_config(path)) == []


def test_the_streak_limit_may_change_on_resume() -> None:
    config = sim_config()
    changed = config.model_copy(update={"stop_after_infrastructure_failures": 50})
    from policy_agent.simulation import HASH_EXCLUDES

    assert config_hash(config.as_json(), exclude=HASH_EXCLUDES) == config_hash(
        changed.as_json(), exclude=HASH_EXCLUDES
    )
