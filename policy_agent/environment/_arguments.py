"""Checking a call's arguments against the tool's JSON Schema, in messages a model can act on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from jsonschema import Draft202012Validator, SchemaError, ValidationError, validators
from jsonschema.protocols import Validator
from pydantic import JsonValue

from policy_agent.domain import ToolSpec
from policy_agent.environment._errors import ToolDefinitionError, ToolError
from policy_agent.environment._records import copy_json


def _is_integer(_checker: object, instance: object) -> bool:
    # Stricter than JSON Schema, which counts 3.0 as an integer: a tool declared with an
    # integer parameter then gets a Python int, never a float.
    return isinstance(instance, int) and not isinstance(instance, bool)


_ArgumentsValidator = validators.extend(  # type: ignore[no-untyped-call]  # untyped in the stubs
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)


class ArgumentChecker:
    """Validates one tool's arguments; built once per tool and reused for every call."""

    def __init__(self, tool: ToolSpec) -> None:
        """Prepare the validator; ToolDefinitionError if the tool's parameter schema is invalid."""
        self.tool_name = tool.name
        self.parameter_names = list(tool.parameters)
        self.defaults: dict[str, JsonValue] = {
            name: schema["default"]
            for name, schema in tool.parameters.items()
            if "default" in schema
        }
        """The `default` of every parameter that declares one."""
        # Shown to the model without it; checked with it, so a misspelt argument is reported.
        schema = {**tool.json_schema(), "additionalProperties": False}
        try:
            _ArgumentsValidator.check_schema(schema)
        except SchemaError as error:
            raise ToolDefinitionError(
                f"tool {tool.name}: parameters{_path(error.absolute_path, lead='.')}: "
                f"{error.message}; fix the parameter's JSON Schema"
            ) from None
        self._validator: Validator = _ArgumentsValidator(schema)

    def check(self, arguments: Mapping[str, JsonValue]) -> None:
        """Raise ToolError with one short message for the first problem with the arguments."""
        errors = sorted(self._validator.iter_errors(dict(arguments)), key=_priority)
        if errors:
            raise ToolError(self._message(errors[0]))

    def with_defaults(self, arguments: Mapping[str, JsonValue]) -> dict[str, JsonValue]:
        """The arguments plus the declared `default` of each optional parameter not passed."""
        defaults = {
            name: copy_json(value, where=f"{self.tool_name}.{name}.default")
            for name, value in self.defaults.items()
            if name not in arguments
        }
        return {**defaults, **arguments}

    def _message(self, error: ValidationError) -> str:
        where = _path(error.absolute_path)
        tool = self.tool_name
        keyword, expected, value = error.validator, error.validator_value, error.instance
        if keyword == "required" and isinstance(expected, list) and isinstance(value, dict):
            name = next(str(n) for n in expected if n not in value)
            return f"missing required argument '{_join(where, name)}' for {tool}"
        properties = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        unknown = [k for k in value if k not in properties] if isinstance(value, dict) else []
        if keyword == "additionalProperties" and unknown:
            accepted = ", ".join(properties) or "none"
            kind = f"fields of '{where}'" if where else "arguments"
            return (
                f"unknown argument '{_join(where, unknown[0])}' for {tool}; "
                f"its {kind} are: {accepted}"
            )
        if keyword == "type" and isinstance(expected, str | list):
            names = expected if isinstance(expected, list) else [expected]
            wanted = " or ".join(_TYPE_NAMES.get(str(n), str(n)) for n in names)
            got = f"{_json_type(value)} ({_show(value)})"
            return f"argument '{where}' of {tool} must be {wanted}, not {got}"
        if keyword == "enum" and isinstance(expected, list):
            options = ", ".join(_show(v) for v in expected)
            return f"argument '{where}' of {tool} must be one of {options}; got {_show(value)}"
        return f"argument '{where}' of {tool} is invalid: {error.message}"


_TYPE_NAMES = {  # `integer` before `number`: 3 is reported as an integer
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "array": "an array",
    "object": "an object",
    "null": "null",
}


def _priority(error: ValidationError) -> tuple[int, int, str]:
    """Outermost first; at one level a misspelt name, then a missing one, then bad values."""
    rank = {"additionalProperties": 0, "required": 1}.get(str(error.validator), 2)
    return (len(error.absolute_path), rank, _path(error.absolute_path))


def _path(parts: Iterable[str | int], *, lead: str = "") -> str:
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts).lstrip(".")
    return f"{lead}{text}" if text else ""


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _json_type(value: object) -> str:
    """`an integer`, `a string`, ...: the first JSON Schema type the value has."""
    checker = _ArgumentsValidator.TYPE_CHECKER
    return next(_TYPE_NAMES[name] for name in _TYPE_NAMES if checker.is_type(value, name))


def _show(value: object, limit: int = 40) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."
