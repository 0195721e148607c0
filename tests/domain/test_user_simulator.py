"""`user_simulator` in `domain.yaml`: guidelines inline or in a file, the layout, errors."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from policy_agent.domain import (
    PackError,
    UserPromptFormat,
    UserSimulatorSpec,
    load_pack,
    pack_schema,
)
from tests.domain._support import BASE, pack_data, problems, write_pack

STRUCTURED = {
    "id": "t1",
    "user_scenario": {
        "instructions": {"reason_for_call": "You want BK1.", "task_instructions": "Ask for it."}
    },
}


def test_a_pack_without_the_section_keeps_the_default(tmp_path: Path) -> None:
    pack = load_pack(write_pack(tmp_path, pack_data()))
    assert pack.user_simulator == UserSimulatorSpec()
    assert pack.user_simulator.is_default


def test_guidelines_from_a_file_are_kept_byte_for_byte(tmp_path: Path) -> None:
    text = "# Guidelines\n\n  Play the member.  \n\n"
    section = {"guidelines": {"file": "user_guidelines.md"}, "format": "tau2"}
    folder = write_pack(tmp_path, pack_data(user_simulator=section), {"user_guidelines.md": text})
    pack = load_pack(folder)
    assert pack.user_simulator == UserSimulatorSpec(guidelines=text, format=UserPromptFormat.TAU2)


def test_guidelines_may_be_written_inline(tmp_path: Path) -> None:
    folder = write_pack(tmp_path, pack_data(user_simulator={"guidelines": "Be brief."}))
    spec = load_pack(folder).user_simulator
    assert (spec.guidelines, spec.format) == ("Be brief.", UserPromptFormat.POLICY_AGENT)


def test_the_section_changes_the_content_hash_only_when_set(tmp_path: Path) -> None:
    plain = load_pack(write_pack(tmp_path / "a", pack_data())).content_hash
    empty = load_pack(write_pack(tmp_path / "b", pack_data(user_simulator={}))).content_hash
    tau2 = write_pack(tmp_path / "c", pack_data(user_simulator={"format": "tau2"}))
    assert plain == empty
    assert load_pack(tau2).content_hash != plain


@pytest.mark.parametrize(
    ("section", "files", "expected"),
    [
        (
            {"guidelines": {"file": "missing.md"}},
            {},
            ("user_simulator.guidelines.file", "file not found: {root}/missing.md"),
        ),
        (
            {"guidelines": {"file": "/etc/passwd"}},
            {},
            (
                "user_simulator.guidelines.file",
                "'/etc/passwd' is an absolute path; give a path relative to the pack's folder",
            ),
        ),
        (
            {"guidelines": {"file": "blank.md"}},
            {"blank.md": "\n  \n"},
            ("user_simulator.guidelines", "the guidelines are empty"),
        ),
        ({"guidelines": ""}, {}, ("user_simulator.guidelines", "the guidelines are empty")),
        (
            {"format": "tau3"},
            {},
            (
                "user_simulator.format",
                "'tau3' is not a user prompt format; expected one of policy_agent, tau2",
            ),
        ),
        (
            {"guidlines": "Be brief."},
            {},
            ("user_simulator", "unknown key 'guidlines' (did you mean 'guidelines'?)"),
        ),
        (
            {"guidelines": ["Be brief."]},
            {},
            ("user_simulator.guidelines", "expected a mapping (key: value), found a list"),
        ),
    ],
)
def test_mistakes_in_the_section(
    tmp_path: Path, section: object, files: dict[str, str], expected: tuple[str, str]
) -> None:
    folder = write_pack(tmp_path, pack_data(user_simulator=section), files)
    field, message = expected
    assert problems(folder) == [(field, message.format(root=folder))]


def test_tau2s_layout_needs_the_domain_of_every_structured_scenario(tmp_path: Path) -> None:
    with_domain = {**STRUCTURED, "id": "t2"}
    with_domain["user_scenario"] = {
        "instructions": {**STRUCTURED["user_scenario"]["instructions"], "domain": "library"}
    }
    tasks = [STRUCTURED, with_domain, {"id": "t3", "user_scenario": {"instructions": "Text."}}]
    data = pack_data(tasks="tasks.json", user_simulator={"format": "tau2"})
    folder = write_pack(tmp_path, data, {"tasks.json": json.dumps(tasks, indent=1)})
    with pytest.raises(PackError) as error:
        load_pack(folder)
    [problem] = error.value.problems
    assert problem.file == folder / "tasks.json"
    assert problem.line == 5  # `"instructions": {` of the first task
    assert problem.field == "tasks[0].user_scenario.instructions.domain"
    assert problem.message == (
        "the pack's user_simulator format is tau2, whose scenario always shows `Domain:`; "
        "give `domain` (e.g. the pack's name)"
    )
    # Our own layout shows only the parts that are there: no domain is fine.
    assert load_pack(write_pack(tmp_path / "ours", pack_data(tasks=[STRUCTURED])))


def test_the_domain_schema_describes_the_section() -> None:
    schema = pack_schema("domain")
    validator = jsonschema.Draft202012Validator(schema)
    good = {**BASE, "user_simulator": {"guidelines": {"file": "g.md"}, "format": "tau2"}}
    validator.validate(good)
    for bad in ({"format": "tau3"}, {"guidelines": 3}, {"guidelines": {"path": "g.md"}}):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate({**BASE, "user_simulator": bad})
