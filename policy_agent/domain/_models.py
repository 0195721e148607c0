"""The pydantic models of a domain pack: the shared types, the tools and their implementations.

Tasks are in `_tasks`, the `domain.yaml` file itself in `_file`.

These models are the contract between pack authors and the rest of the framework. They check
the shape of each file; cross-references (a task naming a tool, an op naming a table) are
checked by `policy_agent.domain._checks` once the whole pack is loaded, so that every problem
can be reported together with its file and line.

Expressions (preconditions, computed values, assertions) are kept here as source strings. They
are parsed by `policy_agent.expressions`, never evaluated as Python.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from policy_agent.domain._jsonschema import JSON_SCHEMA_TYPES as JSON_SCHEMA_TYPES
from policy_agent.domain._jsonschema import PARAMETER_JSON_SCHEMA, schema_issue


def _yaml_boolean_as_source(value: object) -> object:
    """YAML reads `renewed: true` as a boolean; as an expression it means the literal `true`."""
    return str(value).lower() if isinstance(value, bool) else value


_EXPRESSION_DESCRIPTION = (
    "An expression in the pack expression language, e.g. "
    "`record.cribs + count <= 3` (see docs/expressions.md)."
)
Expression = Annotated[
    str,
    BeforeValidator(_yaml_boolean_as_source),
    Field(description=_EXPRESSION_DESCRIPTION, min_length=1),
    # Unquoted YAML numbers and booleans are expressions too (`count: 3`, `renewed: true`).
    WithJsonSchema(
        {
            "type": ["string", "number", "boolean"],
            "minLength": 1,
            "description": _EXPRESSION_DESCRIPTION,
        }
    ),
]
MessageTemplate = Annotated[
    str,
    Field(
        description=(
            "Text with `{expression}` placeholders, e.g. `Booking {booking_id} is {record.status}.`"
        ),
        min_length=1,
    ),
]
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]


class _Strict(BaseModel):
    """Base for pack models: unknown keys are errors, so a typo never passes silently.

    Numbers are accepted where text is expected because YAML reads `id: 48` and
    `version: 1.0` as numbers; they become the text "48" and "1.0".
    """

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


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


LIST_LIMIT = 100
"""The most records a `list` returns unless its `limit` says otherwise."""


class ListOp(_TableOp):
    """Return the records of a table in id order, one page of at most `limit` at a time."""

    op: Literal["list"]
    fields: list[str] | None = Field(
        default=None, description="Return only these fields of each record (and its id)."
    )
    limit: int = Field(
        default=LIST_LIMIT, ge=1, description="The most records one call returns (a page)."
    )
    after: Expression | None = Field(
        default=None,
        description=(
            "Where the page starts: after the record id this gives, usually a parameter the "
            "model passes the last id of the previous page in; null or '' starts at the first."
        ),
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


def _python_reference_inside(value: str) -> str:
    path = value.rsplit(":", 1)[0]
    if path.startswith(("/", "\\")) or (len(path) > 1 and path[1] == ":"):
        raise ValueError(f"{path!r} is absolute; give a path relative to the repository")
    if ".." in path.replace("\\", "/").split("/"):
        raise ValueError(f"{path!r} leaves the repository ('..'); keep tools inside it")
    return value


PythonReference = Annotated[
    str,
    Field(
        pattern=r"^[^:]+\.py:[A-Za-z_][A-Za-z0-9_]*$",
        description="`path/to/file.py:function`, relative to the pack's repository.",
    ),
    AfterValidator(_python_reference_inside),
]


class PythonImplementation(_Strict):
    """A function in a Python file of the pack's repository: `function(db, **arguments)`."""

    python: PythonReference


def _implementation_tag(value: object) -> str | None:
    """`python` for a Python reference, `steps` for a sequence, else the op's name: keeps
    errors about one variant."""
    if isinstance(value, dict):
        op = "python" if "python" in value else "steps" if "steps" in value else value.get("op")
    elif isinstance(value, PythonImplementation):
        op = "python"
    else:
        op = "steps" if isinstance(value, StepsImplementation) else getattr(value, "op", None)
    return op if isinstance(op, str) else None


Step = Annotated[
    Annotated[GetOp, Tag("get")]
    | Annotated[FindOp, Tag("find")]
    | Annotated[ListOp, Tag("list")]
    | Annotated[CreateOp, Tag("create")]
    | Annotated[UpdateOp, Tag("update")]
    | Annotated[DeleteOp, Tag("delete")]
    | Annotated[RespondOp, Tag("respond")],
    Discriminator(
        _implementation_tag,
        custom_error_type="invalid_step",
        custom_error_message="give `op:` (get, find, list, create, update, delete, respond)",
    ),
]


