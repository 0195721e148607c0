"""A task's initial state (data, actions, message history) and the pack's sync hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import DomainPack, load_pack
from policy_agent.environment import Environment, InitialStateError, merge_json
from tests.domain._support import pack_data, tool, write_pack

_TOOLS_PY = '''
from policy_agent.environment import ToolError


def lend(db, book_id, member):
    book = db.get("books", book_id)
    if book.get("lent_to"):
        raise ToolError(f"{book_id} is already lent")
    db.update("books", book_id, lent_to=member)
    return {"book_id": book_id, "lent_to": member}


def shelve(db, title):
    db.insert("books", f"BK{len(db.ids('books')) + 1}", {"title": title})


def mirror(db, user_db):
    """The user's card shows how many books they have (tau2's sync_tools, in small)."""
    lent = sum(1 for _, book in db.records("books") if book.get("lent_to"))
    user_db.update("card", "card", books=lent)


def broken_mirror(db, user_db):
    user_db.update("card", "card", books=1)
    raise RuntimeError("the card reader is broken")
'''


def _pack(tmp_path: Path, initial_state: dict[str, Any], **changes: Any) -> DomainPack:
    data = pack_data(
        **{"sync": "tools.py:mirror", **changes},
        tools=[
            tool("get_book", {"op": "get", "table": "books", "key": "book_id"}, book_id=None),
            tool("lend", {"python": "tools.py:lend"}, book_id=None, member=None),
        ],
        user_tools=[tool("read_card", {"op": "get", "table": "card", "key": "'card'"})],
        database={
            "books": {
                "BK1": {"title": "Dune", "meta": {"pages": 412, "tags": ["sf"]}},
                "BK2": {"title": "Emma"},
            }
        },
        user_database={"card": {"card": {"books": 0}}},
        tasks=[
            {
                "id": "t1",
                "user_scenario": {"instructions": "Borrow Emma."},
                "initial_state": initial_state,
            }
        ],
    )
    return load_pack(write_pack(tmp_path, data, {"tools.py": _TOOLS_PY}))


def _start(pack: DomainPack) -> Any:
    return Environment.from_pack(pack).new_episode(pack.task("t1"))


def test_data_is_merged_as_tau2_merges_it(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        {
            "database": {
                "books": {
                    "BK1": {"meta": {"pages": 500}},  # nested mappings merge
                    "BK3": {"title": "Ulysses"},  # a new record is added
                }
            },
            "user_database": {"card": {"card": {"name": "Ada"}}},
        },
    )
    episode = _start(pack)
    assert episode.database.get("books", "BK1") == {
        "title": "Dune",
        "meta": {"pages": 500, "tags": ["sf"]},
    }
    assert episode.database.get("books", "BK3") == {"title": "Ulysses"}
    # The sync hook ran once the state was set: nothing is lent, so the card says 0.
    assert episode.user_database.get("card", "card") == {"books": 0, "name": "Ada"}


def test_merge_json_replaces_anything_but_mappings() -> None:
    base: dict[str, Any] = {"a": {"b": 1, "c": [1, 2]}, "d": 1}
    assert merge_json(base, {"a": {"c": [3]}, "d": {"x": 1}}) == {
        "a": {"b": 1, "c": [3]},
        "d": {"x": 1},
    }
    assert base == {"a": {"b": 1, "c": [1, 2]}, "d": 1}


def test_actions_run_in_order_and_the_sync_hook_follows_each(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        {
            "actions": [
                {"python": "tools.py:shelve", "arguments": {"title": "Ulysses"}},
                {"name": "lend", "arguments": {"book_id": "BK3", "member": "ada"}},
            ]
        },
    )
    episode = _start(pack)
    assert episode.database.get("books", "BK3") == {"title": "Ulysses", "lent_to": "ada"}
    assert episode.user_database.get("card", "card") == {"books": 1}
    # The episode starts there: its diff and its initial state are measured from it.
    assert episode.database.diff(episode.initial_database) == []
    assert episode.history == ()


def test_a_failing_action_names_the_task_and_the_step(tmp_path: Path) -> None:
    pack = _pack(
        tmp_path,
        {
            "actions": [
                {"name": "lend", "arguments": {"book_id": "BK1", "member": "ada"}},
                {"name": "lend", "arguments": {"book_id": "BK1", "member": "bob"}},
            ]
        },
    )
    with pytest.raises(InitialStateError) as error:
        _start(pack)
    assert str(error.value) == (
        "task 't1': initial_state.actions[1] lend (assistant) failed: Error: BK1 is already lent"
    )


def test_a_function_that_raises_names_the_step(tmp_path: Path) -> None:
    action = {"python": "tools.py:lend", "arguments": {"book_id": "BK9", "member": "ada"}}
    with pytest.raises(InitialStateError) as error:
        _start(_pack(tmp_path, {"actions": [action]}))
    assert str(error.value) == (
        "task 't1': initial_state.actions[0] tools.py:lend (assistant) raised ToolError: "
        "Book BK9 not found"
    )


def test_the_history_calls_are_made_and_checked(tmp_path: Path) -> None:
    history = [
        {"role": "user", "content": "I'd like Emma."},
        {
            "role": "assistant",
            "tool_call": {"name": "lend", "arguments": {"book_id": "BK2", "member": "ada"}},
            "result": '{"lent_to": "ada", "book_id": "BK2"}',  # JSON compared as values
        },
        {"role": "user", "tool_call": {"name": "read_card"}},
        {"role": "assistant", "content": "Done: Emma is yours."},
    ]
    episode = _start(_pack(tmp_path, {"messages": history}))
    assert [(r.content, r.error) for r in episode.history] == [
        ('{"book_id": "BK2", "lent_to": "ada"}', False),
        ('{"id": "card", "books": 1}', False),  # the card was synced after the lend
    ]
    assert episode.database.get("books", "BK2")["lent_to"] == "ada"


def test_a_history_whose_result_no_longer_fits_fails_loudly(tmp_path: Path) -> None:
    history = [
        {
            "role": "assistant",
            "tool_call": {"name": "get_book", "arguments": {"book_id": "BK2"}},
            "result": '{"title": "Persuasion"}',
        }
    ]
    with pytest.raises(InitialStateError) as error:
        _start(_pack(tmp_path, {"messages": history}))
    assert str(error.value) == (
        "task 't1': initial_state.messages[0]: get_book returned "
        """'{"id": "BK2", "title": "Emma"}', but the history says it returned """
        """'{"title": "Persuasion"}'; update the history's `result` (or the data it depends on)"""
    )


