"""`policy-agent validate` on good packs and `policy-agent schema`."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.cli._domain import load_pack_or_exit
from policy_agent.domain import SCHEMA_KINDS, pack_schema
from policy_agent.yamlsource import load_yaml
from tests.domain._support import pack_data, write_pack

REPOSITORY = Path(__file__).parents[2]
MINIMAL = Path(__file__).parent / "packs" / "minimal"
SHIPPED = sorted(folder for folder in (REPOSITORY / "domains").iterdir() if folder.is_dir())
FILE_KINDS = {
    "tools": "tools",
    "user_tools": "tools",
    "database": "database",
    "user_database": "database",
    "tasks": "tasks",
    "rules": "rules",
}
"""The sections that may name a file, and the schema of that file."""


def test_validate_prints_a_summary_and_exits_0(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(MINIMAL.parent)
    result = CliRunner().invoke(main, ["validate", "minimal"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == (
        "library 1.0.0: 5 tools (2 read, 2 write, 1 transfer), "
        "2 tables (books 2, loans 1), 2 tasks — OK\n"
    )


def test_the_summary_counts_tasks_that_start_from_a_state_and_names_the_sync_hook(
    tmp_path: Path,
) -> None:
    tasks = [
        {"id": "plain", "user_scenario": {"instructions": "Hi."}},
        {
            "id": "mid_call",
            "user_scenario": {"instructions": "Go on."},
            "initial_state": {"messages": [{"role": "user", "content": "About BK1..."}]},
        },
    ]
    files = {"hooks.py": "def sync(db, user_db):\n    pass\n"}
    folder = write_pack(tmp_path, pack_data(tasks=tasks, sync="hooks.py:sync"), files)
    result = CliRunner().invoke(main, ["validate", str(folder)])
    assert result.exit_code == 0, result.output
    assert result.output.endswith(
        ", 2 tasks (1 from an initial state), sync hook hooks.py:sync — OK\n"
    )


def test_validate_accepts_the_domain_file_itself() -> None:
    result = CliRunner().invoke(main, ["validate", str(MINIMAL / "domain.yaml")])
    assert result.exit_code == 0
    assert result.output.startswith("library 1.0.0: ")


def test_validate_names_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(tmp_path / "nope")], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output == (
        f"{tmp_path / 'nope'}: no such folder; expected a pack folder\n"
        f"1 problem in {tmp_path / 'nope'}; fix it and run policy-agent validate again.\n"
    )


def test_load_pack_or_exit_prints_the_problems_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "domain.yaml").write_text("name: x\n")
    with pytest.raises(SystemExit) as exit_info:
        load_pack_or_exit(tmp_path)
    assert exit_info.value.code == 1
    assert "missing required key 'policy'" in capsys.readouterr().err


@pytest.mark.parametrize("pack", SHIPPED, ids=lambda folder: folder.name)
def test_shipped_packs_validate(pack: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(pack)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.endswith(" — OK\n")


@pytest.mark.parametrize("pack", [*SHIPPED, MINIMAL], ids=lambda folder: folder.name)
def test_pack_files_name_their_schema_and_satisfy_it(pack: Path) -> None:
    """What the editor checks as the author types agrees with what the loader accepts."""
    domain = load_yaml(pack / "domain.yaml").data
    assert isinstance(domain, dict)
    kinds = {"domain.yaml": "domain"}
    kinds |= {
        domain[key]: kind for key, kind in FILE_KINDS.items() if isinstance(domain.get(key), str)
    }
    if "rules" not in domain and (pack / "rules.yaml").is_file():
        kinds["rules.yaml"] = "rules"  # read without being named
    schemas = REPOSITORY / "schemas"
    for name, kind in kinds.items():
        file = pack / name
        if file.suffix == ".json":
            data = json.loads(file.read_text(encoding="utf-8"))
        else:
            first_line = file.read_text(encoding="utf-8").splitlines()[0]
            up = "../" * len(file.parent.relative_to(REPOSITORY).parts)
            assert first_line == f"# yaml-language-server: $schema={up}schemas/{kind}.schema.json"
            data = load_yaml(file).data
        schema = json.loads((schemas / f"{kind}.schema.json").read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(data)


def test_committed_schemas_are_what_the_command_generates(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["schema", "--out", str(tmp_path)], catch_exceptions=False)
    assert result.exit_code == 0
    for kind in SCHEMA_KINDS:
        generated = (tmp_path / f"{kind}.schema.json").read_text(encoding="utf-8")
        committed = (REPOSITORY / "schemas" / f"{kind}.schema.json").read_text(encoding="utf-8")
        assert generated == committed, f"run `policy-agent schema` to refresh schemas/{kind}"
    assert result.output.splitlines() == [
        f"wrote {tmp_path / f'{kind}.schema.json'}" for kind in SCHEMA_KINDS
    ]


def test_schema_print_writes_one_schema_to_stdout() -> None:
    result = CliRunner().invoke(main, ["schema", "--print", "tasks"], catch_exceptions=False)
    assert result.exit_code == 0
    assert json.loads(result.output) == pack_schema("tasks")


def test_schemas_reject_what_the_loader_rejects() -> None:
    schema = pack_schema("tools")
    validator = jsonschema.Draft202012Validator(schema)
    tool = {"name": "t", "kind": "reed", "implementation": {"op": "list", "table": "x"}}
    assert not validator.is_valid([tool])
    assert validator.is_valid([tool | {"kind": "read"}])
    bad_parameter = {"p": {"type": "string", "descripton": "typo"}}
    assert not validator.is_valid([tool | {"kind": "read", "parameters": bad_parameter}])


def test_the_cli_offers_every_schema_kind_without_importing_the_models() -> None:
    from policy_agent.cli import _domain

    assert _domain._KINDS == SCHEMA_KINDS


def test_validate_warns_of_a_megabyte_of_yaml_data_and_not_of_json(tmp_path: Path) -> None:
    books = {f"BK{i}": {"title": f"Book number {i}", "shelf": i % 40} for i in range(30_000)}
    tables = {"books": {"BK1": {"title": "Dune"}, **books}, "loans": {}}
    yaml_pack = write_pack(tmp_path / "yaml", pack_data(database="db.yaml"))
    (yaml_pack / "db.yaml").write_text(yaml.safe_dump(tables), encoding="utf-8")
    json_pack = write_pack(tmp_path / "json", pack_data(database="db.json"))
    (json_pack / "db.json").write_text(json.dumps(tables, indent=1), encoding="utf-8")
    assert (yaml_pack / "db.yaml").stat().st_size >= 1_000_000

    warned = CliRunner().invoke(main, ["validate", str(yaml_pack)])
    assert warned.exit_code == 0, warned.output
    [warning] = [line for line in warned.output.splitlines() if "of YAML" in line]
    size = round((yaml_pack / "db.yaml").stat().st_size / 1e6)
    assert warning.startswith(f"warning: database: db.yaml is {size} MB of YAML: ")
    assert "as JSON it loads some 10 times faster" in warning
    quiet = CliRunner().invoke(main, ["validate", str(json_pack)])
    assert quiet.exit_code == 0, quiet.output
    assert "of YAML" not in quiet.output
    assert quiet.output.count("warning:") == warned.output.count("warning:") - 1
