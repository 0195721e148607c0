"""Exports of episodes that start from a task's initial state: the history is marked as given."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from policy_agent.domain import load_pack
from policy_agent.export import export_run
from policy_agent.report import load_run
from policy_agent.simulation import Simulation, SimulationConfig
from policy_agent.trajectory import RunStore
from tests.report._support import copy_hotel

TASK: dict[str, Any] = {
    "id": "resume_cancel",
    "user_scenario": {"instructions": "Cancel booking B11319.", "script": ["Thanks. ###STOP###"]},
    "initial_state": {
        "database": {"guests": {"G90974": {"note": "VIP"}}},
        "actions": [{"name": "get_guest_details", "arguments": {"guest_id": "G90974"}}],
        "messages": [
            {"role": "user", "content": "Please cancel booking B11319."},
            {
                "role": "assistant",
                "tool_call": {"name": "get_booking_details", "arguments": {"booking_id": "B11319"}},
            },
        ],
    },
    "evaluation_criteria": {
        "actions": [
            {"action_id": "c", "name": "cancel_booking", "arguments": {"booking_id": "B11319"}}
        ],
        "reward_basis": ["DB"],
    },
    # The script says no yes; the oracle would ask for one before cancelling.
    "rules": {"disable": ["explicit_yes_before_changes"]},
}


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A run of the oracle on a hotel pack whose one task starts from a history."""
    folder = tmp_path_factory.mktemp("initial")
    pack_folder = copy_hotel(folder)
    (pack_folder / "tasks.yaml").write_text(yaml.safe_dump([TASK]), encoding="utf-8")
    config = SimulationConfig.model_validate(
        {
            "domain": str(pack_folder),
            "agent": {"kind": "oracle"},
            "user": {"kind": "scripted"},
            "out": str(folder / "runs"),
        }
    )
    simulation = Simulation(config, load_pack(pack_folder))
    store = RunStore.create(config.out, simulation.manifest())

    async def play() -> None:
        try:
            await simulation.run(store)
        finally:
            store.close()
            await simulation.aclose()

    asyncio.run(play())
    return store.directory, pack_folder


def _export(run: tuple[Path, Path], format: str) -> str:
    out = io.StringIO()
    export_run(load_run(run[0]), load_pack(run[1]), format, out, include_oracle=True)
    return out.getvalue()


def test_the_tau2_task_carries_its_initial_state(run: tuple[Path, Path]) -> None:
    results = json.loads(_export(run, "tau2"))
    [task] = results["tasks"]
    state = task["initial_state"]
    assert state["initialization_data"] == {
        "agent_data": {"guests": {"G90974": {"note": "VIP"}}},
        "user_data": None,
    }
    assert state["initialization_actions"] == [
        {
            "env_type": "assistant",
            "func_name": "get_guest_details",
            "arguments": {"guest_id": "G90974"},
        }
    ]
    history = state["message_history"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert history[1]["tool_calls"][0]["name"] == "get_booking_details"
    assert "B11319" in history[2]["content"]
    assert all(m["turn_idx"] is None and m["timestamp"] is None for m in history)
    # The simulation's messages begin with the same history, as tau2's trajectories do.
    [simulation] = results["simulations"]
    played = simulation["messages"]
    assert [m["content"] for m in played[:3]] == [m["content"] for m in history]
    assert simulation["reward_info"]["reward"] == 1.0


def test_sft_lines_say_how_many_messages_were_given(run: tuple[Path, Path]) -> None:
    [line] = [json.loads(text) for text in _export(run, "sft").splitlines()]
    assert line["given_messages"] == 3
    messages = line["messages"]
    assert messages[1]["content"] == "Please cancel booking B11319."
    assert messages[2]["tool_calls"][0]["function"]["name"] == "get_booking_details"
    assert messages[4]["tool_calls"][0]["function"]["name"] == "cancel_booking"


def test_a_task_none_of_whose_episodes_started_still_has_its_history(
    run: tuple[Path, Path],
) -> None:
    loaded = load_run(run[0])
    [episode] = loaded.episodes
    crashed = episode.model_copy(update={"messages": [], "initial_messages": 0})
    out = io.StringIO()
    export_run(loaded.with_episodes([crashed]), load_pack(run[1]), "tau2", out)
    [task] = json.loads(out.getvalue())["tasks"]
    history = task["initial_state"]["message_history"]
    assert [m["role"] for m in history] == ["user", "assistant", "tool"]
    assert "B11319" in history[2]["content"]
