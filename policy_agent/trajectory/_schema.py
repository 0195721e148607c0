"""The JSON Schema of one `episodes.jsonl` line, for `policy-agent schema trajectory`."""

from __future__ import annotations

from pydantic import BaseModel, JsonValue

from policy_agent.trajectory._lines import EPISODES_NAME


def json_schema_of_line(model_type: type[BaseModel]) -> dict[str, JsonValue]:
    """The JSON Schema (draft 2020-12) that every line of a run's episode log satisfies.

    Lines are written with `model_dump_json`, so this is the model's serialization schema: what
    is in the file, as opposed to what validation would accept.
    """
    schema: dict[str, JsonValue] = model_type.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$comment": f"One line of a run's {EPISODES_NAME}: one {model_type.__name__} as JSON.",
        **schema,
    }
