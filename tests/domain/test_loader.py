"""`load_pack`: files resolved, sections validated, problems located and explained."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from policy_agent.domain import PackError, ToolKind, find_repository, load_pack
from tests.domain._support import pack_data, problems, tool, write_pack

REPOSITORY = Path(__file__).parents[2]
MINIMAL = Path(__file__).parent / "packs" / "minimal"


def test_the_minimal_pack_loads_every_file() -> None:
    pack = load_pack(MINIMAL)
    assert (pack.name, pack.version, pack.clock) == ("library", "1.0.0", "2025-06-04T09:00:00")
    assert pack.root == MINIMAL.absolute()
    assert pack.repository == REPOSITORY
    assert pack.policy == (MINIMAL / "policy.md").read_text(encoding="utf-8")
    assert [t.name for t in pack.tools] == [
        "get_book",
        "find_loans",
        "lend_book",
        "renew_loan",
        "transfer_to_librarian",
    ]
    assert pack.tool("transfer_to_librarian").kind is ToolKind.TRANSFER
    renew = pack.tool("renew_loan")
    # Parameters keep the authored order and every key written, in order.
    assert list(renew.parameters) == ["loan_id", "days"]
    assert list(renew.parameters["days"]) == ["type", "description", "default"]
    assert renew.required_parameters == ["loan_id"]
    assert pack.database["loans"]["L001"] == {
        "book": "BK2",
        "member": "ada",
        "due": "2025-06-10",
        "renewed": False,
    }
    assert [t.id for t in pack.tasks] == ["lend", "renew"]
    assert load_pack(MINIMAL / "domain.yaml").content_hash == pack.content_hash


def test_repository_is_the_nearest_folder_with_a_marker(tmp_path: Path) -> None:
    pack = tmp_path / "project" / "domains" / "hotel"
    pack.mkdir(parents=True)
    # No marker anywhere: the folder above domains/.
    assert find_repository(pack) == tmp_path / "project"
    (tmp_path / "project" / "domains" / "pyproject.toml").write_text("")
    assert find_repository(pack) == tmp_path / "project" / "domains"
    (pack / ".git").mkdir()
    assert find_repository(pack) == pack
    elsewhere = tmp_path / "packs" / "hotel"
    elsewhere.mkdir(parents=True)
    assert find_repository(elsewhere) == elsewhere


def test_sections_can_live_in_their_own_files(tmp_path: Path) -> None:
    data = pack_data(tools="tools.yaml", database="db/tables.json", tasks="tasks.yaml")
    tools = "- {name: get_book, kind: read, parameters: {book_id: {type: string}},\n"
    tools += "   implementation: {op: get, table: books, key: book_id}}\n"
    tasks = "- {id: t1, user_scenario: {instructions: Hi.}}\n"
    files = {"tools.yaml": tools, "db/tables.json": '{"books": {"BK1": {}}}', "tasks.yaml": tasks}
    pack = load_pack(write_pack(tmp_path, data, files))
    assert [t.name for t in pack.tools] == ["get_book"]
    assert pack.database == {"books": {"BK1": {}}}
    assert [t.id for t in pack.tasks] == ["t1"]


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        (
            "/etc/tools.yaml",
            "'/etc/tools.yaml' is an absolute path; give a path relative to the pack's folder",
        ),
        (
            "C:/tools.yaml",
            "'C:/tools.yaml' is an absolute path; give a path relative to the pack's folder",
        ),
        (
            "../tools.yaml",
            "'../tools.yaml' leaves the pack's folder ('..'); keep the pack's files inside it",
        ),
        ("tools.txt", "'tools.txt' should be a .yaml, .yml, .json file"),
        ("", "expected a file name, found empty text"),
    ],
)
def test_section_files_must_stay_in_the_pack(tmp_path: Path, reference: str, message: str) -> None:
    folder = write_pack(tmp_path, pack_data(tools=reference))
    assert problems(folder) == [("tools", message)]


def test_a_link_out_of_the_pack_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("[]\n")
    folder = write_pack(tmp_path / "pack", pack_data(tasks="tasks.yaml"))
    os.symlink(tmp_path / "outside.yaml", folder / "tasks.yaml")
    assert problems(folder) == [
        ("tasks", "'tasks.yaml' leads outside the pack's folder (through a link)")
    ]


def test_policy_from_a_file_and_empty_policies(tmp_path: Path) -> None:
    folder = write_pack(
        tmp_path, pack_data(policy={"file": "policy.md"}), {"policy.md": "Be kind.\n"}
    )
    assert load_pack(folder).policy == "Be kind.\n"
    (folder / "policy.md").write_text("\n  \n")
    assert problems(folder) == [("policy", "the policy is empty")]
    write_pack(folder, pack_data(policy=""))
    assert problems(folder) == [("policy", "the policy is empty")]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"name": "my-domain"},
            (
                "name",
                "'my-domain' is not a valid name; use letters, digits and _ (not starting "
                "with a digit)",
            ),
        ),
        ({"policy": None}, ("", "missing required key 'policy'")),
        ({"policy": ["a"]}, ("policy", "expected a mapping (key: value), found a list")),
        ({"tools": {"get_book": {}}}, ("tools", "expected a list of tools, found a mapping")),
        (
            {"database": {"books": []}},
            (
                "database.books",
                "expected records keyed by id (a mapping of id to record), found a list",
            ),
        ),
        (
            {"database": {"books": {"BK1": "Dune"}}},
            (
                "database.books.BK1",
                "expected a record (a mapping of field to value), found text 'Dune'",
            ),
        ),
        ({"clock": "tomorrow"}, ("clock", "'tomorrow' is not an ISO 8601 time")),
        (
            {"version": 1.5, "descripton": "x"},
            ("", "unknown key 'descripton' (did you mean 'description'?)"),
        ),
    ],
)
def test_top_level_mistakes(
    tmp_path: Path, change: dict[str, object], expected: tuple[str, str]
) -> None:
    assert problems(write_pack(tmp_path, pack_data(**change))) == [expected]


@pytest.mark.parametrize(
    ("implementation", "expected"),
    [
        (
            {"op": "get", "table": 3, "key": "book_id"},
            (
                "tools[0].implementation.table",
                "3 is not a valid name; use letters, digits and _ (not starting with a digit)",
            ),
        ),
        (
            {"op": "get", "table": "books"},
            ("tools[0].implementation", "missing required key 'key'"),
        ),
        (
            {"table": "books", "key": "book_id"},
            (
                "tools[0].implementation",
                "give `op:` (get, find, list, create, update, delete, respond), `steps:` (a "
                "list of ops) or `python: path/to/file.py:function`",
            ),
        ),
        (
            {"op": "create", "table": "books", "values": {}},
            ("tools[0].implementation", "give exactly one of `id` and `id_prefix`"),
        ),
        (
            {"python": "tools/x.py"},
            (
                "tools[0].implementation.python",
                "'tools/x.py' is not a Python reference; write path/to/file.py:function",
            ),
        ),
        (
            {"python": "/abs/x.py:f"},
            (
                "tools[0].implementation.python",
                "'/abs/x.py' is absolute; give a path relative to the repository",
            ),
        ),
        (
            {"op": "list", "table": "books", "fields": ["titel"]},
            (
                "tools[0].implementation.fields[0]",
                "no field 'titel' in the records of 'books' (did you mean 'title'?)",
            ),
        ),
        (
            {
                "op": "get",
                "table": "books",
                "key": "book_id",
                "returns": "lookup('shelves', book_id)",
            },
            (
                "tools[0].implementation.returns",
                "no table 'shelves' in the database; there are: books, loans",
            ),
        ),
        (
            {"op": "list", "table": "books", "after": "last_id", "limit": 0},
            (
                "tools[0].implementation.limit",
                "Input should be greater than or equal to 1",
            ),
        ),
        (
            {"op": "list", "table": "books", "after": "last_id"},
            (
                "tools[0].implementation.after",
                "unknown name `last_id`; known: args, book_id, false, now, null, true (at "
                "column 1 of: last_id)",
            ),
        ),
        (
            {"op": "get", "table": "books", "key": "record.id"},
            (
                "tools[0].implementation.key",
                "unknown name `record`; known: args, book_id, false, now, null, true (at "
                "column 1 of: record.id)",
            ),
        ),
    ],
)
def test_implementation_mistakes(
    tmp_path: Path, implementation: dict[str, object], expected: tuple[str, str]
) -> None:
    tools = [tool("get_book", implementation, book_id="string")]
    assert problems(write_pack(tmp_path, pack_data(tools=tools))) == [expected]


def test_a_database_of_the_wrong_shape_is_reported_value_by_value(tmp_path: Path) -> None:
    database = {"books": {"BK1": "text", "BK2": {"title": "x"}}, "2shelves": {}, "loans": []}
    assert problems(write_pack(tmp_path, pack_data(database=database))) == [
        (
            "database.books.BK1",
            "expected a record (a mapping of field to value), found text 'text'",
        ),
        (
            "database['2shelves']",
            "'2shelves' is not a valid name; use letters, digits and _ (not starting with a digit)",
        ),
        (
            "database.loans",
            "expected records keyed by id (a mapping of id to record), found a list",
        ),
    ]


def test_a_database_is_kept_as_loaded(tmp_path: Path) -> None:
    database = {"books": {"BK1": {"title": "Dune", "tags": ["sf"], "n": 1.0}}, "loans": {}}
    loaded = load_pack(write_pack(tmp_path, pack_data(database=database))).database
    assert loaded == database and type(loaded["books"]["BK1"]["n"]) is float


def test_fields_of_an_empty_table_are_not_checked(tmp_path: Path) -> None:
    create = {"op": "create", "table": "loans", "id_prefix": "L", "values": {"book": "book_id"}}
    data = pack_data(tools=[tool("lend", create, book_id="string")], tasks=None)
    assert load_pack(write_pack(tmp_path, data)).tool("lend").name == "lend"


@pytest.mark.parametrize(
    ("parameter", "expected"),
    [
        (
            {"type": "str"},
            (
                "tools[0].parameters.book_id.type",
                "'str' is not a JSON Schema type (did you mean 'string'?); expected one of "
                "array, boolean, integer, null, number, object, string",
            ),
        ),
        (
            {"type": "string", "descripton": "x"},
            (
                "tools[0].parameters.book_id.descripton",
                "'descripton' is not a JSON Schema keyword (did you mean 'description'?); "
                "name your own keys x-...",
            ),
        ),
        (
            {"type": "array", "items": {"type": "text"}},
            (
                "tools[0].parameters.book_id.items.type",
                "'text' is not a JSON Schema type; expected one of array, boolean, integer, "
                "null, number, object, string",
            ),
        ),
        (
            "string",
            ("tools[0].parameters.book_id", "expected a mapping (key: value), found text 'string'"),
        ),
    ],
)
def test_parameter_schema_mistakes(
    tmp_path: Path, parameter: object, expected: tuple[str, str]
) -> None:
    get = {"op": "get", "table": "books", "key": "book_id"}
    data = pack_data(
        tools=[{"name": "get_book", "parameters": {"book_id": parameter}, "implementation": get}]
    )
    assert problems(write_pack(tmp_path, data)) == [expected]


def test_own_keys_in_a_parameter_schema_start_with_x(tmp_path: Path) -> None:
    get = {"op": "get", "table": "books", "key": "book_id"}
    parameter = {"type": "string", "x-example": "BK1", "minLength": 3}
    data = pack_data(
        tools=[{"name": "get_book", "parameters": {"book_id": parameter}, "implementation": get}]
    )
    assert load_pack(write_pack(tmp_path, data)).tools[0].parameters["book_id"] == parameter


def test_an_invalid_tool_is_reported_once_not_at_every_use(tmp_path: Path) -> None:
    broken = {
        "name": "get_book",
        "kind": "fetch",
        "implementation": {"op": "list", "table": "books"},
    }
    assert problems(write_pack(tmp_path, pack_data(tools=[broken]))) == [
        (
            "tools[0].kind",
            "'fetch' is not a tool kind; expected one of read, write, think, transfer, generic",
        )
    ]


def test_record_ids_must_match_their_keys(tmp_path: Path) -> None:
    data = pack_data(database={"books": {"BK1": {"id": "BK2"}}})
    assert problems(write_pack(tmp_path, data)) == [
        ("database.books.BK1.id", "the record's id 'BK2' differs from its key 'BK1'")
    ]


def test_report_names_files_relative_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = write_pack(tmp_path / "domains" / "x", pack_data(clock="soon"))
    with pytest.raises(PackError) as error:
        load_pack(folder)
    monkeypatch.chdir(tmp_path)
    line = (folder / "domain.yaml").read_text().splitlines().index("clock: soon") + 1
    assert error.value.report() == (
        f"domains/x/domain.yaml:{line}: clock: 'soon' is not an ISO 8601 time\n"
        "1 problem in domains/x; fix it and run policy-agent validate again."
    )
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert error.value.report(cwd=outside).startswith(f"{folder}/domain.yaml:{line}: clock:")
