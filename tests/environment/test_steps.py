"""`steps`: several declarative ops in one tool call, in order, all or nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_agent.domain import load_pack
from policy_agent.environment import Environment, EpisodeEnvironment
from tests.domain._support import pack_data, problems, write_pack

REFILL: dict[str, Any] = {
    "name": "order_refill",
    "kind": "write",
    "parameters": {"prescription_id": {"type": "string"}},
    "implementation": {
        "steps": [
            {
                "op": "update",
                "table": "prescriptions",
                "key": "prescription_id",
                "preconditions": [
                    {"check": "record.refills_remaining > 0", "error": "No refills left."}
                ],
                "set": {"refills_remaining": "record.refills_remaining - 1"},
            },
            {
                "op": "create",
                "table": "refill_orders",
                "id_prefix": "RF",
                "preconditions": [
                    {
                        "check": "lookup('pharmacies', results[0].pharmacy).open",
                        "error": "Pharmacy {results[0].pharmacy} is closed.",
                    }
                ],
                "values": {"prescription_id": "prescription_id", "status": "'placed'"},
                "returns": "results[0]",
            },
        ]
    },
}
DATABASE = {
    "pharmacies": {"P1": {"open": True}, "P2": {"open": False}},
    "prescriptions": {
        "RX1": {"refills_remaining": 2, "pharmacy": "P1"},
        "RX2": {"refills_remaining": 1, "pharmacy": "P2"},
    },
    "refill_orders": {"RF1": {"prescription_id": "RX0", "status": "done"}},
}


def _episode(tmp_path: Path, tool: dict[str, Any]) -> EpisodeEnvironment:
    data = pack_data(tools=[tool], database=DATABASE, tasks=[])
    return Environment.from_pack(load_pack(write_pack(tmp_path, data))).new_episode()


def test_the_steps_run_in_order_and_later_ones_see_earlier_results(tmp_path: Path) -> None:
    episode = _episode(tmp_path, REFILL)
    outcome = episode.call("order_refill", {"prescription_id": "RX1"})
    expected = {"id": "RX1", "refills_remaining": 1, "pharmacy": "P1"}
    assert (outcome.error, outcome.value) == (False, expected)
    assert episode.database.get("prescriptions", "RX1")["refills_remaining"] == 1
    assert episode.database.get("refill_orders", "RF2") == {
        "prescription_id": "RX1",
        "status": "placed",
    }
    assert [(c.table, c.record_id) for c in outcome.changes] == [
        ("prescriptions", "RX1"),
        ("refill_orders", "RF2"),
    ]


def test_a_refusal_in_a_later_step_undoes_the_earlier_ones(tmp_path: Path) -> None:
    episode = _episode(tmp_path, REFILL)
    outcome = episode.call("order_refill", {"prescription_id": "RX2"})
    assert (outcome.error, outcome.content) == (True, "Error: Pharmacy P2 is closed.")
    assert episode.database.get("prescriptions", "RX2")["refills_remaining"] == 1
    assert episode.database.ids("refill_orders") == ["RF1"]


def test_validate_checks_each_step_and_gives_results_only_after_the_first(
    tmp_path: Path,
) -> None:
    steps = [
        {"op": "get", "table": "prescriptions", "key": "results[0].id"},
        {"op": "update", "table": "prescripions", "key": "prescription_id", "set": {}},
    ]
    tool = {**REFILL, "implementation": {"steps": steps}}
    data = pack_data(tools=[tool], database=DATABASE, tasks=[])
    assert problems(write_pack(tmp_path, data)) == [
        (
            "tools[0].implementation.steps[0].key",
            "unknown name `results`; known: args, false, now, null, prescription_id, true "
            "(at column 1 of: results[0].id)",
        ),
        (
            "tools[0].implementation.steps[1].table",
            "no table 'prescripions' in the database (did you mean 'prescriptions'?)",
        ),
    ]
