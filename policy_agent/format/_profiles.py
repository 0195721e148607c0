"""Server profiles: what each vLLM release line does with our format, as data.

The card asks for vLLM >= 0.17.1 with `--tool-call-parser qwen3_coder --reasoning-parser
nemotron_v3`. Releases since then differ in how they type parameter text, how they read
malformed markup, which request field carries past reasoning, and how they hand tools to the
chat template. Each difference below was found by running that release's own code
(`vllm/tool_parsers/qwen3coder_tool_parser.py` up to 0.23, `vllm/parser/qwen3.py` with
`vllm/parser/engine/parser_engine.py` from 0.24, `vllm/tool_parsers/utils.py`,
`vllm/entrypoints/openai/chat_completion/protocol.py`, `.../engine/protocol.py`) over the same
cases; releases whose results are identical share a profile. tests/format/vectors/ holds the
results (typing-vllm-*.json, and reading-vllm-*.json for malformed markup from 0.24), named by
release, and the tests hold every profile to them.

A profile serialises (it is recorded in run.json) and is chosen by name, or from the version
string `GET /version` answers (`profile_for_version`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from policy_agent.errors import PolicyAgentError


class TypingRules(StrEnum):
    """Which function of the release turns parameter text into a typed value."""

    CONVERT_PARAM_VALUE = "convert_param_value"
    """`Qwen3CoderToolParser._convert_param_value` (0.17-0.21): the first-listed type decides;
    `null` is null for every parameter; containers and unknown types fall back to
    `ast.literal_eval`."""
    COERCE_TO_SCHEMA_TYPE = "coerce_to_schema_type"
    """`tool_parsers/utils.coerce_to_schema_type` (0.22+): every type the schema allows is
    tried in the order null, integer, number, boolean, object, array, string."""


class ServerProfile(BaseModel):
    """What one vLLM release line does with the format; see docs/servers.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """`vllm-0.17`, ...: the first release of the line."""
    first_release: str
    last_release: str | None
    """None for the newest line: releases past it are assumed to behave like it."""
    typing: TypingRules
    any_of_as_object: bool = False
    """convert_param_value: a schema with `anyOf` and no `type` is an object (0.18+), else a
    string (0.17)."""
    finite_numbers_only: bool = False
    """coerce_to_schema_type: a number or container holding inf/nan stays text (0.24+); before,
    `int(inf)` raised (the whole completion came back as text) and nested inf/nan were written
    as `Infinity`/`NaN`, which is not JSON."""
    number_tries_int_first: bool = False
    """coerce_to_schema_type: a `number` parameter is `int()` when it can be, so large integers
    stay exact (0.33+); before, every number went through `float()`."""
    value_trim: Literal["one_newline", "whitespace"] = "one_newline"
    """How a parameter value is cut out of its tags: one leading and one trailing newline
    removed (every release but 0.24-0.25), or all surrounding whitespace (0.24-0.25)."""
    unclosed_function_name: Literal["fails_completion", "drops_call", "name_to_end"]
    """`<function=NAME` with no `>`: the whole completion comes back as text (0.17), that call
    is dropped (0.18-0.23), or (0.24+, the parser engine) the name runs on to the next `>`
    that ends no other tag, `</function>` or the end, taking in the tags on the way."""
    call_tags_end_a_call: bool = False
    """Parser engine (0.33+): a `<tool_call>`, `</tool_call>` or `<function=` inside an
    unclosed function name, or a `<function=` among a call's parameters, ends that call (the
    tag then opens the next call or goes back to text); before, they were part of the name or
    of the parameters' text."""
    history_reasoning_fields: tuple[Literal["reasoning", "reasoning_content"], ...]
    """The assistant-message request fields whose past reasoning the release hands to the
    template. Every release reads `reasoning`; 0.22+ also moves `reasoning_content` there."""
    drops_unknown_tool_keys: bool = False
    """The release hands the template a tool's declared fields only (0.27+): other keys of the
    `function` object (`x-owner`, ...) never reach the prompt. `strict` is kept when set."""


_READS_REASONING: tuple[Literal["reasoning", "reasoning_content"], ...] = ("reasoning",)
_READS_BOTH: tuple[Literal["reasoning", "reasoning_content"], ...] = (
    "reasoning",
    "reasoning_content",
)

