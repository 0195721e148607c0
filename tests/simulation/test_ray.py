"""A run on a Ray cluster: actors play, the driver alone writes, episodes as in one process.

These need Ray (the `ray` extra) and a cluster at RAY_ADDRESS (`ray start --head`); they carry
the `ray` marker, left out of the fast suite and run as their own CI stage (.ci/run).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from policy_agent.domain import DomainPack
from policy_agent.records import Episode
from policy_agent.simulation import RayUnavailable, RunTally, Simulation, load_config
from policy_agent.trajectory import RunStore
from tests._models import closed_port_url
from tests._waiting import until, wait_until
from tests.simulation._support import (
    DEMO,
    REPOSITORY,
    KillAfterFirstEpisode,
    ctrl_c_run,
    episodes_written,
    simulate,
)
from tests.simulation.test_processes import content

pytest.importorskip("ray")
pytestmark = pytest.mark.ray

ADDRESS = os.environ.get("RAY_ADDRESS", "")
needs_cluster = pytest.mark.skipif(not ADDRESS, reason="no Ray cluster at RAY_ADDRESS")


def actor_processes() -> list[int]:
    """The process ids of this machine's episode workers (Ray titles them by their class)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            title = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if entry.name.isdigit() and title.startswith(b"ray::EpisodeWorker"):
            found.append(int(entry.name))
    return found


