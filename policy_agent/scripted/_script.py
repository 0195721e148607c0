"""What a scripted-server YAML file may say: canned answers per role, with faults and latency.

A script maps each role (the `model` field of a request; litellm strips its `hosted_vllm/`
prefix, so `hosted_vllm/agent` arrives as `agent`) to answers given in order (`mode: sequence`),
chosen by matching the last message (`mode: rules`), or kept apart by the request's `seed`
(`mode: by_seed`, what `policy-agent script-from-run` writes). See `tests/scripted/fixtures/`
for examples.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    ValidationError,
    field_validator,
    model_validator,
)


class _Strict(BaseModel):
    """Unknown keys are errors, so a typo in a script never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptedToolCall(_Strict):
    """A structured tool call, as vLLM's tool parser returns it when a request carries `tools=`."""

    name: str = Field(min_length=1)
    arguments: dict[str, JsonValue] | str = Field(
        default_factory=dict,
        description=(
            "The arguments; a mapping is sent as JSON, a string is sent verbatim "
            "(write broken JSON here to test malformed calls)."
        ),
    )
    id: str | None = Field(default=None, description="The call id; default `call_<n>`.")


class Fault(_Strict):
    """Answer with this HTTP status and body instead of a completion."""

    status: int = Field(
        default=500,
        ge=200,
        le=599,
        description="HTTP status, e.g. 500, 429, 400 (200 with a garbage body tests bad JSON).",
    )
    body: JsonValue = Field(
        default=None,
        description=(
            "The response body: a mapping or list is sent as JSON, a string verbatim "
            "(write broken JSON here); none gives an OpenAI-style error object naming the status."
        ),
    )
    content_type: str = Field(
        default="application/json",
        pattern=r"^[\w.+-]+/[\w.+-]+$",
        description="e.g. text/html for a proxy's error page (no charset parameter).",
    )


