"""The runner on a resumed run: the episodes lost to infrastructure are played again, each
appended as the next attempt of its (task, trial); with `retry=False`, they are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_agent.domain import DomainPack
from policy_agent.records import Episode, TerminationReason
from policy_agent.scripted import Script, ScriptedModelClient
from policy_agent.simulation import Simulation, SimulationConfig
from policy_agent.trajectory import RunStore, plan_resumption
from tests.simulation._support import model, sim_config
from tests.simulation.conftest import Serve

TASKS = ["crib_too_late", "complaint_transfer", "cancel_free_window"]


def _config(out: Path) -> SimulationConfig:
    user = {"kind": "llm", "model": model("http://127.0.0.1:9/v1", "user")}
    return sim_config(user=user, tasks=TASKS, trials=2, concurrency=1, out=str(out))


def _user(lost: int) -> ScriptedModelClient:
    """The user model: HTTP 500 for its first `lost` calls (no retries), then it stops."""
    answers = [{"fault": {"status": 500}}] * lost + ["Thanks. ###STOP###"]
    script = {"roles": {"user": {"answers": answers, "when_exhausted": "repeat_last"}}}
    configured = _config(Path("runs")).user.model
    return ScriptedModelClient(Script.model_validate(script), configured, role="user")


async def _play(simulation: Simulation, store: RunStore, **options: object) -> tuple[int, int]:
    try:
        tally = await simulation.run(store, **options)  # type: ignore[arg-type]
    finally:
        store.close()
        await simulation.aclose()
    return tally.already_done, tally.finished


def _resume(directory: Path, pack: DomainPack) -> RunStore:
    manifest = RunStore.open(directory).manifest
    return RunStore.resume(
        directory, config_hash=manifest.config_hash, domain_hash=pack.content_hash
    )


async def _lost_run(hotel: DomainPack, out: Path) -> Path:
    config = _config(out)
    simulation = Simulation(config, hotel, clients={"user": _user(lost=2)})
    store = RunStore.create(config.out, simulation.manifest())
    assert await _play(simulation, store) == (0, 6)
    reasons = [e.termination_reason for e in RunStore.open(store.directory).read(Episode)]
    assert (
        reasons == [TerminationReason.INFRASTRUCTURE_ERROR] * 2 + [TerminationReason.USER_STOP] * 4
    )
    return store.directory


async def test_a_resume_plays_the_lost_episodes_again_as_second_attempts(
    hotel: DomainPack, tmp_path: Path
) -> None:
    directory = await _lost_run(hotel, tmp_path)
    simulation = Simulation(_config(tmp_path), hotel, clients={"user": _user(lost=0)})
    assert await _play(simulation, _resume(directory, hotel)) == (4, 2)
    every = RunStore.open(directory).read(Episode)
    assert [(e.task_id, e.trial, e.attempt, e.supersedes) for e in every[6:]] == [
        ("crib_too_late", 0, 2, 1),
        ("complaint_transfer", 0, 2, 2),
    ]
    assert every[6].seed == every[0].seed, "a re-run has the seed its episode always has"
    latest = [e for _, e in RunStore.open(directory).latest_episodes()]
    assert len(latest) == 6
    assert {e.termination_reason for e in latest} == {TerminationReason.USER_STOP}


async def test_with_retry_off_the_lost_episodes_are_kept(hotel: DomainPack, tmp_path: Path) -> None:
    directory = await _lost_run(hotel, tmp_path)
    before = (directory / "episodes.jsonl").read_bytes()
    simulation = Simulation(_config(tmp_path), hotel, clients={"user": _user(lost=0)})
    store = _resume(directory, hotel)
    kept = plan_resumption(store.episodes_path, retry=False)
    assert await _play(simulation, store, resumption=kept) == (6, 0)
    assert (directory / "episodes.jsonl").read_bytes() == before


async def test_an_episode_lost_again_is_attempt_three_the_next_time(
    hotel: DomainPack, tmp_path: Path
) -> None:
    directory = await _lost_run(hotel, tmp_path)
    for lost, attempt in ((1, 2), (0, 3)):
        simulation = Simulation(_config(tmp_path), hotel, clients={"user": _user(lost=lost)})
        await _play(simulation, _resume(directory, hotel))
        latest = {e.key: e for _, e in RunStore.open(directory).latest_episodes()}
        assert latest[("crib_too_late", 0)].attempt == attempt
    assert latest[("complaint_transfer", 0)].attempt == 2
    assert all(e.termination_reason is TerminationReason.USER_STOP for e in latest.values())


@pytest.mark.slow  # two runner processes load litellm each: some 15 s on this machine
async def test_on_several_processes_the_parent_marks_the_re_runs(
    hotel: DomainPack, serve: Serve, tmp_path: Path
) -> None:
    answers = [{"fault": {"status": 500}}] * 2 + ["Thanks. ###STOP###"]
    server = await serve({"user": {"answers": answers, "when_exhausted": "repeat_last"}})
    user = {"kind": "llm", "model": model(server, "user")}
    config = sim_config(user=user, tasks=TASKS, trials=2, concurrency=1, out=str(tmp_path))
    simulation = Simulation(config, hotel)
    store = RunStore.create(config.out, simulation.manifest())
    assert await _play(simulation, store) == (0, 6)
    directory = store.directory
    on_two = config.model_copy(update={"processes": 2, "concurrency": 2})
    assert await _play(Simulation(on_two, hotel), _resume(directory, hotel)) == (4, 2)
    every = RunStore.open(directory).read(Episode)
    assert sorted((e.task_id, e.attempt, e.supersedes) for e in every[6:]) == [
        ("complaint_transfer", 2, 2),
        ("crib_too_late", 2, 1),
    ]
