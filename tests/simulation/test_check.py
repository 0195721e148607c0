"""`check_pack`: the oracle plays each task; a task it cannot pass says what and why."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from policy_agent.domain import load_pack
from policy_agent.simulation import check_pack
from tests.domain._support import write_pack

LEND = {
    "name": "lend_book",
    "kind": "write",
    "parameters": {
        "book_id": {"type": "string", "description": "The book's id."},
        "member": {"type": "string", "description": "The member's name."},
    },
    "implementation": {
        "op": "create",
        "table": "loans",
        "id_prefix": "L",
        "preconditions": [
            {"check": "count('loans', 'member', member) < 1", "error": "{member} has a book."}
        ],
        "values": {"book": "book_id", "member": "member"},
    },
}


def _pack(tmp_path: Path, task: dict[str, Any]) -> Any:
    data = {
        "name": "library",
        "policy": "Lend books; at most 1 per member.",
        "tools": [LEND],
        "database": {
            "books": {"BK1": {"title": "Dune"}},
            "loans": {"L1": {"book": "BK0", "member": "ada"}},
        },
        "tasks": [{"id": "t", "user_scenario": {"instructions": "Borrow BK1."}, **task}],
    }
    return load_pack(write_pack(tmp_path / "pack", data))


async def test_an_expected_action_the_pack_refuses_fails_with_the_refusal(tmp_path: Path) -> None:
    action = {
        "action_id": "a",
        "name": "lend_book",
        "arguments": {"book_id": "BK1", "member": "ada"},
    }
    pack = _pack(tmp_path, {"evaluation_criteria": {"actions": [action]}})
    [result] = await check_pack(pack)
    assert result.passed is False
    assert result.problems == (
        "the expected action lend_book(book_id='BK1', member='ada') was refused: "
        "Error: ada has a book.",
    )


async def test_an_unmet_env_assertion_names_its_check_and_why(tmp_path: Path) -> None:
    action = {
        "action_id": "a",
        "name": "lend_book",
        "arguments": {"book_id": "BK1", "member": "bo"},
    }
    assertions = [
        {"check": "count('loans', 'member', 'bo') == 2", "message": "Bo has two books."},
        {"check": "lookup('loans', 'L9').member == 'bo'"},
    ]
    criteria = {
        "actions": [action],
        "env_assertions": assertions,
        "reward_basis": ["ENV_ASSERTION"],
    }
    [result] = await check_pack(_pack(tmp_path, {"evaluation_criteria": criteria}))
    assert result.passed is False
    assert result.problems == (
        "env assertions not met: Bo has two books. (count('loans', 'member', 'bo') == 2) does not "
        "hold at the end; could not be decided: env assertion \"lookup('loans', 'L9').member == "
        "'bo'\": `lookup('loans', 'L9')` is null, which has no field `member`",
    )