class Answer(_Strict):
    """One canned reply. A bare string in YAML is short for `{content: ...}`."""

    content: str | None = Field(default=None, description="message.content (chat).")
    reasoning: str | None = Field(
        default=None, description="The reasoning, sent as message.reasoning (chat)."
    )
    tool_calls: list[ScriptedToolCall] = Field(
        default_factory=list, description="message.tool_calls (chat, template style)."
    )
    text: str | None = Field(
        default=None,
        description=(
            "The raw completion for /v1/completions; cut at the request's first stop string, "
            "as vLLM does."
        ),
    )
    finish_reason: Literal["stop", "length", "tool_calls"] | None = Field(
        default=None,
        description="Default: `tool_calls` when there are tool calls, else `stop`. "
        "`length` simulates output cut off at max_tokens.",
    )
    latency_ms: float | None = Field(
        default=None, ge=0, description="Wait this long before answering (default: the script's)."
    )
    fault: Fault | None = None
    hang: bool = Field(
        default=False,
        description="Never answer (until the client gives up or the server stops): a timeout.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_string_is_content(cls, data: object) -> object:
        return {"content": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _says_something(self) -> Answer:
        if self.hang and self.fault is not None:
            raise ValueError("an answer either hangs or has a fault, not both")
        replies = (self.content, self.reasoning, self.text)
        silent = all(r is None for r in replies) and not self.tool_calls
        if silent and not self.hang and self.fault is None:
            raise ValueError(
                "an answer needs content, reasoning, tool_calls, text, a fault or hang: true"
            )
        return self


class SequenceRole(_Strict):
    """Answers given in order, one per request."""

    mode: Literal["sequence"] = "sequence"
    answers: list[Answer] = Field(min_length=1)
    when_exhausted: Literal["error", "repeat_last", "cycle"] = Field(
        default="error",
        description="After the last answer: HTTP 500 naming the role, repeat the last, or restart.",
    )


class Rule(_Strict):
    """Answer when the last message (chat) or the prompt (completions) matches."""

    contains: str | None = Field(default=None, description="A substring to look for.")
    regex: str | None = Field(default=None, description="A Python regex, searched for.")
    answer: Answer

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as error:
                raise ValueError(f"{value!r} is not a valid regex: {error}") from None
        return value

    @model_validator(mode="after")
    def _one_matcher(self) -> Rule:
        if (self.contains is None) == (self.regex is None):
            raise ValueError("give exactly one of `contains` and `regex`")
        return self


class RulesRole(_Strict):
    """The first rule that matches gives the answer; otherwise the fallback (or HTTP 500)."""

    mode: Literal["rules"]
    rules: list[Rule] = Field(min_length=1)
    fallback: Answer | None = None


class SeedRole(_Strict):
    """Answers kept apart by the request's `seed`; each seed's answers are given in order.

    The runner sends every model call of an episode with the episode's seed (attempt n of a
    turn with seed + n - 1), so episodes that run at the same time draw from their own lists:
    a recorded run replays exactly however its episodes interleave.
    """

    mode: Literal["by_seed"]
    answers: dict[int, Annotated[list[Answer], Field(min_length=1)]] = Field(
        min_length=1,
        description="Per seed, the answers to the requests sent with that seed, in order; "
        "a request with another seed, or one more than its list holds, is an HTTP 500.",
    )


def _mode(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("mode", "sequence"))
    return str(getattr(value, "mode", "sequence"))


_ROLE_TAGS = frozenset({"sequence", "rules", "by_seed"})

Role = Annotated[
    Annotated[SequenceRole, Tag("sequence")]
    | Annotated[RulesRole, Tag("rules")]
    | Annotated[SeedRole, Tag("by_seed")],
    Discriminator(_mode),
]


class Script(_Strict):
    """A whole script: defaults, then the answers of each role."""

    latency_ms: float = Field(default=0, ge=0, description="Default wait before each answer.")
    reasoning_field: Literal["reasoning", "reasoning_content"] = Field(
        default="reasoning",
        description=(
            "The message field carrying reasoning: vLLM >= 0.17 sends `reasoning`, "
            "older versions `reasoning_content`."
        ),
    )
    require_api_key: str | None = Field(
        default=None,
        description="Answer 401 unless the request carries `Authorization: Bearer <this>` "
        "(like `vllm serve --api-key`).",
    )
    roles: dict[str, Role] = Field(min_length=1)


class ScriptError(Exception):
    """A script file could not be loaded; the message lists each problem with file and line."""


def load_script(path: Path) -> Script:
    """Read and validate a script file; ScriptError gives file, line and field of each problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScriptError(f"{path}: cannot read the script: {error.strerror}") from None
    loader = yaml.SafeLoader(text)
    loader.name = str(path)  # YAML syntax errors then name the file, not "<unicode string>"
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as error:
        raise ScriptError(f"{path}: not valid YAML: {error}") from None
    finally:
        loader.dispose()
    if node is None:
        raise ScriptError(f"{path}: the script is empty; it needs at least `roles:`")
    try:
        return Script.model_validate(data)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            line, field = _locate(node, problem["loc"])
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"  {path}:{line}: {field or '(top level)'}: {message}")
        count = len(lines)
        raise ScriptError(
            f"{count} problem{'s' if count != 1 else ''} in the script:\n" + "\n".join(lines)
        ) from None


def _locate(node: yaml.Node, loc: tuple[int | str, ...]) -> tuple[int, str]:
    """1-based line and dotted field of the value at pydantic's `loc`, as deep as the YAML goes.

    pydantic puts a role's union tag (`sequence`, `rules`, `by_seed`) into `loc`; it is left out
    when the part after it is a key of the same YAML mapping.
    """
    parts: list[str] = []
    for position, part in enumerate(loc):
        following = loc[position + 1] if position + 1 < len(loc) else None
        if part in _ROLE_TAGS and following is not None and _child(node, following) is not None:
            continue
        parts.append(str(part))
        child = _child(node, part)
        if child is not None:
            node = child
    return int(node.start_mark.line) + 1, ".".join(parts)


def _child(node: yaml.Node, part: int | str) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        # Keys are compared as written: pydantic gives a seed key as an int, YAML as text.
        return next((value for key, value in node.value if key.value == str(part)), None)
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
        child: yaml.Node = node.value[part]
        return child
    return None
