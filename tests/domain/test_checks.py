"""Cross-reference checks: Python tools, expressions, tasks and their actions."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import load_pack, passed_by_doing_nothing, undescribed_tools
from policy_agent.environment import Environment
from tests.domain._support import BASE, pack_data, problems, tool, write_pack

BASE_TOOL = BASE["tools"][0]

BOOKS_PY = """\
def get_book(db, book_id):
    return db.get("books", book_id)


def lend(db, book_id, member="ada", *, days=14):
    return {"lent": book_id, "to": member, "days": days}


async def reserve(db, book_id):
    return None


def everything(db, **arguments):
    return arguments


def needs_shelf(db, book_id, shelf):
    return None


def no_database():
    return None


class Shelf:
    def get_book(self, db, book_id):
        return None
"""


def _python_pack(folder: Path, reference: str, **parameters: Any) -> Path:
    tools = [tool("get_book", {"python": reference}, **(parameters or {"book_id": "string"}))]
    return write_pack(folder, pack_data(tools=tools, tasks=None), {"tools/books.py": BOOKS_PY})


@pytest.mark.parametrize(
    ("reference", "parameters", "arguments", "result"),
    [
        ("tools/books.py:get_book", {"book_id": "string"}, {"book_id": "BK1"}, {"title": "Dune"}),
        (
            "tools/books.py:lend",
            {"book_id": "string", "member": "string", "days": {"type": "integer"}},
            {"book_id": "BK1", "member": "bo", "days": 7},
            {"lent": "BK1", "to": "bo", "days": 7},
        ),
        (
            "tools/books.py:everything",
            {"book_id": "string", "anything": "string"},
            {"book_id": "BK1", "anything": "at all"},
            {"book_id": "BK1", "anything": "at all"},
        ),
    ],
)
def test_python_tools_that_fit(
    tmp_path: Path,
    reference: str,
    parameters: dict[str, Any],
    arguments: dict[str, Any],
    result: object,
) -> None:
    pack = load_pack(_python_pack(tmp_path, reference, **parameters))
    assert pack.repository == tmp_path
    [spec] = pack.tools
    assert (spec.name, spec.implementation.python) == ("get_book", reference)
    # What the check let through runs: called with the tool's arguments, it gives its value.
    called = Environment.from_pack(pack).new_episode().call("get_book", arguments)
    assert (called.error, called.crashed) == (False, False), called.content
    assert json.loads(called.content) == result


@pytest.mark.parametrize(
    ("reference", "parameters", "message"),
    [
        ("tools/book.py:get_book", {}, "file not found: {tmp}/tools/book.py (in {tmp})"),
        (
            "tools/books.py:Shelf",
            {},
            "no top-level function 'Shelf' in {tmp}/tools/books.py; there are: everything, "
            "get_book, lend, needs_shelf, no_database, reserve",
        ),
        (
            "tools/books.py:get_books",
            {},
            "no top-level function 'get_books' in {tmp}/tools/books.py (did you mean 'get_book'?)",
        ),
        (
            "tools/books.py:get_book",
            {"book_id": "string", "copies": "string"},
            "get_book() does not take the parameter 'copies'",
        ),
        (
            "tools/books.py:needs_shelf",
            {"book_id": "string"},
            "needs_shelf() requires 'shelf', which is not a parameter of the tool",
        ),
        (
            "tools/books.py:no_database",
            {},
            "no_database() must take the database first: def no_database(db, ...)",
        ),
        (
            "tools/books.py:reserve",
            {"book_id": "string"},
            "reserve() is async; tools and hooks are called synchronously: use def",
        ),
    ],
)
def test_python_tools_that_do_not(
    tmp_path: Path, reference: str, parameters: dict[str, Any], message: str
) -> None:
    folder = _python_pack(tmp_path, reference, **parameters)
    field = "tools[0].implementation.python"
    assert (field, message.format(tmp=tmp_path)) in problems(folder)


def test_python_files_are_parsed_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = f"open({str(marker)!r}, 'w').close()\n\ndef get_book(db, book_id):\n    return None\n"
    tools = [tool("get_book", {"python": "tools/books.py:get_book"}, book_id="string")]
    load_pack(write_pack(tmp_path, pack_data(tools=tools), {"tools/books.py": code}))
    assert not marker.exists()


def test_a_python_file_with_a_syntax_error(tmp_path: Path) -> None:
    tools = [tool("get_book", {"python": "tools/books.py:get_book"}, book_id="string")]
    folder = write_pack(tmp_path, pack_data(tools=tools), {"tools/books.py": "def get_book(:\n"})
    message = f"{tmp_path}/tools/books.py:1 is not valid Python: invalid syntax"
    assert problems(folder) == [("tools[0].implementation.python", message)]


def test_a_python_file_linked_from_outside_the_repository(tmp_path: Path) -> None:
    (tmp_path / "books.py").write_text(BOOKS_PY)
    folder = _python_pack(tmp_path / "repo", "tools/linked.py:get_book")
    os.symlink(tmp_path / "books.py", folder / "tools" / "linked.py")
    message = "'tools/linked.py' leads outside the repository (through a link)"
    assert problems(folder) == [("tools[0].implementation.python", message)]


def _task(*actions: dict[str, Any], **criteria: Any) -> list[dict[str, Any]]:
    return [
        {
            "id": "t1",
            "user_scenario": {"instructions": "Hi."},
            "evaluation_criteria": {"actions": list(actions), **criteria},
        }
    ]


ACTIONS = "tasks[0].evaluation_criteria.actions[0]"


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        (
            {"name": "get_book", "arguments": {"book_id": 7}},
            (f"{ACTIONS}.arguments.book_id", "expected string, found a number (7)"),
        ),
        (
            {"name": "get_book", "arguments": {"book_id": "BK1"}, "compare_args": ["id"]},
            (f"{ACTIONS}.compare_args[0]", "'id' is not one of the action's arguments (book_id)"),
        ),
        (
            {"name": "press_button"},
            (
                f"{ACTIONS}.name",
                "no tool 'press_button' in the agent's tools; there are: get_book; it is a "
                "user tool: add requestor: user",
            ),
        ),
        (
            {"name": "get_book", "requestor": "user", "arguments": {"book_id": "BK1"}},
            (
                f"{ACTIONS}.name",
                "no tool 'get_book' in the user tools; there are: press_button; it is an "
                "agent tool: remove requestor: user",
            ),
        ),
        (
            {"name": "get_book", "requestor": "agent"},
            (
                f"{ACTIONS}.requestor",
                "'agent' is not a valid requestor; expected one of assistant, user",
            ),
        ),
        (
            {"name": "press_button", "requestor": "user", "arguments": {"button": "X"}},
            (f"{ACTIONS}.arguments.button", "'X' is not one of 'A', 'B'"),
        ),
    ],
)
def test_action_mistakes(tmp_path: Path, action: dict[str, Any], expected: tuple[str, str]) -> None:
    button = {"type": "string", "enum": ["A", "B"]}
    press = tool(
        "press_button",
        {"op": "update", "table": "device", "key": "'phone'", "set": {"pressed": "button"}},
        button=button,
    )
    data = pack_data(
        user_tools=[press],
        user_database={"device": {"phone": {"pressed": None}}},
        tasks=_task({"action_id": "a"} | action),
    )
    assert problems(write_pack(tmp_path, data)) == [expected]


@pytest.mark.parametrize(
    ("criteria", "expected"),
    [
        (
            {"reward_basis": ["ACTION"], "actions": []},
            "ACTION is in the reward basis but the task has no expected actions",
        ),
        (
            {"reward_basis": ["ENV_ASSERTION"]},
            "ENV_ASSERTION is in the reward basis but the task has no env_assertions",
        ),
        (
            {"reward_basis": ["DB", "NL_ASSERTION"]},
            "NL_ASSERTION is in the reward basis but the task has no nl_assertions",
        ),
    ],
)
def test_a_reward_basis_needs_its_criteria(
    tmp_path: Path, criteria: dict[str, Any], expected: str
) -> None:
    tasks = _task(**criteria)
    field = "tasks[0].evaluation_criteria.reward_basis"
    assert problems(write_pack(tmp_path, pack_data(tasks=tasks))) == [(field, expected)]


def test_tau2_semantics_are_kept(tmp_path: Path) -> None:
    """DB with no actions scores 1 and COMMUNICATE with nothing to say is fine: not errors."""
    tasks = _task(reward_basis=["DB", "COMMUNICATE"])
    assert len(load_pack(write_pack(tmp_path, pack_data(tasks=tasks))).tasks) == 1


def test_env_assertions_see_the_database_they_name(tmp_path: Path) -> None:
    assertions = [
        {"check": "exists('books', 'BK1')"},
        {"check": "exists('device', 'phone')", "env_type": "user"},
        {"check": "exists('device', 'phone')"},
        {"check": "record.title == 'Dune'"},
    ]
    data = pack_data(
        user_database={"device": {"phone": {}}},
        tasks=_task(
            {"action_id": "a", "name": "get_book", "arguments": {"book_id": "BK1"}},
            env_assertions=assertions,
        ),
    )
    field = "tasks[0].evaluation_criteria.env_assertions"
    assert problems(write_pack(tmp_path, data)) == [
        (f"{field}[2].check", "no table 'device' in the database; there are: books, loans"),
        (
            f"{field}[3].check",
            "unknown name `record`; known: false, now, null, true (at column 1 of: "
            "record.title == 'Dune')",
        ),
    ]


def test_duplicate_task_ids_and_tool_names(tmp_path: Path) -> None:
    get = {"op": "get", "table": "books", "key": "book_id"}
    tools = [tool("get_book", get, book_id="string"), tool("get_book", get, book_id="string")]
    tasks = [*_task(), *_task()]
    folder = write_pack(tmp_path, pack_data(tools=tools, tasks=tasks))
    lines = (folder / "domain.yaml").read_text().splitlines()
    first_tool = lines.index("- name: get_book") + 1
    first_task = lines.index("- id: t1") + 1
    assert problems(folder) == [
        ("tools[1].name", f"duplicate tool name 'get_book' (first at line {first_tool})"),
        ("tasks[1].id", f"duplicate task id 't1' (first at line {first_task})"),
    ]


def test_every_expression_of_a_tool_is_compiled_with_its_names(tmp_path: Path) -> None:
    update = {
        "op": "update",
        "table": "books",
        "key": "book_id",
        "preconditions": [{"check": "record.title != ''", "error": "{record.title} {nope}"}],
        "set": {"title": "upper(record.title) +"},
        "returns": "args.book_id",
    }
    find = {"op": "find", "table": "books", "match": {"title": "record"}}
    tools = [tool("rename", update, book_id="string"), tool("search", find)]
    at = "tools[0].implementation"
    assert problems(write_pack(tmp_path, pack_data(tools=tools, tasks=None))) == [
        (
            f"{at}.preconditions[0].error",
            "unknown name `nope`; known: args, book_id, false, now, null, record, true (at "
            "column 17 of: {record.title} {nope})",
        ),
        (
            f"{at}.set.title",
            "the expression ends too early (at column 22 of: upper(record.title) +)",
        ),
        (
            "tools[1].implementation.match.title",
            "unknown name `record`; known: args, false, now, null, true (at column 1 of: record)",
        ),
    ]


_STATE = "tasks[0].initial_state"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        (
            {"database": {"bookz": {"BK2": {"title": "Emma"}}}},
            (
                f"{_STATE}.database.bookz",
                "no table 'bookz' in the pack's database (did you mean 'books'?)",
            ),
        ),
        (
            {"actions": [{"name": "get_bok", "arguments": {"book_id": "BK1"}}]},
            (
                f"{_STATE}.actions[0].name",
                "no tool 'get_bok' in the agent's tools (did you mean 'get_book'?)",
            ),
        ),
        (
            {"actions": [{"name": "get_book", "arguments": {"book_id": "BK1", "book": "BK1"}}]},
            (
                f"{_STATE}.actions[0].arguments.book",
                "no parameter 'book' in the parameters of 'get_book' (did you mean 'book_id'?)",
            ),
        ),
        (
            {"actions": [{"python": "setup.py:stock", "arguments": {"n": 1}}]},
            (
                f"{_STATE}.actions[0].python",
                "no top-level function 'stock' in setup.py (did you mean 'stack'?)",
            ),
        ),
        (
            {"actions": [{"name": "get_book", "env_type": "user"}]},
            (
                f"{_STATE}.actions[0]",
                "`env_type` goes with `python`; a tool call takes `requestor`",
            ),
        ),
        (
            {"messages": [{"role": "assistant", "tool_call": {"name": "get_book"}}]},
            (
                f"{_STATE}.messages[0].tool_call.arguments",
                "missing required argument 'book_id' of 'get_book'",
            ),
        ),
        (
            {"messages": [{"role": "user", "content": "Hi", "result": "ok"}]},
            (f"{_STATE}.messages[0]", "`result` goes with a `tool_call`"),
        ),
    ],
)
def test_initial_state_mistakes(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    state: dict[str, Any],
    expected: tuple[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    tasks = [{"id": "t1", "user_scenario": {"instructions": "Hi."}, "initial_state": state}]
    files = {"setup.py": "def stack(db, n):\n    pass\n"}
    assert problems(write_pack(tmp_path, pack_data(tasks=tasks), files)) == [expected]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def sync(db, user_db):\n    pass\n", []),
        ("def sync(*databases):\n    pass\n", []),
        (
            "def sync(db):\n    pass\n",
            [("sync", "sync() must take both databases: def sync(db, user_db)")],
        ),
        (
            "def other(db, user_db):\n    pass\n",
            [("sync", "no top-level function 'sync' in hooks.py; there are: other")],
        ),
    ],
)
def test_the_sync_hook(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, expected: list[tuple[str, str]]
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = write_pack(tmp_path, pack_data(sync="hooks.py:sync"), {"hooks.py": source})
    if expected:
        assert problems(folder) == expected
    else:
        assert load_pack(folder).sync == "hooks.py:sync"


def test_a_tool_without_a_description_is_warned_about(tmp_path: Path) -> None:
    data = pack_data()
    data["tools"][0].pop("description", None)
    pack = load_pack(write_pack(tmp_path / "pack", data))
    name = data["tools"][0]["name"]
    assert undescribed_tools(pack.tools) == [
        f"tool {name} has no description: the model sees <description>None</description> "
        "when the server renders the tools (template style); add one"
    ]
    assert undescribed_tools(pack.tools[1:]) == [
        w for w in undescribed_tools(pack.tools) if not w.startswith(f"tool {name} ")
    ]


def test_a_write_may_add_a_field_no_record_has_yet_and_others_may_read_it(tmp_path: Path) -> None:
    lend = tool(
        "lend",
        {
            "op": "create",
            "table": "loans",
            "id_prefix": "L",
            "values": {"book": "book_id", "due": "'2025-07-01'"},
        },
        book_id={"type": "string"},
    )
    renew = tool(
        "renew",
        {
            "op": "update",
            "table": "loans",
            "key": "loan_id",
            "preconditions": [{"check": "record.due != null", "error": "No due date."}],
            "set": {"renewals": 1},
        },
        loan_id={"type": "string"},
    )
    database = {"books": {"BK1": {"title": "Dune"}}, "loans": {"L1": {"book": "BK1"}}}
    task = {
        "id": "t",
        "user_scenario": {"instructions": "Renew L1."},
        "evaluation_criteria": {
            "env_assertions": [{"check": "lookup('loans', 'L1').renewals == 1"}],
            "reward_basis": ["ENV_ASSERTION"],
        },
    }
    data = pack_data(tools=[lend, renew], database=database, tasks=[task])
    pack = load_pack(write_pack(tmp_path, data))
    assert [t.name for t in pack.tools] == ["lend", "renew"]


def test_a_field_read_that_no_record_has_is_an_error_with_a_did_you_mean(tmp_path: Path) -> None:
    cancel = tool(
        "cancel",
        {
            "op": "update",
            "table": "loans",
            "key": "loan_id",
            "preconditions": [
                {"check": "record.stauts == 'open'", "error": "{record.bok} is shut."}
            ],
            "set": {"status": "'cancelled'"},
        },
        loan_id={"type": "string"},
    )
    database = {
        "books": {"BK1": {"title": "Dune"}},
        "loans": {"L1": {"book": "BK1", "status": "open"}},
    }
    task = {
        "id": "t",
        "user_scenario": {"instructions": "Cancel L1."},
        "evaluation_criteria": {
            "env_assertions": [{"check": "lookup('books', 'BK1').titel == 'Dune'"}],
            "reward_basis": ["ENV_ASSERTION"],
        },
    }
    data = pack_data(tools=[cancel], database=database, tasks=[task])
    assert problems(write_pack(tmp_path, data)) == [
        (
            "tools[0].implementation.preconditions[0].check",
            "no field 'stauts' in the records of 'loans' (did you mean 'status'?), read at column "
            "7 of: record.stauts == 'open'",
        ),
        (
            "tools[0].implementation.preconditions[0].error",
            "no field 'bok' in the records of 'loans' (did you mean 'book'?), read at column 8 "
            "of: {record.bok} is shut.",
        ),
        (
            "tasks[0].evaluation_criteria.env_assertions[0].check",
            "no field 'titel' in the records of 'books' (did you mean 'title'?), read at column "
            "23 of: lookup('books', 'BK1').titel == 'Dune'",
        ),
    ]


def test_a_task_an_agent_that_refuses_everything_passes_is_warned_of(tmp_path: Path) -> None:
    lend = tool("lend", {"op": "create", "table": "loans", "id_prefix": "L", "values": {}})
    lend["kind"] = "write"
    read = {"action_id": "r", "name": "get_book", "arguments": {"book_id": "BK1"}}
    write = {"action_id": "w", "name": "lend", "arguments": {}}

    def task(task_id: str, **criteria: Any) -> dict[str, Any]:
        return {
            "id": task_id,
            "user_scenario": {"instructions": "Borrow BK1."},
            "evaluation_criteria": criteria,
        }

    tasks = [
        task("refused_on_db", actions=[read], reward_basis=["DB"]),
        task("judged_but_not_scored", actions=[], nl_assertions=["Refuses."], reward_basis=["DB"]),
        task("said", actions=[], communicate_info=["BK1"], reward_basis=["DB", "COMMUNICATE"]),
        task("looked_up", actions=[read], reward_basis=["DB", "ACTION"]),
        task("lent", actions=[write], reward_basis=["DB"]),
    ]
    pack = load_pack(write_pack(tmp_path, pack_data(tools=[BASE_TOOL, lend], tasks=tasks)))
    assert passed_by_doing_nothing(pack.tools, pack.tasks) == [
        "task refused_on_db expects no change and is scored on DB: an agent that refuses "
        "everything passes it; add COMMUNICATE with communicate_info, or NL_ASSERTION with "
        "nl_assertions (docs/packs.md, Scoring a refusal)",
        "task judged_but_not_scored expects no change and is scored on DB: an agent that refuses "
        "everything passes it; add NL_ASSERTION to its reward_basis (it has nl_assertions), or "
        "COMMUNICATE (docs/packs.md, Scoring a refusal)",
    ]