class StepsImplementation(_Strict):
    """Several ops in one call, run in order, all or nothing: the first refusal (or failure)
    undoes the steps before it. Each step after the first sees `results`, the list of the
    earlier steps' results; the tool returns the last step's result."""

    steps: list[Step] = Field(min_length=1, description="The ops, run in order.")


Implementation = Annotated[
    Annotated[GetOp, Tag("get")]
    | Annotated[FindOp, Tag("find")]
    | Annotated[ListOp, Tag("list")]
    | Annotated[CreateOp, Tag("create")]
    | Annotated[UpdateOp, Tag("update")]
    | Annotated[DeleteOp, Tag("delete")]
    | Annotated[RespondOp, Tag("respond")]
    | Annotated[StepsImplementation, Tag("steps")]
    | Annotated[PythonImplementation, Tag("python")],
    Discriminator(
        _implementation_tag,
        custom_error_type="invalid_implementation",
        custom_error_message=(
            "give `op:` (get, find, list, create, update, delete, respond), "
            "`steps:` (a list of ops) or `python: path/to/file.py:function`"
        ),
    ),
]


# --------------------------------------------------------------------------- tools


def _valid_parameter_schema(schema: dict[str, JsonValue]) -> dict[str, JsonValue]:
    issue = schema_issue(schema)
    if issue is not None:
        keyword, message = issue
        # `keyword` lets the loader point at the offending key's line, not the parameter's.
        raise PydanticCustomError(
            "parameter_schema", "{message}", {"message": message, "keyword": keyword}
        )
    return schema


ParameterSchema = Annotated[
    dict[str, JsonValue],
    AfterValidator(_valid_parameter_schema),
    WithJsonSchema(PARAMETER_JSON_SCHEMA),
]
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
    schema_extras: dict[str, JsonValue] = Field(
        default_factory=dict,
        description=(
            "Other keys of the parameters object, rendered after the parameters in the order "
            "written: `$defs` that parameter schemas `$ref` (`#/$defs/Name`), a `title`, ..."
        ),
    )
    implementation: Implementation

    @model_validator(mode="after")
    def _required_names_parameters(self) -> ToolSpec:
        unknown = [name for name in self.required or [] if name not in self.parameters]
        if unknown:
            raise ValueError(f"`required` names unknown parameters: {', '.join(unknown)}")
        reserved = [key for key in self.schema_extras if key in ("type", "properties", "required")]
        if reserved:
            raise ValueError(f"schema_extras: write {', '.join(reserved)} as the tool's own keys")
        issue = schema_issue(self.schema_extras)
        if issue is not None:
            raise ValueError(f"schema_extras: {issue[1]}")
        return self

    @property
    def required_parameters(self) -> list[str]:
        """The required list the model sees: explicit, or every parameter without a `default`."""
        if self.required is not None:
            return list(self.required)
        return [name for name, schema in self.parameters.items() if "default" not in schema]

    def json_schema(self) -> dict[str, JsonValue]:
        """The parameters as one JSON Schema object, in authored order."""
        properties: dict[str, JsonValue] = {name: dict(s) for name, s in self.parameters.items()}
        schema: dict[str, JsonValue] = {"type": "object", "properties": properties}
        schema.update(self.schema_extras)
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


# --------------------------------------------------------------------------- names and tables


def expression_names(tool: ToolSpec, step: int | None = None) -> frozenset[str]:
    """The names a declarative tool's expressions may use: its parameters, `args`, `now`, and
    `record` when the op finds one by key (not in the key itself); in a `steps` tool, the op of
    step `step`, which after the first also sees `results`. Where a parameter shares one of these
    names, the built-in wins. The loader checks and the environment compiles by it."""
    op: object = tool.implementation
    earlier = []
    if isinstance(op, StepsImplementation):
        assert step is not None, "a steps tool's names depend on the step"
        op, earlier = op.steps[step], ["results"] if step else []
    keyed = isinstance(op, GetOp | UpdateOp | DeleteOp)
    return frozenset([*tool.parameters, "args", "now", *earlier, *(["record"] if keyed else [])])


def _text_or(tag: str) -> Callable[[object], str]:
    """A discriminator choosing `text` for a string and `tag` for anything else."""
    return lambda value: "text" if isinstance(value, str) else tag


Table = dict[str, dict[str, JsonValue]]
"""Records keyed by id; each record is a mapping of field to value."""

Tables = dict[Identifier, Table]