PROFILES: tuple[ServerProfile, ...] = (
    ServerProfile(
        name="vllm-0.17",
        first_release="0.17.0",
        last_release="0.17.1",
        unclosed_function_name="fails_completion",
        history_reasoning_fields=_READS_REASONING,
        typing=TypingRules.CONVERT_PARAM_VALUE,
    ),
    ServerProfile(
        name="vllm-0.18",
        first_release="0.18.0",
        last_release="0.21.0",
        any_of_as_object=True,
        unclosed_function_name="drops_call",
        history_reasoning_fields=_READS_REASONING,
        typing=TypingRules.CONVERT_PARAM_VALUE,
    ),
    ServerProfile(
        name="vllm-0.22",
        first_release="0.22.0",
        last_release="0.23.0",
        unclosed_function_name="drops_call",
        history_reasoning_fields=_READS_BOTH,
        typing=TypingRules.COERCE_TO_SCHEMA_TYPE,
    ),
    ServerProfile(
        name="vllm-0.24",
        first_release="0.24.0",
        last_release="0.25.1",
        finite_numbers_only=True,
        value_trim="whitespace",
        unclosed_function_name="name_to_end",
        history_reasoning_fields=_READS_BOTH,
        typing=TypingRules.COERCE_TO_SCHEMA_TYPE,
    ),
    ServerProfile(
        name="vllm-0.26",
        first_release="0.26.0",
        last_release="0.26.0",
        finite_numbers_only=True,
        unclosed_function_name="name_to_end",
        history_reasoning_fields=_READS_BOTH,
        typing=TypingRules.COERCE_TO_SCHEMA_TYPE,
    ),
    ServerProfile(
        name="vllm-0.27",
        first_release="0.27.0",
        last_release="0.32.0",
        finite_numbers_only=True,
        unclosed_function_name="name_to_end",
        history_reasoning_fields=_READS_BOTH,
        drops_unknown_tool_keys=True,
        typing=TypingRules.COERCE_TO_SCHEMA_TYPE,
    ),
    ServerProfile(
        name="vllm-0.33",
        first_release="0.33.0",
        last_release=None,
        finite_numbers_only=True,
        number_tries_int_first=True,
        unclosed_function_name="name_to_end",
        call_tags_end_a_call=True,
        history_reasoning_fields=_READS_BOTH,
        drops_unknown_tool_keys=True,
        typing=TypingRules.COERCE_TO_SCHEMA_TYPE,
    ),
)
"""Every supported release line, oldest first; each `last_release` is the newest release of
that line whose code was checked (a later patch release is assumed to behave alike)."""

CARD_MINIMUM = PROFILES[0]
"""The profile of the card's minimum, vLLM 0.17.1: used when the version is unknown."""
NEWEST = PROFILES[-1]
"""The newest release line checked."""

HISTORY_REASONING_FIELD: Literal["reasoning"] = "reasoning"
"""The one assistant-message field to carry past reasoning in a chat request: every profile
reads it, and sending only it means no release sees the reasoning twice."""

_VERSION = re.compile(r"\s*v?(\d+)\.(\d+)(?:\.(\d+))?")


class UnknownProfileError(PolicyAgentError, ValueError):
    """A profile name that is not one of `PROFILES`; the message lists the names."""


def profile_named(name: str) -> ServerProfile:
    """The profile called `name` (`vllm-0.22`, ...), for a run config."""
    for profile in PROFILES:
        if profile.name == name:
            return profile
    names = ", ".join(p.name for p in PROFILES)
    raise UnknownProfileError(f"no server profile {name!r}; choose one of {names}")


def profile_for_version(version: object) -> ServerProfile:
    """The profile of the release `GET /version` named (`"0.21.0"`, `"0.22.1rc2.dev5+g1a2b"`).

    Pass the answer's `version` field, or the whole JSON answer. A pre-release or dev build is
    taken as the release it leads to (its code is at least that far along). A version that
    cannot be read, or is older than every profile, gives the card minimum; one newer than
    every profile gives the newest.
    """
    if isinstance(version, dict):
        version = version.get("version")
    if not isinstance(version, str) or not (match := _VERSION.match(version)):
        return CARD_MINIMUM
    release = (int(match[1]), int(match[2]), int(match[3] or 0))
    for profile in reversed(PROFILES):
        if release >= _release(profile.first_release):
            return profile
    return CARD_MINIMUM


def _release(text: str) -> tuple[int, int, int]:
    major, minor, patch = (int(part) for part in text.split("."))
    return major, minor, patch


PROFILE_NAMES: tuple[str, ...] = tuple(p.name for p in PROFILES)
"""The names a run config may give."""
