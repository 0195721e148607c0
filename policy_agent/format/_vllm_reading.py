"""What vLLM's lenient `qwen3_coder` tool parser would make of an answer our parser rejects.

Our parser (`_parse.py`) accepts exactly one well-formed action. vLLM's is lenient: it
executes a call whose `</function>` or `</tool_call>` is missing, keeps the last of a repeated
parameter, and drops text after the calls. `vllm_reading` says what the given release line
would have executed, so a violation event can show it. The reading follows
`Qwen3CoderToolParser.extract_tool_calls` (0.17-0.23,
`vllm/tool_parsers/qwen3coder_tool_parser.py`):

- calls: each `<tool_call>...</tool_call>`, or `<tool_call>...` to the end; with no
  `<tool_call>` at all, the whole answer; in each, every `<function=...</function>`, or
  `<function=...` to the end;
- a function's name runs to its first `>`; without one, the profile's `unclosed_function_name`
  decides (the completion fails, the call is dropped, or the name runs to the next tag);
- a parameter's value runs to `</parameter>`, the next `<parameter=`, `</function>` or the end,
  is trimmed by the profile's `value_trim`, typed by its typing rules; a later one of the same
  name replaces an earlier one;
- the content passed on is the text before the first `<tool_call>` (or `<function=`).

docs/servers.md ("Reading malformed markup") records that every release, the 0.24+ parser
engine included, executes a call whose `</function>` or `</tool_call>` is missing, keeps the
last of a repeated parameter and drops text after the calls; those are the cases this reading
is for. A `<parameter=NAME` without `>` is read as 0.17-0.23 do (`match_text.index(">")`
raises: the whole answer comes back as text) and, for the parser engine, as skipped (an
assumption, not checked against its code). Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import assert_never

from pydantic import JsonValue

from policy_agent.format._functions import FunctionSpec
from policy_agent.format._profiles import ServerProfile
from policy_agent.format._values import ServerTypingError, coerce_value, cut_value
from policy_agent.records import ToolCall, VllmReading

_TOOL_CALL = re.compile(r"<tool_call>(.*?)</tool_call>|<tool_call>(.*?)$", re.DOTALL)
_FUNCTION = re.compile(r"<function=(.*?)</function>|<function=(.*)$", re.DOTALL)
_PARAMETER = re.compile(
    r"<parameter=(.*?)(?:</parameter>|(?=<parameter=)|(?=</function>)|$)", re.DOTALL
)


class _CompletionFails(Exception):
    """The release's parser raises: it returns the whole answer as text, with no call."""


def vllm_reading(
    answer: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> VllmReading:
    """What `profile`'s vLLM would read from `answer` (the text after the reasoning)."""
    if "<function=" not in answer:
        return VllmReading(profile=profile.name, content=answer or None)
    bodies = [m[0] or m[1] for m in _TOOL_CALL.findall(answer)] or [answer]
    function_texts = [m[0] or m[1] for body in bodies for m in _FUNCTION.findall(body)]
    try:
        calls = [
            call
            for text in function_texts
            if (call := _function(text, functions, profile)) is not None
        ]
    except _CompletionFails as error:
        return VllmReading(profile=profile.name, content=answer, detail=str(error))
    except ServerTypingError as error:
        match error.failure:
            case "parser_error":
                detail = f"its parser fails ({error}): the whole answer comes back as text"
                return VllmReading(profile=profile.name, content=answer, detail=detail)
            case "not_json":
                detail = f"it would send arguments that are not JSON ({error})"
                return VllmReading(profile=profile.name, content=answer, detail=detail)
            case _:
                assert_never(error.failure)
    if not calls:
        return VllmReading(profile=profile.name, content=answer)
    start = answer.find("<tool_call>")
    start = start if start >= 0 else answer.find("<function=")
    return VllmReading(profile=profile.name, calls=calls, content=answer[:start] or None)


def _function(
    text: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> ToolCall | None:
    named = _name_and_rest(text, profile)
    if named is None:
        return None
    name, rest = named
    properties: Mapping[str, JsonValue] = next(
        (spec.properties for spec in functions if spec.name == name), {}
    )
    arguments: dict[str, JsonValue] = {}
    for found in _PARAMETER.findall(rest):
        close = found.find(">")
        if close < 0:
            if profile.unclosed_function_name != "name_to_end":
                raise _CompletionFails(
                    "its parser fails on <parameter= without >: the whole answer comes back as text"
                )
            continue
        key = found[:close]
        value = cut_value(found[close + 1 :], profile)
        arguments[key] = coerce_value(value, key, properties, profile)
    return ToolCall(name=name, arguments=arguments)


def _name_and_rest(text: str, profile: ServerProfile) -> tuple[str, str] | None:
    """The function name and the text after it; None when the release drops the call."""
    end = text.find(">")
    match profile.unclosed_function_name:
        case "name_to_end":
            # The parser engine ends the name at the next tag, whether a `>` comes first or not.
            tag = text.find("<")
            if tag >= 0 and (end < 0 or tag < end):
                return text[:tag].strip(), text[tag:]
            if end < 0:
                return text.strip(), ""
        case "fails_completion":
            if end < 0:
                raise _CompletionFails(
                    "its parser fails on <function= without >: the whole answer comes back as text"
                )
        case "drops_call":
            if end < 0:
                return None
        case _:
            assert_never(profile.unclosed_function_name)
    return text[:end], text[end + 1 :]
