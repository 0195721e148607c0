"""One executor interface: what a worker elsewhere (child process, Ray actor) plays on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_agent.domain import DomainPack
from policy_agent.simulation import (
    ConfigError,
    Overrides,
    PackMismatch,
    apply_overrides,
    executor_for,
    load_config,
)
from policy_agent.simulation._executor import (
    InProcess,
    ProcessPool,
    RayCluster,
    worker_simulation,
)
from policy_agent.simulation._ray import CONFIG_FILE, runtime_folder
from tests.simulation._support import DEMO, simulation_of


def test_the_runtime_folder_carries_the_pack_its_tools_and_the_config(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = load_config(DEMO).model_copy(update={"executor": "ray", "processes": 2})
    runtime_folder(config.as_json(), hotel, tmp_path)
    shipped = json.loads((tmp_path / CONFIG_FILE).read_text())
    assert shipped["domain"] == "domains/hotel" and shipped["executor"] == "ray"
    assert hotel.python_files == ("tools/hotel.py",)
    assert (tmp_path / "tools" / "hotel.py").read_bytes() == (
        hotel.repository / "tools" / "hotel.py"
    ).read_bytes()
    # A worker whose working dir is the folder plays the driver's pack, hash for hash.
    worker = worker_simulation(
        shipped, hotel.content_hash, concurrency=3, domain=tmp_path / shipped["domain"]
    )
    assert worker.pack.content_hash == hotel.content_hash
    assert (worker.config.concurrency, worker.config.executor) == (3, "local")
    assert [p.seed for p in worker.episodes] == [
        p.seed for p in simulation_of(config, hotel).episodes
    ]


def test_a_worker_whose_pack_differs_refuses_to_start(hotel: DomainPack, tmp_path: Path) -> None:
    config = load_config(DEMO)
    runtime_folder(config.as_json(), hotel, tmp_path)
    tasks = tmp_path / "domains" / "hotel" / "tasks.yaml"
    tasks.write_text(tasks.read_text().replace("Hi", "Hello", 1))
    with pytest.raises(PackMismatch, match=r"the pack in .* is not the driver's \(hash "):
        worker_simulation(
            config.as_json(), hotel.content_hash, concurrency=1, domain=tmp_path / "domains/hotel"
        )


def test_the_config_chooses_the_executor(hotel: DomainPack) -> None:
    config = load_config(DEMO)
    simulation = simulation_of(config, hotel)
    todo = simulation.episodes
    assert isinstance(executor_for(simulation, todo), InProcess)
    two = simulation_of(config.model_copy(update={"processes": 2}), hotel)
    assert isinstance(executor_for(two, todo), ProcessPool)
    assert isinstance(executor_for(two, todo[:1]), InProcess)
    ray = apply_overrides(config, Overrides(executor="ray", ray_address="127.0.0.1:6379"))
    assert isinstance(executor_for(simulation_of(ray, hotel), todo[:1]), RayCluster)


def test_a_ray_address_without_the_ray_executor_is_refused() -> None:
    with pytest.raises(ConfigError, match="ray_address is for `executor: ray`"):
        apply_overrides(load_config(DEMO), Overrides(ray_address="127.0.0.1:6379"))


def test_a_ray_run_can_resume_locally() -> None:
    ray = apply_overrides(load_config(DEMO), Overrides(executor="ray", ray_address="h:6379"))
    local = apply_overrides(ray, Overrides(executor="local"))
    assert (local.executor, local.ray_address) == ("local", None)
