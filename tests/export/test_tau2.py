"""The tau2 export: a tau2-bench `Results` file with tau2's fields only (TAU2-NOTES.md §2)."""

from __future__ import annotations

import io
import json
import shutil
import typing
from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import EnvAssertion, load_pack
from policy_agent.export import (
    RewardFilter,
    Tau2Results,
    UnknownTasks,
    export_run,
    tau2_termination,
)
from policy_agent.export._tau2 import _assertion
from policy_agent.export._tau2_models import Tau2TerminationReason
from policy_agent.records import TerminationReason
from policy_agent.report import load_run
from tests.export.conftest import ModelRun
from tests.report._support import HOTEL, STRICT_TASK, copy_hotel, mixed_episodes, write_run

SIMULATION_FIELDS = [
    "id",
    "task_id",
    "timestamp",
    "start_time",
    "end_time",
    "duration",
    "termination_reason",
    "agent_cost",
    "user_cost",
    "reward_info",
    "messages",
    "trial",
    "seed",
    "skipped",
]
PARTICIPANT_FIELDS = {
    "role",
    "content",
    "tool_calls",
    "turn_idx",
    "timestamp",
    "cost",
    "usage",
    "raw_data",
}
TOOL_FIELDS = {"id", "role", "content", "requestor", "error", "turn_idx", "timestamp"}
REWARD_FIELDS = {
    "reward",
    "db_check",
    "env_assertions",
    "action_checks",
    "nl_assertions",
    "communicate_checks",
    "reward_basis",
    "reward_breakdown",
    "info",
}


def tau2(run: Path, pack: Path = HOTEL, reward_filter: RewardFilter | None = None) -> Any:
    out = io.StringIO()
    export_run(load_run(run), load_pack(pack), "tau2", out, reward_filter=reward_filter)
    text = out.getvalue()
    Tau2Results.model_validate_json(text)
    return json.loads(text)


def test_the_demo_is_a_results_file_of_tau2s_fields_only(demo: Path) -> None:
    results = tau2(demo)
    assert list(results) == ["timestamp", "info", "tasks", "simulations"]
    assert len(results["tasks"]) == len(results["simulations"]) == 24
    info = results["info"]
    assert (info["num_trials"], info["max_steps"], info["max_errors"]) == (1, 100, 10)
    assert info["agent_info"] == {"implementation": "oracle", "llm": None, "llm_args": None}
    assert info["environment_info"]["policy"] == load_pack(HOTEL).policy
    for simulation in results["simulations"]:
        assert list(simulation) == SIMULATION_FIELDS
        assert set(simulation["reward_info"]) == REWARD_FIELDS
        assert simulation["termination_reason"] == "user_stop"  # transfers included
        assert simulation["reward_info"]["reward"] == 1.0 and simulation["skipped"] is False
        for message in simulation["messages"]:
            expected = TOOL_FIELDS if message["role"] == "tool" else PARTICIPANT_FIELDS
            assert set(message) == expected
        assert [m["turn_idx"] for m in simulation["messages"]] == list(
            range(len(simulation["messages"]))
        )


def test_tool_messages_answer_the_call_before_them(demo: Path) -> None:
    [cribs] = [s for s in tau2(demo)["simulations"] if s["task_id"] == STRICT_TASK]
    messages = cribs["messages"]
    tools = [i for i, m in enumerate(messages) if m["role"] == "tool"]
    assert tools
    for index in tools:
        [call] = messages[index - 1]["tool_calls"]
        assert messages[index]["id"] == call["id"] and call["requestor"] == "assistant"
    assert messages[2]["tool_calls"] == [
        {
            "id": "call_1",
            "name": "get_guest_details",
            "arguments": {"guest_id": "G90920"},
            "requestor": "assistant",
        }
    ]


def test_tasks_and_checks_read_as_tau2s(demo: Path) -> None:
    results = tau2(demo)
    [task] = [t for t in results["tasks"] if t["id"] == STRICT_TASK]
    criteria = task["evaluation_criteria"]
    assert criteria["reward_basis"] == ["DB", "ENV_ASSERTION", "COMMUNICATE"]
    assert criteria["env_assertions"][0] == {
        "env_type": "assistant",
        "func_name": "check",
        "arguments": {"expression": "lookup('bookings', 'B11246').cribs == 3"},
        "assert_value": True,
        "message": "The three cribs are on the booking.",
    }
    assert task["user_scenario"]["instructions"]["domain"] == "hotel"
    assert set(task) == {
        "id",
        "description",
        "user_scenario",
        "ticket",
        "initial_state",
        "evaluation_criteria",
    }
    [cribs] = [s for s in results["simulations"] if s["task_id"] == STRICT_TASK]
    reward = cribs["reward_info"]
    assert reward["db_check"] == {"db_match": True, "db_reward": 1.0}
    assert reward["env_assertions"][0]["met"] is True
    assert reward["reward_breakdown"]["ENV_ASSERTION"] == 1.0
    # Nothing expected is null, as tau2 tells it (its DB component then scores 1).
    transfer = next(t for t in results["tasks"] if t["id"] == "complaint_transfer")
    assert transfer["evaluation_criteria"]["env_assertions"] is None