def raylets() -> set[int]:
    """The process ids of this machine's raylets (each node's, the parent of its workers)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            program = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
        except OSError:
            continue
        if entry.name.isdigit() and program.endswith(b"/raylet"):
            found.add(int(entry.name))
    return found


def parent(pid: int) -> int:
    """A process's parent's id (Linux /proc)."""
    return int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])


def on_ray(**fields: object) -> dict[str, object]:
    """The config fields of a run on two workers of the cluster at RAY_ADDRESS."""
    return {"executor": "ray", "ray_address": ADDRESS, "processes": 2, **fields}


@needs_cluster
async def test_two_ray_workers_play_the_demo_as_one_process_does(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = load_config(DEMO).model_copy(update={"trials": 2})
    one = config.model_copy(update={"out": tmp_path / "one"})
    ray = config.model_copy(update={"out": tmp_path / "ray", **on_ray()})
    _, alone = await simulate(one, hotel)
    directory, spread = await simulate(ray, hotel)
    keys = [episode.key for episode in spread]
    assert len(keys) == len(set(keys)) == 2 * len(hotel.tasks)
    assert {e.key: content(e) for e in spread} == {e.key: content(e) for e in alone}
    manifest = RunStore.open(directory).manifest
    assert manifest.finished_at is not None and "executor" in manifest.config_hash_excludes


class ActorsPlaying:
    """A run observer keeping the process ids of this machine's episode workers as each
    episode is recorded."""

    def __init__(self) -> None:
        self.seen: set[int] = set()

    def started(self, tally: RunTally) -> None:
        """Nothing to do."""

    def finished(self, episode: Episode) -> None:
        self.seen |= set(actor_processes())

    def stopped(self) -> None:
        """Nothing to do."""


@needs_cluster
async def test_the_ray_workers_start_as_the_run_is_made_and_end_when_it_closes_unplayed(
    hotel: DomainPack,
) -> None:
    simulation = Simulation(load_config(DEMO).model_copy(update=on_ray()), hotel)
    try:
        await until(lambda: len(actor_processes()) == 2, "the two Ray workers, before play")
    finally:
        await simulation.aclose()
    await until(lambda: not actor_processes(), "the unplayed Ray workers' end")


@needs_cluster
async def test_the_run_plays_on_the_ray_workers_started_as_it_was_made(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = load_config(DEMO).model_copy(update={"out": tmp_path, **on_ray()})
    simulation = Simulation(config, hotel)
    await until(lambda: len(actor_processes()) == 2, "the two Ray workers, before play")
    before = set(actor_processes())
    observer = ActorsPlaying()
    _, episodes = await simulate(config, hotel, simulation, observer=observer)
    assert len(episodes) == len(hotel.tasks)
    assert observer.seen == before
    await until(lambda: not actor_processes(), "the Ray workers' end with the run")


@needs_cluster
async def test_a_killed_ray_worker_loses_no_episode(hotel: DomainPack, tmp_path: Path) -> None:
    # 24 tasks x 21 trials = 504 episodes: issue #17's "500-episode run with a worker killed".
    config = load_config(DEMO).model_copy(update={"trials": 21})
    _, alone = await simulate(config.model_copy(update={"out": tmp_path / "one"}), hotel)
    assert len(alone) == 504

    observer = KillAfterFirstEpisode(lambda: actor_processes()[0])
    ray = config.model_copy(update={"out": tmp_path / "ray", **on_ray(concurrency=8)})
    directory, spread = await simulate(ray, hotel, observer=observer)
    assert len(observer.killed) == 1
    assert Counter(e.key for e in spread) == Counter(e.key for e in alone)
    assert set(Counter(e.key for e in spread).values()) == {1}
    assert {e.key: content(e) for e in spread} == {e.key: content(e) for e in alone}
    assert {e.key: e.reward for e in spread} == {e.key: e.reward for e in alone}
    assert RunStore.open(directory).manifest.finished_at is not None


@needs_cluster
@pytest.mark.slow
async def test_a_run_without_an_address_starts_its_own_ray_instead_of_joining_one(
    hotel: DomainPack, tmp_path: Path
) -> None:
    # RAY_ADDRESS names a running cluster: Ray's own default would join it.
    cluster = raylets()
    assert cluster

    class ActorParents:
        def __init__(self) -> None:
            self.parents: set[int] = set()

        def started(self, tally: RunTally) -> None:
            """Nothing to do."""

        def finished(self, episode: Episode) -> None:
            self.parents |= {parent(pid) for pid in actor_processes()}

        def stopped(self) -> None:
            """Nothing to do."""

    observer = ActorParents()
    config = load_config(DEMO).model_copy(
        update={"trials": 1, "out": tmp_path, **on_ray(ray_address=None)}
    )
    _, episodes = await simulate(config, hotel, observer=observer)
    assert len(episodes) == len(hotel.tasks)
    assert observer.parents
    assert not observer.parents & cluster


def run_command(*arguments: str) -> list[str]:
    return [sys.executable, "-m", "policy_agent", "run", *arguments, "--quiet"]


@needs_cluster
def test_a_killed_driver_resumes_with_every_episode_once(tmp_path: Path) -> None:
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
    trials = 40
    driver = subprocess.Popen(
        run_command(
            str(DEMO),
            "--trials",
            str(trials),
            "--executor",
            "ray",
            "--ray-address",
            ADDRESS,
            "--processes",
            "2",
            "--out",
            str(tmp_path),
        ),
        cwd=REPOSITORY,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: episodes_written(tmp_path), "the driver's first episode")
        driver.send_signal(signal.SIGKILL)
    finally:
        driver.wait()
        assert driver.stderr is not None
        driver.stderr.close()
    [directory] = tmp_path.iterdir()
    before = len(RunStore.open(directory).read(Episode))
    resumed = subprocess.run(
        run_command("--resume", str(directory)),
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert resumed.returncode == 0, resumed.stderr
    reader = RunStore.open(directory)
    keys = Counter(episode.key for episode in reader.read(Episode))
    tasks = len(keys) // trials
    assert 0 < before < len(keys) == 24 * trials == tasks * trials
    assert set(keys.values()) == {1}
    assert reader.manifest.finished_at is not None


async def test_an_unreachable_cluster_fails_at_once_with_its_address(
    hotel: DomainPack, tmp_path: Path
) -> None:
    address = closed_port_url().removeprefix("http://").removesuffix("/v1")
    config = load_config(DEMO).model_copy(
        update={"out": tmp_path, "executor": "ray", "ray_address": address}
    )
    with pytest.raises(RayUnavailable, match=f"cannot reach the Ray cluster at {address}: "):
        await simulate(config, hotel)


def test_a_driver_without_the_clusters_token_is_told_how_to_get_it(tmp_path: Path) -> None:
    # Ray reads RAY_AUTH_MODE once per process, so the driver is a process of its own; its
    # home has no ~/.ray/auth_token. Ray refuses before it speaks to the cluster: a listening
    # socket stands in for the head, so that the driver gets past its reachability probe.
    with socket.create_server(("127.0.0.1", 0)) as head:
        address = f"127.0.0.1:{head.getsockname()[1]}"
        env = {
            name: value
            for name, value in os.environ.items()
            if name not in ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
        }
        result = subprocess.run(
            [
                *(sys.executable, "-m", "policy_agent", "run", str(DEMO), "--executor", "ray"),
                *("--ray-address", address, "--out", str(tmp_path / "runs"), "--quiet"),
            ],
            cwd=REPOSITORY,
            env={**env, "HOME": str(tmp_path), "RAY_AUTH_MODE": "token"},
            capture_output=True,
            text=True,
            timeout=600,
        )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        f"the Ray cluster at {address} uses token authentication and this driver has no token: "
        "copy the head's ~/.ray/auth_token here, or set RAY_AUTH_TOKEN to it"
    ) in result.stderr


@needs_cluster
def test_ctrl_c_stops_the_ray_workers_and_says_how_to_resume(tmp_path: Path) -> None:
    arguments = [str(DEMO), "--trials", "400", "--executor", "ray", "--quiet"]
    code, stderr = ctrl_c_run([*arguments, "--ray-address", ADDRESS, "--processes", "2"], tmp_path)
    assert code == 130, stderr
    [directory] = tmp_path.iterdir()
    assert stderr.splitlines()[-1].endswith(
        f"Finish the run with: policy-agent run --resume {directory}"
    )
    wait_until(lambda: not actor_processes(), "the Ray workers' end")
