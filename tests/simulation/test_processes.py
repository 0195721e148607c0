"""A run on several processes: children play, the parent alone writes, episodes as on one."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import DomainPack
from policy_agent.records import Episode
from policy_agent.simulation import (
    WorkerProcessFailed,
    load_config,
    plan,
)
from policy_agent.simulation._processes import play_in_processes, shares, start_process_server
from policy_agent.simulation._progress import RunTally
from policy_agent.trajectory import RunStore
from tests.simulation._support import (
    DEMO,
    KillAfterFirstEpisode,
    ctrl_c_run,
    lookup_then_thanks,
    model,
    sim_config,
    simulate,
)
from tests.simulation.conftest import Serve

VARYING = {"timestamp", "started_at", "ended_at", "duration_s", "duration_ms", "latency_ms"}
"""Fields that differ from one playing of an episode to the next: times and durations."""


def content(episode: Episode) -> Any:
    """The episode as JSON values without its times: what must not depend on the process."""

    def strip(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in VARYING}
        if isinstance(value, list):
            return [strip(item) for item in value]
        return value

    return strip(episode.model_dump(mode="json"))


def test_shares_are_round_robin_and_split_the_concurrency(hotel: DomainPack) -> None:
    todo = plan(sim_config(trials=2), hotel)
    [(first, five), (second, four)] = shares(todo, 2, 9)
    assert (five, four) == (5, 4)
    assert first == [p.key for p in todo[0::2]] and second == [p.key for p in todo[1::2]]
    # Never more processes than episodes running at once, or than episodes.
    assert len(shares(todo, 8, 3)) == 3 and len(shares(todo[:2], 8, 64)) == 2


async def test_two_processes_play_the_demo_as_one_does(hotel: DomainPack, tmp_path: Path) -> None:
    config = load_config(DEMO).model_copy(update={"trials": 2})
    one = config.model_copy(update={"out": tmp_path / "one"})
    two = config.model_copy(update={"out": tmp_path / "two", "processes": 2})
    _, alone = await simulate(one, hotel)
    directory, shared = await simulate(two, hotel)
    keys = [episode.key for episode in shared]
    assert len(keys) == len(set(keys)) == 2 * len(hotel.tasks)
    by_key = {episode.key: content(episode) for episode in alone}
    assert {episode.key: content(episode) for episode in shared} == by_key
    assert all(e.reward is not None and e.reward.reward == 1.0 for e in shared)
    manifest = RunStore.open(directory).manifest
    assert manifest.finished_at is not None and "processes" in manifest.config_hash_excludes


@pytest.mark.slow  # a scripted server and two runner processes playing model calls
async def test_model_backed_episodes_on_two_processes(
    hotel: DomainPack, serve: Serve, tmp_path: Path
) -> None:
    server = await serve(lookup_then_thanks())
    config = sim_config(
        agent={"model": model(server, "agent")},
        user={"kind": "llm", "model": model(server, "user")},
        tasks=["cancel_free_window"],
        trials=6,
        concurrency=4,
        processes=2,
        out=str(tmp_path),
    )
    tally = RunTally(planned=0)

    class Count:
        def started(self, started: RunTally) -> None:
            nonlocal tally
            tally = started

        def finished(self, episode: Episode) -> None:
            """Counted by the tally."""

        def stopped(self) -> None:
            """Nothing to do."""

    _, episodes = await simulate(config, hotel, observer=Count())
    assert sorted(e.trial for e in episodes) == list(range(6))
    assert all(e.error is None and e.totals["agent"].calls == 2 for e in episodes)
    assert tally.finished == 6 and tally.agent_tokens > 0
    # Each episode's calls carry its own seed, whichever process played it.
    sent = {body["seed"] for body in (r.body for r in server.requests) if isinstance(body, dict)}
    assert sent == {episode.seed for episode in episodes}


@pytest.mark.slow  # a scripted server and two runner processes playing model calls
async def test_children_see_the_environment_the_parent_has_when_they_start(
    hotel: DomainPack, serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fork server is already running when the key is set: a fork of it alone would not
    # see the key, and the children would stop with MissingAPIKey.
    start_process_server()
    monkeypatch.setenv("POLICY_AGENT_TEST_CHILD_KEY", "sk-child")
    server = await serve(lookup_then_thanks())
    agent_model = {**model(server, "agent"), "api_key_env": "POLICY_AGENT_TEST_CHILD_KEY"}
    config = sim_config(
        agent={"model": agent_model},
        tasks=["cancel_free_window"],
        trials=2,
        concurrency=2,
        processes=2,
        out=str(tmp_path),
    )
    _, episodes = await simulate(config, hotel)
    assert sorted(e.trial for e in episodes) == [0, 1]
    assert [(e.error, e.totals["agent"].calls) for e in episodes] == [(None, 4), (None, 4)]


async def test_a_child_that_dies_leaves_its_episodes_for_resume(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = load_config(DEMO).model_copy(
        update={"out": tmp_path, "processes": 2, "concurrency": 2}
    )

    def first_child() -> int:
        child = multiprocessing.active_children()[0]
        assert child.pid is not None
        return child.pid

    with pytest.raises(WorkerProcessFailed, match=r"runner process \d of 2 stopped: exit code -9"):
        await simulate(config, hotel, observer=KillAfterFirstEpisode(first_child))
    [directory] = tmp_path.iterdir()
    reader = RunStore.open(directory)
    keys = [episode.key for episode in reader.read(Episode)]
    assert 0 < len(keys) < len(hotel.tasks) and len(set(keys)) == len(keys)
    assert reader.manifest.finished_at is None


async def test_a_child_that_cannot_start_says_why(hotel: DomainPack) -> None:
    config = sim_config()
    todo = plan(config, hotel)

    async def record(episode: Episode) -> None:
        raise AssertionError("no episode is played")

    with pytest.raises(
        WorkerProcessFailed, match=r"PackMismatch: the pack in .* is not the driver.s"
    ):
        await play_in_processes(
            config.as_json(),
            "not the hash",
            todo,
            RunTally(planned=0),
            record,
            processes=2,
            concurrency=2,
        )


def test_ctrl_c_stops_the_children_and_says_how_to_resume(tmp_path: Path) -> None:
    # The oracle's episodes take milliseconds; 2,000 trials keep the run busy long enough.
    code, stderr = ctrl_c_run([str(DEMO), "--trials", "2000", "--processes", "2"], tmp_path)
    assert code == 130, stderr
    [directory] = tmp_path.iterdir()
    done = len(RunStore.open(directory).read(Episode))
    assert stderr.splitlines()[-1] == (
        f"Interrupted: {done} of 48000 episodes are in {directory}. "
        f"Finish the run with: policy-agent run --resume {directory}"
    )
    assert "Traceback" not in stderr
