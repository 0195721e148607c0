"""Fixture runs shared by the replay's tests: the four hotel episodes, and the real demo run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import load_pack
from policy_agent.simulation import Simulation, load_config
from policy_agent.trajectory import RunStore
from tests.tui._runs import HOTEL, write_run

DEMO = Path(__file__).resolve().parents[2] / "simulations" / "hotel-demo.yaml"


@pytest.fixture(scope="session")
def fixture_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The four fixture episodes (`tests/tui/_runs.py`) as a finished run; read it, never write
    (its readers may leave the `episodes.index` they keep beside it)."""
    return write_run(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's demo (`simulations/hotel-demo.yaml`: the oracle agent, the scripted user),
    run once for the session."""
    import asyncio

    config = load_config(DEMO).model_copy(update={"out": tmp_path_factory.mktemp("demo")})
    simulation = Simulation(config, load_pack(HOTEL))
    store = RunStore.create(config.out, simulation.manifest())

    async def run() -> None:
        try:
            await simulation.run(store)
        finally:
            store.close()
            await simulation.aclose()

    asyncio.run(run())
    return store.directory
