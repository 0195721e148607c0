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

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    JsonValue,
    Tag,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails

from policy_agent.errors import PolicyAgentError
from policy_agent.yamlsource import (
    DocumentError,
    Explanation,
    SourceError,
    explain,
    load_yaml,
    show_value,
    validate_document,
)


class _Strict(BaseModel):
    """Unknown keys are errors, so a typo in a script never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ScriptedToolCall(_Strict):
    """A structured tool call, as vLLM's tool parser returns it when a request carries `tools=`."""

    name: str = Field(min_length=1)
    arguments: Annotated[
        Annotated[dict[str, JsonValue], Tag("mapping")] | Annotated[str, Tag("text")],
        # Tagged, so that anything else is reported against the mapping a call usually has.
        Discriminator(lambda value: "text" if isinstance(value, str) else "mapping"),
    ] = Field(
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
    trickle_ms: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Send the headers at once, then the body one byte every this many milliseconds: "
            "a server that is slow but never silent for long, so no read timeout fires."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_string_is_content(cls, data: object) -> object:
        return {"content": data} if isinstance(data, str) else data

    @model_validator(mode="after")
    def _says_something(self) -> Answer:
        if self.hang and self.fault is not None:
            raise ValueError("an answer either hangs or has a fault, not both")
        if self.hang and self.trickle_ms is not None:
            raise ValueError("an answer either hangs or trickles its body, not both")
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


_MODES = "sequence (the default), rules or by_seed"


def _mode(value: object) -> str:
    if isinstance(value, dict):
        return str(value.get("mode", "sequence"))
    return str(getattr(value, "mode", "sequence"))


Role = Annotated[
    Annotated[SequenceRole, Tag("sequence")]
    | Annotated[RulesRole, Tag("rules")]
    | Annotated[SeedRole, Tag("by_seed")],
    Discriminator(
        _mode,
        custom_error_type="invalid_mode",
        custom_error_message=f"`mode` must be {_MODES}",
    ),
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
    single_model: str | None = Field(
        default=None,
        min_length=1,
        description="Serve one model of this name, as llama.cpp's server does: every request is "
        "answered from the script's only role whatever `model` it names, and the answers and "
        "GET /v1/models give this name.",
    )
    return_token_ids: bool = Field(
        default=True,
        description=(
            "Honour vLLM's `return_token_ids` and `logprobs` request fields with the stand-in "
            "tokenizer's ids and logprobs (policy_agent/scripted/_tokenizer.py); false stands "
            "for a server that ignores them and sends neither."
        ),
    )
    prompt_tokens_details: bool = Field(
        default=False,
        description=(
            "Report `usage.prompt_tokens_details.cached_tokens`, as `vllm serve "
            "--enable-prompt-tokens-details` with prefix caching does (stand-in blocks of 16)."
        ),
    )
    vllm_version: str | None = Field(
        default=None,
        min_length=1,
        description='Answer GET /version with `{"version": <this>}`, as vLLM does (e.g. '
        "`0.17.1`), so a run detects that release's server profile; none: 404, as a server "
        "that is not vLLM answers.",
    )
    chat_template: Literal["card", "ignores_thinking", "none"] = Field(
        default="card",
        description="What POST /tokenize renders `messages` with, as vLLM's does with the "
        "model's template: `card` the card's Nemotron template (`format.render_conversation`, "
        "reading `enable_thinking`); `ignores_thinking` the same template deaf to "
        "`enable_thinking` (always its default, thinking on), like a model's template without "
        "the switch; `none` answers 404, as a server without /tokenize. Token ids are one per "
        "UTF-8 byte of the rendering.",
    )
    roles: dict[str, Role] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_role_for_a_single_model(self) -> Script:
        if self.single_model is not None and len(self.roles) != 1:
            raise ValueError(
                f"single_model serves one model, but the script has {len(self.roles)} roles "
                f"({', '.join(self.roles)}); give it one"
            )
        return self

    @property
    def served_models(self) -> list[str]:
        """The model names GET /v1/models lists: the roles, or the single model."""
        return [self.single_model] if self.single_model is not None else list(self.roles)


class ScriptError(PolicyAgentError):
    """A script file could not be loaded; the message lists each problem with file and line."""


def load_script(path: Path) -> Script:
    """Read and validate a script file; ScriptError gives file, line and field of each problem.

    The file is read as the domain packs are (`policy_agent.yamlsource`): YAML 1.2, so `no` and
    `2025-06-04` stay text; duplicate keys and tags such as `!!python/object` are refused.
    """
    try:
        document = load_yaml(path)
    except SourceError as error:
        # A syntax error has a line to start with; a file that cannot be read at all does not.
        message = str(error) if error.line else f"{path}: cannot read the script: {error.message}"
        raise ScriptError(message) from None
    if document.data is None:
        raise ScriptError(f"{path}: the script is empty; it needs at least `roles:`")
    try:
        return validate_document(document, Script, explain=_explain)
    except DocumentError as error:
        raise ScriptError(error.listing("the script")) from None


def _explain(error: ErrorDetails, root: object) -> Explanation:
    """The general explanation, but an unknown `mode` is named on its own line."""
    found = explain(error, root)
    role = error.get("input")
    if error["type"] == "invalid_mode" and isinstance(role, dict):
        loc = (*found.loc, "mode")
        message = f"{show_value(role.get('mode'))} is not a mode; expected {_MODES}"
        return Explanation(loc=loc, field=loc, message=message)
    return found