def test_episodes_of_a_task_start_from_independent_copies(tmp_path: Path) -> None:
    pack = _pack(tmp_path, {"database": {"books": {"BK3": {"title": "Ulysses"}}}})
    environment = Environment.from_pack(pack)
    first, second = (environment.new_episode(pack.task("t1")) for _ in range(2))
    first.call("lend", {"book_id": "BK3", "member": "ada"})
    assert first.user_database.get("card", "card") == {"books": 1}
    assert "lent_to" not in second.database.get("books", "BK3")
    assert second.user_database.get("card", "card") == {"books": 0}
    # Without the task, an episode starts from the pack's own tables.
    assert not environment.new_episode().database.exists("books", "BK3")


def test_the_sync_hook_runs_after_each_successful_call_only(tmp_path: Path) -> None:
    episode = _start(_pack(tmp_path, {}))
    episode.call("lend", {"book_id": "BK1", "member": "ada"})
    assert episode.user_database.get("card", "card") == {"books": 1}
    failed = episode.call("lend", {"book_id": "BK1", "member": "bob"})
    assert failed.error and episode.user_database.get("card", "card") == {"books": 1}


def test_a_failing_sync_hook_undoes_the_call_on_both_databases(tmp_path: Path) -> None:
    pack = _pack(tmp_path, {}, sync="tools.py:broken_mirror")
    episode = Environment.from_pack(pack).new_episode()
    result = episode.call("lend", {"book_id": "BK1", "member": "ada"})
    assert result.error and result.crashed
    assert result.content == "Error: the card reader is broken"
    assert "lent_to" not in episode.database.get("books", "BK1")
    assert episode.user_database.get("card", "card") == {"books": 0}
