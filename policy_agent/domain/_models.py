"""The pydantic models of a domain pack: what a `domain.yaml` (and the files it names) may say.

These models are the contract between pack authors and the rest of the framework. They check
the shape of each file; cross-references (a task naming a tool, an op naming a table) are
checked by `policy_agent.domain._checks` once the whole pack is loaded, so that every problem
can be reported together with its file and line.

Expressions (preconditions, computed values, assertions) are kept here as source strings. They
are parsed by `policy_agent.expressions`, never evaluated as Python.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)

JSON_SCHEMA_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
"""The type names JSON Schema knows; a parameter's `type` must be one of these (or a list of them)."""

Expression = Annotated[
    str,
    Field(
        description=(
            "An expression in the pack expression language, e.g. "
            "`record.cribs + count <= 3` (see docs/expressions.md)."
        ),
        min_length=1,
    ),
]
MessageTemplate = Annotated[
    str,
    Field(
        description=(
            "Text with `{expression}` placeholders, e.g. "
            "`Booking {booking_id} is {record.status}.`"
        ),
        min_length=1,
    ),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    """Base for pack models: unknown keys are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ToolKind(StrEnum):
    """What a tool does to the world; used for reporting and for the oracle, as in tau2-bench."""

    READ = "read"
    WRITE = "write"
    THINK = "think"
    TRANSFER = "transfer"
    GENERIC = "generic"


# --------------------------------------------------------------------------- implementations


class Precondition(_Strict):
    """A rule that must hold before an op runs; otherwise the tool returns `error` to the model."""

    check: Expression
    error: MessageTemplate


class _Op(_Strict):
    preconditions: list[Precondition] = Field(
        default_factory=list,
        description="Checked in order before the op runs; the first that fails is the result.",
    )
    returns: Expression | None = Field(
        default=None,
        description="What the tool returns instead of the op's default result.",
    )


class _TableOp(_Op):
    table: Identifier = Field(description="A table of the pack's database.")


class _KeyedOp(_TableOp):
    key: Expression = Field(
        description=(
            "The id of the record, usually the name of an argument (`booking_id`). "
            "The record is bound as `record` in preconditions, values and `returns`."
        )
    )


class GetOp(_KeyedOp):
    """Return one record by id; an unknown id is an error result."""

    op: Literal["get"]


class FindOp(_TableOp):
    """Return the records whose fields equal the given values (all must match)."""

    op: Literal["find"]
    match: dict[str, Expression] = Field(
        description="Field name to expression; a record matches when every field is equal."
    )
    fields: list[str] | None = Field(
        default=None, description="Return only these fields of each record (and its id)."
    )


class ListOp(_TableOp):
    """Return every record of a table (optionally only some fields)."""

    op: Literal["list"]
    fields: list[str] | None = Field(
        default=None, description="Return only these fields of each record (and its id)."
    )


class CreateOp(_TableOp):
    """Insert a new record and return it."""

    op: Literal["create"]
    id: Expression | None = Field(
        default=None, description="The new record's id; give this or `id_prefix`."
    )
    id_prefix: str | None = Field(
        default=None,
        description=(
            "Generate the id as this prefix plus the next free number, "
            "padded like the table's existing ids (B11246 -> B11247)."
        ),
    )
    values: dict[str, Expression] = Field(description="Field name to expression.")

    @model_validator(mode="after")
    def _one_id_source(self) -> CreateOp:
        if (self.id is None) == (self.id_prefix is None):
            raise ValueError("give exactly one of `id` and `id_prefix`")
        return self


class UpdateOp(_KeyedOp):
    """Change fields of one record and return the updated record."""

    op: Literal["update"]
    set: dict[str, Expression] = Field(description="Field name to its new value (an expression).")


class DeleteOp(_KeyedOp):
    """Remove one record and return it."""

    op: Literal["delete"]


class RespondOp(_Op):
    """Touch no data; return the value of `returns` (think, transfer, calculators)."""

    op: Literal["respond"]
    returns: Expression | None = Field(
        default=None, description="The result; the default is an empty string."
    )


DeclarativeOp = GetOp | FindOp | ListOp | CreateOp | UpdateOp | DeleteOp | RespondOp


class PythonImplementation(_Strict):
    """A function in a Python file of the pack's repository, called as `function(db, **arguments)`."""

    python: str = Field(
        pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$",
        description="`path/to/file.py:function`, relative to the pack's repository.",
    )

    @field_validator("python")
    def _stays_inside(cls, value: str) -> str:
        path = value.rsplit(":", 1)[0]
        if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
            raise ValueError(f"{path!r} is absolute; give a path relative to the repository")
        if ".." in path.replace("\\", "/").split("/"):
            raise ValueError(f"{path!r} leaves the repository ('..'); keep tools inside it")
        return value


def _implementation_tag(value: object) -> str | None:
    """`python` for a Python reference, else the op's name: keeps errors about one variant."""
    if isinstance(value, dict):
        return "python" if "python" in value else value.get("op")
    if isinstance(value, PythonImplementation):
        return "python"
    return getattr(value, "op", None)


Implementation = Annotated[
    Annotated[GetOp, Tag("get")]
    | Annotated[FindOp, Tag("find")]
    | Annotated[ListOp, Tag("list")]
    | Annotated[CreateOp, Tag("create")]
    | Annotated[UpdateOp, Tag("update")]
    | Annotated[DeleteOp, Tag("delete")]
    | Annotated[RespondOp, Tag("respond")]
    | Annotated[PythonImplementation, Tag("python")],
    Discriminator(
        _implementation_tag,
        custom_error_type="invalid_implementation",
        custom_error_message=(
            "give `op:` (get, find, list, create, update, delete, respond) "
            "or `python: path/to/file.py:function`"
        ),
    ),
]


# --------------------------------------------------------------------------- tools


def _valid_parameter_schema(schema: dict[str, JsonValue]) -> dict[str, JsonValue]:
    _check_schema_types(schema)
    return schema


ParameterSchema = Annotated[dict[str, JsonValue], AfterValidator(_valid_parameter_schema)]
"""One parameter's JSON Schema, every key kept in the order written."""


class ToolSpec(_Strict):
    """One function the agent (or the user, for user tools) can call."""

    name: Identifier
    description: str = ""
    kind: ToolKind = ToolKind.GENERIC
    parameters: dict[Identifier, ParameterSchema] = Field(
        default_factory=dict,
        description=(
            "JSON Schema properties in the order they are shown to the model. Every key "
            "written here (type, description, enum, items, title, default, ...) is rendered."
        ),
    )
    required: list[str] | None = Field(
        default=None,
        description="Required parameters; by default every parameter without a `default`.",
    )
    implementation: Implementation

    @model_validator(mode="after")
    def _required_names_parameters(self) -> ToolSpec:
        unknown = [name for name in self.required or [] if name not in self.parameters]
        if unknown:
            raise ValueError(f"`required` names unknown parameters: {', '.join(unknown)}")
        return self

    @property
    def required_parameters(self) -> list[str]:
        """The required list as the model sees it (explicit, or every parameter without a default)."""
        if self.required is not None:
            return list(self.required)
        return [name for name, schema in self.parameters.items() if "default" not in schema]

    def json_schema(self) -> dict[str, JsonValue]:
        """The parameters as one JSON Schema object, in authored order."""
        properties: dict[str, JsonValue] = {name: dict(s) for name, s in self.parameters.items()}
        schema: dict[str, JsonValue] = {"type": "object", "properties": properties}
        required = self.required_parameters
        if required or self.required is not None:
            schema["required"] = list(required)
        return schema

    def openai_schema(self) -> dict[str, JsonValue]:
        """The tool in OpenAI function-calling format (`{"type": "function", "function": ...}`)."""
        function: dict[str, JsonValue] = {"name": self.name}
        if self.description:
            function["description"] = self.description
        function["parameters"] = self.json_schema()
        return {"type": "function", "function": function}


def _check_schema_types(schema: dict[str, JsonValue], *, where: str = "") -> None:
    """Reject `type` values JSON Schema does not know, here and in nested items/properties."""
    declared = schema.get("type")
    names = declared if isinstance(declared, list) else [declared] if declared is not None else []
    for name in names:
        if not isinstance(name, str) or name not in JSON_SCHEMA_TYPES:
            raise ValueError(
                f"{where + ': ' if where else ''}type {name!r} is not a JSON Schema type; "
                f"use one of {', '.join(sorted(JSON_SCHEMA_TYPES))}"
            )
    items = schema.get("items")
    if isinstance(items, dict):
        _check_schema_types(items, where=f"{where}.items" if where else "items")
    properties = schema.get("properties")
    if isinstance(properties, dict):
        for key, sub in properties.items():
            if isinstance(sub, dict):
                _check_schema_types(sub, where=f"{where}.{key}" if where else key)


# --------------------------------------------------------------------------- tasks


class RewardType(StrEnum):
    """The components a task's reward can be made of (tau2-bench's names)."""

    DB = "DB"
    ENV_ASSERTION = "ENV_ASSERTION"
    NL_ASSERTION = "NL_ASSERTION"
    ACTION = "ACTION"
    COMMUNICATE = "COMMUNICATE"


class TaskDescription(_Strict):
    """Notes for people reading the task; never shown to the models."""

    purpose: str | None = None
    relevant_policies: str | None = None
    notes: str | None = None


class StructuredInstructions(_Strict):
    """What the simulated user is told, in tau2-bench's structure."""

    domain: str | None = None
    reason_for_call: str
    known_info: str | None = None
    unknown_info: str | None = None
    task_instructions: str


class UserScenario(_Strict):
    """The customer the user simulator plays."""

    persona: str | None = None
    instructions: StructuredInstructions | str
    script: list[str] | None = Field(
        default=None,
        description=(
            "Lines for the scripted user, said in order (deterministic runs); "
            "the last one should end the call, e.g. with ###STOP###."
        ),
    )


class Action(_Strict):
    """A tool call the agent is expected to make."""

    action_id: str
    requestor: Literal["assistant", "user"] = "assistant"
    name: str
    arguments: dict[str, JsonValue] = Field(default_factory=dict)
    info: str | None = None
    compare_args: list[str] | None = Field(
        default=None,
        description=(
            "Arguments compared with the agent's call: null compares all, [] the name only."
        ),
    )


class EnvAssertion(_Strict):
    """A statement about the final database that must hold (an expression over `db`)."""

    check: Expression
    env_type: Literal["assistant", "user"] = "assistant"
    message: str | None = None


class EvaluationCriteria(_Strict):
    """How an episode of the task is scored, as in tau2-bench."""

    actions: list[Action] = Field(default_factory=list)
    env_assertions: list[EnvAssertion] = Field(default_factory=list)
    communicate_info: list[str] = Field(default_factory=list)
    nl_assertions: list[str] = Field(default_factory=list)
    reward_basis: list[RewardType] = Field(
        default_factory=lambda: [RewardType.DB, RewardType.COMMUNICATE],
        description="The components whose product is the reward (tau2-bench's default).",
    )


class Task(_Strict):
    """One scenario to simulate and the criteria to score it by."""

    id: str = Field(min_length=1)
    description: TaskDescription | None = None
    user_scenario: UserScenario
    evaluation_criteria: EvaluationCriteria = Field(default_factory=EvaluationCriteria)


# --------------------------------------------------------------------------- the pack

Table = dict[str, dict[str, JsonValue]]
"""Records keyed by id; each record is a mapping of field to value."""

Tables = dict[Identifier, Table]


class PolicyFile(_Strict):
    """A policy kept in its own (Markdown) file next to `domain.yaml`."""

    file: str


class DomainFile(_Strict):
    """The contents of `domain.yaml`. Strings in place of tools, database or tasks are file paths."""

    name: Identifier = Field(description="The domain's name, e.g. `hotel`.")
    description: str = ""
    version: str = "0.1.0"
    policy: str | PolicyFile = Field(
        description="The policy text, or `{file: policy.md}` to keep it in a Markdown file."
    )
    clock: str | None = Field(
        default=None,
        description=(
            "The simulated current time (ISO 8601, e.g. `2025-06-04T09:00:00`), "
            "seen by expressions as `now`; keeps time rules deterministic."
        ),
    )
    tools: list[ToolSpec] | str = Field(description="The agent's tools, or a YAML file of them.")
    user_tools: list[ToolSpec] | str = Field(
        default_factory=list,
        description="Tools the simulated user may call (dual control, as telecom in tau2-bench).",
    )
    database: Tables | str = Field(
        description="Tables of records keyed by id, or a YAML/JSON file holding them."
    )
    user_database: Tables | str = Field(
        default_factory=dict, description="The user-side state that user tools act on."
    )
    tasks: list[Task] | str = Field(
        default_factory=list, description="The tasks, or a YAML/JSON file holding a list of them."
    )
