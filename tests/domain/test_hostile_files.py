"""Files a pack author really ends up with: deeply nested Python, NUL bytes, a FIFO, repeated
action ids, a default the enum forbids. Each is a located problem, never a traceback or a hang."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import PackError, load_pack
from tests.domain._support import pack_data, problems, tool, write_pack

GET = {"op": "get", "table": "books", "key": "book_id"}
PYTHON_TOOL = [tool("get_book", {"python": "tools/books.py:get_book"}, book_id="string")]
GOOD = "def get_book(db, book_id):\n    return None\n"
FIELD = "tools[0].implementation.python"

# CPython 3.11's parser: `1+1+...` overflows its recursion limit building the tree; a long
# run of unary minus exhausts the parser's own memory first.
TOO_DEEP = {
    "RecursionError": (
        "x = " + "1+" * 100_000 + "1\n",
        "cannot be parsed: an expression in it is nested too deeply for Python's parser "
        "(RecursionError); split it into smaller statements",
    ),
    "MemoryError": (
        "x = " + "-" * 100_000 + "1\n",
        "cannot be parsed: Python's parser ran out of memory (MemoryError), as it does on an "
        "expression nested too deeply; split it into smaller statements",
    ),
}


@pytest.mark.parametrize("error", sorted(TOO_DEEP))
def test_python_too_deep_for_the_parser_is_a_problem_of_the_file(
    tmp_path: Path, error: str
) -> None:
    source, message = TOO_DEEP[error]
    folder = write_pack(tmp_path, pack_data(tools=PYTHON_TOOL), {"tools/books.py": GOOD + source})
    assert problems(folder) == [(FIELD, f"{tmp_path}/tools/books.py {message}")]


@pytest.mark.parametrize("command", ["validate", "check", "run"])
def test_validate_check_and_run_say_so_without_a_traceback(tmp_path: Path, command: str) -> None:
    source, message = TOO_DEEP["RecursionError"]
    folder = write_pack(tmp_path, pack_data(tools=PYTHON_TOOL), {"tools/books.py": GOOD + source})
    args = [command, str(folder)] if command != "run" else ["run", "--domain", str(folder)]
    args += ["--agent-model", "hosted_vllm/agent"] if command == "run" else []
    result = CliRunner().invoke(main, args)
    assert result.exit_code == (2 if command == "run" else 1)
    assert message in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_a_nul_byte_in_a_python_file_is_located(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path, pack_data(tools=PYTHON_TOOL), {"tools/books.py": GOOD + "\nx = '\0'\n"}
    )
    message = f"{tmp_path}/tools/books.py:4 is not valid Python: it holds a NUL byte (\\0)"
    assert problems(folder) == [(FIELD, message)]


def test_a_nul_byte_in_a_yaml_file_is_located(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, pack_data(database="db.yaml"))
    (folder / "db.yaml").write_text("books:\n  BK1: {title: Du\0ne}\n", encoding="utf-8")
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    [problem] = caught.value.problems
    assert (problem.file, problem.line, problem.column) == (folder / "db.yaml", 2, 18)
    assert problem.message == "a NUL byte (\\0) is not allowed in YAML; remove it"


def _load_in_a_thread(folder: Path) -> list[tuple[str, str]]:
    """`problems(folder)`, from a thread given a minute: a FIFO must not block the loader."""
    found: list[list[tuple[str, str]]] = []
    worker = threading.Thread(target=lambda: found.append(problems(folder)), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive(), "the loader blocked reading a FIFO"
    return found[0]


def test_a_fifo_where_the_database_belongs_is_named_as_such(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, pack_data(database="db.yaml"))
    os.mkfifo(folder / "db.yaml")
    assert _load_in_a_thread(folder) == [
        ("database", f"{tmp_path}/db.yaml is a FIFO (named pipe), not a regular file")
    ]


def test_a_fifo_where_a_python_tool_belongs_is_named_as_such(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, pack_data(tools=PYTHON_TOOL))
    (folder / "tools").mkdir()
    os.mkfifo(folder / "tools" / "books.py")
    assert _load_in_a_thread(folder) == [
        (FIELD, f"{tmp_path}/tools/books.py is a FIFO (named pipe), not a regular file")
    ]


def test_action_ids_repeated_within_a_task_are_refused(tmp_path: Path) -> None:
    lookup = {"name": "get_book", "arguments": {"book_id": "BK1"}}
    task = {
        "id": "t1",
        "user_scenario": {"instructions": "Hi."},
        "evaluation_criteria": {
            "actions": [
                {"action_id": "look", **lookup},
                {"action_id": "again", **lookup},
                {"action_id": "look", **lookup},
            ]
        },
    }
    folder = write_pack(tmp_path, pack_data(tasks=[task]))
    first = (folder / "domain.yaml").read_text().splitlines().index("    - action_id: look") + 1
    assert problems(folder) == [
        (
            "tasks[0].evaluation_criteria.actions[2].action_id",
            f"duplicate action_id 'look' (first at line {first})",
        )
    ]


def test_the_same_action_id_in_two_tasks_is_fine(tmp_path: Path) -> None:
    lookup = {"action_id": "look", "name": "get_book", "arguments": {"book_id": "BK1"}}
    tasks = [
        {
            "id": f"t{n}",
            "user_scenario": {"instructions": "Hi."},
            "evaluation_criteria": {"actions": [lookup]},
        }
        for n in (1, 2)
    ]
    load_pack(write_pack(tmp_path, pack_data(tasks=tasks)))


def test_a_default_outside_the_enum_is_refused_at_its_line(tmp_path: Path) -> None:
    status = {"type": "string", "enum": ["open", "closed"], "default": "ajar"}
    tools = [tool("get_book", GET, book_id="string", status=status)]
    folder = write_pack(tmp_path, pack_data(tools=tools))
    with pytest.raises(PackError) as caught:
        load_pack(folder)
    [problem] = caught.value.problems
    lines = (folder / "domain.yaml").read_text().splitlines()
    assert problem.line == lines.index("      default: ajar") + 1
    assert (problem.field, problem.message) == (
        "tools[0].parameters.status.default",
        "the default 'ajar' is not one of its enum: 'open', 'closed'",
    )
