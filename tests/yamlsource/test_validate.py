"""Validating a document as a model: every problem at its line, in the author's words."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from pydantic_core import ErrorDetails

from policy_agent.yamlsource import (
    DocumentError,
    Explanation,
    SourceProblem,
    explain,
    field_path,
    load_yaml,
    validate_document,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Room(_Strict):
    beds: int
    view: Literal["sea", "garden"] = "garden"


class Suite(_Strict):
    kind: Literal["suite"]
    rooms: list[Room] = Field(min_length=1)


class Single(_Strict):
    kind: Literal["single"]
    room: Room


Unit = Annotated[
    Annotated[Suite, Tag("suite")] | Annotated[Single, Tag("single")],
    Discriminator(lambda value: value.get("kind") if isinstance(value, dict) else None),
]


class Hotel(_Strict):
    name: str
    units: dict[str, Unit]
    floors: dict[int, str] = Field(default_factory=dict)


def _problems(tmp_path: Path, text: str) -> list[str]:
    file = tmp_path / "hotel.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(DocumentError) as caught:
        validate_document(load_yaml(file), Hotel)
    return [str(problem).removeprefix(f"{file}:") for problem in caught.value.problems]


def test_a_valid_document_gives_the_model(tmp_path: Path) -> None:
    file = tmp_path / "hotel.yaml"
    file.write_text("name: Sea\nunits:\n  a: {kind: single, room: {beds: 2}}\nfloors: {1: a}\n")
    hotel = validate_document(load_yaml(file), Hotel)
    assert hotel.units["a"] == Single(kind="single", room=Room(beds=2))
    assert hotel.floors == {1: "a"}


def test_every_problem_is_at_its_line_without_union_tags(tmp_path: Path) -> None:
    text = (
        "units:\n"  # 1: `name` is missing
        "  a:\n"
        "    kind: suite\n"
        "    rooms:\n"
        "      - {beds: 2, veiw: sea}\n"  # 5: a typo
        "      - {beds: two}\n"  # 6
        "  b: {kind: single, room: {beds: 1, view: roof}}\n"  # 7
        "floors: {x: a}\n"  # 8: a key that is not a number
    )
    assert _problems(tmp_path, text) == [
        "1: missing required key 'name'",
        "5: units.a.rooms[0]: unknown key 'veiw' (did you mean 'view'?)",
        "6: units.a.rooms[1].beds: expected a whole number, found text 'two'",
        "7: units.b.room.view: 'roof' is not a valid view; expected one of sea, garden",
        "8: floors.x: expected a whole number, found text 'x'",
    ]


def test_duplicate_keys_and_tags_are_problems_even_when_the_rest_fits(tmp_path: Path) -> None:
    text = "name: Sea\nunits: {}\nname: Lake\nfloors: {1: !!binary aGk=}\n"
    assert _problems(tmp_path, text) == [
        "3: name: duplicate key 'name' (first at line 1)",
        "4: floors['1']: the tag !!binary is not supported; write a plain YAML value",
    ]


def test_a_document_that_is_not_a_mapping_is_named_at_its_first_line(tmp_path: Path) -> None:
    assert _problems(tmp_path, "\n- a\n- b\n") == [
        "2: expected a mapping (key: value), found a list"
    ]


def test_a_model_may_say_its_own_errors_better(tmp_path: Path) -> None:
    def plainer(error: ErrorDetails, root: object) -> Explanation:
        found = explain(error, root)
        return replace(found, message="beds are counted") if found.loc[-1:] == ("beds",) else found

    file = tmp_path / "hotel.yaml"
    file.write_text("name: Sea\nunits: {a: {kind: single, room: {beds: x}}}\n")
    with pytest.raises(DocumentError) as caught:
        validate_document(load_yaml(file), Hotel, explain=plainer)
    assert caught.value.problems == [
        SourceProblem(file=file, line=2, field="units.a.room.beds", message="beds are counted")
    ]
    assert str(caught.value) == f"{file}:2: units.a.room.beds: beds are counted"
    assert caught.value.listing("the hotel") == (
        f"1 problem in the hotel:\n  {file}:2: units.a.room.beds: beds are counted"
    )


@pytest.mark.parametrize(
    ("loc", "path"),
    [
        ((), ""),
        (("tools", 2, "implementation", "table"), "tools[2].implementation.table"),
        (("answers", "12", 0), "answers['12'][0]"),
        (("rooms", "sea view"), "rooms['sea view']"),
    ],
)
def test_field_paths_read_as_the_author_writes_them(loc: tuple[str | int, ...], path: str) -> None:
    assert field_path(loc) == path
