"""Functions as the model sees them: the `<function>` blocks of the system prompt.

The rendering follows the Nemotron-3-Nano chat template (which Cascade-2 inherits) character for
character, so that a prompt we build ourselves ("card" style) and the one the server builds from
`tools=` ("template" style) list the functions identically:

- keys of a parameter render in the order name, type, description, enum, then every other key in
  the order written (`title`, `items`, `default`, ...); a parameter key called `name` is skipped;
- other keys of the parameters object (`additionalProperties`, `$defs`, ...) follow the
  parameter list, then `<required>`; other keys of the function object (`strict`, ...) follow
  `</parameters>`;
- mappings and lists render as JSON with `", "` and `": "` separators and non-ASCII kept as is
  (transformers replaces Jinja's `tojson` with `json.dumps(..., ensure_ascii=False)`); every
  other value renders as Python `str()` (the template's `| string`): a list-valued `type` becomes
  `['string', 'null']`, `true` becomes `True`, `null` becomes `None`;
- descriptions are trimmed (`| trim`, i.e. `str.strip()`).

vLLM hands the template its own dump of each tool (`ChatCompletionToolsParam.model_dump()`), not
the dict the client sent: a tool without a description arrives with `description: None`, which
the template renders as `<description>None</description>`, and from 0.27 only the declared
fields of the function object survive (`strict` when set). `render_function(spec, served_by=...)`
renders that view.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.format._profiles import ServerProfile

_PARAMETER_KEYS = frozenset({"name", "type", "description", "enum"})
_PARAMETERS_KEYS = frozenset({"type", "properties", "required"})
_FUNCTION_KEYS = frozenset({"type", "name", "description", "parameters"})
# The function-object fields vLLM 0.27+ keeps besides name, description and parameters.
_SERVED_FUNCTION_KEYS = frozenset({"strict", "defer_loading"})


class FunctionSpecError(PolicyAgentError, ValueError):
    """A tool definition is not in OpenAI function-calling format; the message names the field."""


@dataclass(frozen=True, kw_only=True)
class FunctionSpec:
    """One function offered to the model, as the chat template reads it."""

    name: str
    description: str | None = None
    """None means the tool has no description (no `<description>` line)."""
    parameters: Mapping[str, JsonValue] = field(default_factory=dict)
    """The JSON Schema object of the arguments (`type`, `properties`, `required`, ...)."""
    extras: Mapping[str, JsonValue] = field(default_factory=dict)
    """Any other keys of the OpenAI `function` object (e.g. `strict`), in order."""

    @classmethod
    def from_openai(cls, tool: object, *, where: str = "tool") -> FunctionSpec:
        """Read `{"type": "function", "function": {...}}`; `where` prefixes error messages."""
        if not isinstance(tool, dict):
            raise FunctionSpecError(
                f"{where}: expected an object like "
                f'{{"type": "function", "function": {{"name": ...}}}}, got {_kind(tool)}'
            )
        if tool.get("type") != "function":
            raise FunctionSpecError(
                f'{where}.type: expected "function", got {json.dumps(tool.get("type"))}'
            )
        function = tool.get("function")
        if not isinstance(function, dict):
            raise FunctionSpecError(f"{where}.function: expected an object, got {_kind(function)}")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise FunctionSpecError(
                f"{where}.function.name: expected a non-empty string, got {_kind(name)}"
            )
        description = function.get("description")
        if description is not None and not isinstance(description, str):
            raise FunctionSpecError(
                f"{where}.function.description: expected a string, got {_kind(description)}"
            )
        parameters = function.get("parameters")
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise FunctionSpecError(
                f"{where}.function.parameters: expected a JSON Schema object, got "
                f"{_kind(parameters)}"
            )
        properties = parameters.get("properties")
        if properties is not None and not isinstance(properties, dict):
            raise FunctionSpecError(
                f"{where}.function.parameters.properties: expected an object mapping parameter "
                f"names to schemas, got {_kind(properties)}"
            )
        extras = {k: v for k, v in function.items() if k not in _FUNCTION_KEYS}
        return cls(name=name, description=description, parameters=parameters, extras=extras)

    @property
    def properties(self) -> Mapping[str, JsonValue]:
        """The parameter schemas by name (empty when the schema declares none)."""
        properties = self.parameters.get("properties")
        return properties if isinstance(properties, dict) else {}


def functions_from_openai(tools: object, *, where: str = "tools") -> tuple[FunctionSpec, ...]:
    """Read a JSON list of OpenAI-format tools; errors name the offending index."""
    if not isinstance(tools, list):
        raise FunctionSpecError(f"{where}: expected a list of tools, got {_kind(tools)}")
    return tuple(
        FunctionSpec.from_openai(tool, where=f"{where}[{i}]") for i, tool in enumerate(tools)
    )


def render_function(spec: FunctionSpec, *, served_by: ServerProfile | None = None) -> str:
    """One `<function>...</function>\\n` block, exactly as the chat template renders it.

    `served_by` None renders the tool as given (card style: we write the prompt); a profile
    renders it as that vLLM release hands it to the template (template style, `tools=`).
    """
    lines = ["<function>", f"<name>{spec.name}</name>"]
    if spec.description is not None:
        lines.append(f"<description>{spec.description.strip()}</description>")
    elif served_by is not None:
        # The server's dump carries `description: None`, and `None | trim` is "None".
        lines.append("<description>None</description>")
    lines.append("<parameters>")
    for name, schema in spec.properties.items():
        lines += ["<parameter>", f"<name>{name}</name>"]
        # A schema that is not an object (e.g. `true`) contributes no keys, as in the template.
        if isinstance(schema, dict):
            if "type" in schema:
                lines.append(f"<type>{schema['type']}</type>")
            if "description" in schema:
                lines.append(f"<description>{str(schema['description']).strip()}</description>")
            if "enum" in schema:
                lines.append(f"<enum>{_json(schema['enum'])}</enum>")
            lines += _extra_keys(schema, _PARAMETER_KEYS)
        lines.append("</parameter>")
    lines += _extra_keys(spec.parameters, _PARAMETERS_KEYS)
    if "required" in spec.parameters:
        lines.append(f"<required>{_json(spec.parameters['required'])}</required>")
    lines.append("</parameters>")
    extras = spec.extras
    if served_by is not None and served_by.drops_unknown_tool_keys:
        extras = {k: v for k, v in extras.items() if k in _SERVED_FUNCTION_KEYS and v is not None}
    lines += _extra_keys(extras, _FUNCTION_KEYS)
    lines.append("</function>")
    return "\n".join(lines) + "\n"


def render_functions(
    specs: Iterable[FunctionSpec], *, served_by: ServerProfile | None = None
) -> str:
    """The concatenated `<function>` blocks that go between `<tools>\\n` and `</tools>`."""
    return "".join(render_function(spec, served_by=served_by) for spec in specs)


def _extra_keys(values: Mapping[str, JsonValue], handled: frozenset[str]) -> list[str]:
    return [
        f"<{key}>{_json(value) if isinstance(value, dict | list) else str(value)}</{key}>"
        for key, value in values.items()
        if key not in handled
    ]


def _json(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {json.dumps(value, default=str)[:60]}"