def test_every_termination_reason_has_a_tau2_name() -> None:
    names = set(typing.get_args(Tau2TerminationReason))
    mapping = {reason.value: tau2_termination(reason) for reason in TerminationReason}
    assert set(mapping.values()) <= names
    assert mapping == {
        "user_stop": "user_stop",
        "transfer": "user_stop",
        "out_of_scope": "user_stop",
        "max_steps": "max_steps",
        "too_many_errors": "too_many_errors",
        "agent_error": "agent_error",
        "user_error": "user_error",
        "infrastructure_error": "agent_error",
        "timeout": "max_steps",
    }


def test_failures_are_kept_as_tau2_keeps_them(tmp_path: Path) -> None:
    names = (
        "accessible_room_change",
        "amenities_standard_room",
        "cancel_free_window",
        "cancel_late_one_night_fee",
        "complaint_transfer",
    )
    mixed = write_run(tmp_path, mixed_episodes(names), trials=2)
    a, b, c, d, e = names
    simulations = {(s["task_id"], s["trial"]): s for s in tau2(mixed)["simulations"]}
    assert len(simulations) == 10
    infrastructure = simulations[(c, 1)]
    assert (infrastructure["termination_reason"], infrastructure["skipped"]) == (
        "agent_error",
        True,
    )
    assert simulations[(d, 1)]["reward_info"]["info"] == {"note": "judge timed out"}
    assert simulations[(e, 1)]["reward_info"] is None
    assert simulations[(b, 1)]["termination_reason"] == "max_steps"
    assert simulations[(a, 0)]["user_cost"] == 0.001 and simulations[(a, 0)]["agent_cost"] is None
    only = tau2(mixed, reward_filter=RewardFilter(only_success=True))["simulations"]
    assert len(only) == 4


def test_model_turns_carry_their_usage(model_runs: dict[str, ModelRun]) -> None:
    [simulation] = tau2(model_runs["completions"].directory)["simulations"]
    usages = [m["usage"] for m in simulation["messages"] if m["role"] == "assistant"]
    # The greeting was no model's; every later assistant message was (the scripted server counts
    # tokens by whitespace, so each is positive).
    assert usages[0] is None
    assert all(u["prompt_tokens"] > 0 and u["completion_tokens"] > 0 for u in usages[1:])


def test_ids_are_stable_across_exports(demo: Path) -> None:
    first = [s["id"] for s in tau2(demo)["simulations"]]
    assert first == [s["id"] for s in tau2(demo)["simulations"]]
    assert len(set(first)) == len(first)


def test_a_pack_without_the_runs_tasks_is_refused(demo: Path, tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path)
    tasks = pack / "tasks.yaml"
    text = tasks.read_text(encoding="utf-8")
    tasks.write_text(text.replace(f"- id: {STRICT_TASK}", "- id: renamed"), encoding="utf-8")
    with pytest.raises(UnknownTasks, match=STRICT_TASK):
        tau2(demo, pack)


def test_a_python_assertion_keeps_tau2s_shape() -> None:
    assertion = EnvAssertion(
        python="tools/hotel.py:booking_is_open",
        arguments={"booking_id": "B11246"},
        assert_value=False,
        env_type="user",
        message="Still open.",
    )
    assert _assertion(assertion).model_dump() == {
        "env_type": "user",
        "func_name": "booking_is_open",
        "arguments": {"booking_id": "B11246"},
        "assert_value": False,
        "message": "Still open.",
    }


def test_the_guidelines_named_are_the_ones_the_user_model_read(demo: Path, tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path)
    domain = pack / "domain.yaml"
    domain.write_text(domain.read_text() + 'user_simulator:\n  guidelines: "Speak briefly."\n')
    run = tmp_path / "run"
    shutil.copytree(demo, run)
    manifest = json.loads((run / "run.json").read_text())
    manifest["config"]["user"] = {"kind": "llm", "model": {"model": "hosted_vllm/user"}}
    (run / "run.json").write_text(json.dumps(manifest))

    info = tau2(run, pack)["info"]

    assert info["user_info"]["global_simulation_guidelines"] == "Speak briefly."
