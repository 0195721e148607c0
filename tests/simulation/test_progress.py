"""The run's tally and progress display, and what an interrupted run leaves behind."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console

from policy_agent.domain import DomainPack
from policy_agent.records import Episode, TerminationReason
from policy_agent.simulation import ProgressDisplay, RunTally, Simulation
from policy_agent.trajectory import RunStore
from tests._waiting import ctrl_c_when, until
from tests.simulation._support import DEMO, REPOSITORY, episodes_written, play_one, sim_config


async def test_the_tally_keeps_infrastructure_failures_out_of_the_pass_rate(
    hotel: DomainPack,
) -> None:
    solved = await play_one(sim_config(), hotel, "cancel_free_window")
    cut = await play_one(sim_config(max_steps=3), hotel, "cancel_free_window")
    broken = cut.model_copy(update={"termination_reason": TerminationReason.INFRASTRUCTURE_ERROR})
    tally = RunTally(planned=5, already_done=1)
    assert tally.pass_text() == "pass -"
    for episode in (solved, cut, broken):
        tally.add(episode)
    assert (tally.done, tally.scored, tally.passed, tally.infrastructure) == (4, 2, 1, 1)
    assert tally.summary() == (
        "4/5 episodes; pass 1/2 (50.0%); infrastructure failures 1 (runner unrecorded 1); "
        "ends: infrastructure_error 1, max_steps 1, user_stop 1"
    )


async def test_the_display_shows_done_pass_rate_and_tokens(hotel: DomainPack) -> None:
    episode = await play_one(sim_config(), hotel, "cancel_free_window")
    output = io.StringIO()
    console = Console(file=output, force_terminal=True, width=150, color_system=None)
    display = ProgressDisplay("20260101-000000-hotel-abcdef", console=console)
    tally = RunTally(planned=3, already_done=1)
    display.started(tally)
    tally.add(episode)
    tally.agent_tokens = 500
    display.finished(episode)
    display.stopped()
    shown = output.getvalue()  # the last render is the final state
    assert "20260101-000000-hotel-abcdef" in shown
    assert "2/3" in shown
    assert "pass 1/1 (100.0%)  infra 0" in shown
    assert "tok/s" in shown and "ETA" in shown


async def test_a_cancelled_run_keeps_every_finished_episode(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = sim_config(out=str(tmp_path), trials=200, concurrency=4)
    simulation = Simulation(config, hotel)
    store = RunStore.create(tmp_path, simulation.manifest())
    running = asyncio.create_task(simulation.run(store))
    await until(lambda: store.episodes_path.stat().st_size > 0, "an episode")
    running.cancel()
    with pytest.raises(asyncio.CancelledError):
        await running
    store.close()
    kept = RunStore.open(store.directory)
    episodes = kept.read(Episode)
    assert 0 < len(episodes) < len(simulation.episodes)
    assert kept.manifest.finished_at is None


def test_ctrl_c_stops_cleanly_and_says_how_to_resume(tmp_path: Path) -> None:
    # The oracle's episodes take milliseconds; 2,000 trials keep the run busy long enough.
    command = [sys.executable, "-m", "policy_agent", "run", str(DEMO), "--trials", "2000"]
    process = subprocess.Popen(
        [*command, "--out", str(tmp_path)],
        cwd=REPOSITORY,
        env={**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stderr = ctrl_c_when(process, lambda: episodes_written(tmp_path), "an episode")
    assert process.returncode == 130
    [directory] = tmp_path.iterdir()
    done = len(RunStore.open(directory).read(Episode))
    assert stderr.splitlines()[-1] == (
        f"Interrupted: {done} of 48000 episodes are in {directory}. "
        f"Finish the run with: policy-agent run --resume {directory}"
    )
    assert "Traceback" not in stderr
