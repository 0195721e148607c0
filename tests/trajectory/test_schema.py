"""json_schema_of_line: the schema every written line satisfies."""

from __future__ import annotations

import json
from datetime import datetime
from enum import Enum
from pathlib import Path

import jsonschema
from pydantic import BaseModel, Field

from policy_agent.trajectory import RunStore, json_schema_of_line

from ._support import NOW, new_run


class Outcome(Enum):
    SOLVED = "solved"
    FAILED = "failed"


class Turn(BaseModel):
    role: str
    text: str | None = None


class Record(BaseModel):
    """An episode-like record with nesting, enums, dates and computed defaults."""

    task_id: str
    outcome: Outcome
    ended: datetime
    turns: list[Turn] = Field(default_factory=list)
    reward: float | None = None


def test_schema_is_draft_2020_12_and_names_the_file() -> None:
    schema = json_schema_of_line(Record)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$comment"] == "One line of a run's episodes.jsonl: one Record as JSON."
    assert schema["title"] == "Record"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_every_written_line_satisfies_the_schema(tmp_path: Path) -> None:
    records = [
        Record(task_id="t1", outcome=Outcome.SOLVED, ended=NOW, reward=1.0),
        Record(
            task_id="t2",
            outcome=Outcome.FAILED,
            ended=NOW,
            turns=[Turn(role="user", text="hi"), Turn(role="assistant")],
        ),
    ]
    store = new_run(tmp_path)
    for record in records:
        store.append(record)
    store.close()
    validator = jsonschema.Draft202012Validator(json_schema_of_line(Record))
    lines = list(RunStore.open(store.directory).iter_lines())
    assert len(lines) == 2
    for line in lines:
        validator.validate(line.value)
    bad = {**lines[0].value, "outcome": "maybe"}
    assert not validator.is_valid(bad)
    assert json.loads(json.dumps(json_schema_of_line(Record))) == json_schema_of_line(Record)
