"""What vLLM's lenient `qwen3_coder` tool parser would make of an answer our parser rejects.

Our parser (`_parse.py`) accepts exactly one well-formed action. vLLM's is lenient: it
executes a call whose `</function>` or `</tool_call>` is missing, keeps the last of a repeated
parameter, and drops text after the calls. `vllm_reading` says what the given release line
would have executed, so a violation event can show it. Two parsers are followed, each checked
by running the release's own code (tests/format/vectors/, docs/servers.md "Reading malformed
markup").

0.17-0.23, `Qwen3CoderToolParser.extract_tool_calls`
(`vllm/tool_parsers/qwen3coder_tool_parser.py`):

- calls: each `<tool_call>...</tool_call>`, or `<tool_call>...` to the end; with no
  `<tool_call>` at all, the whole answer; in each, every `<function=...</function>`, or
  `<function=...` to the end;
- a function's name runs to its first `>`; without one, the profile's `unclosed_function_name`
  decides (the completion fails, or the call is dropped);
- a parameter's value runs to `</parameter>`, the next `<parameter=`, `</function>` or the end;
  a `<parameter=NAME` without `>` makes the parser raise (the whole answer comes back as text);
- the content passed on is the text before the first `<tool_call>` (or `<function=`).

0.24+, the parser engine (`vllm/parser/qwen3.py` on `vllm/parser/engine/parser_engine.py`,
`ParserEngine.extract_tool_calls_from_content`), a state machine over the tags:

- a call starts at `<tool_call>` or `<function=` in text, or after a call; text between
  `<tool_call>` and `<function=`, or after `</function>`, is dropped;
- a function's name runs to the next `>` that ends no other tag, or to `</function>` or the
  end: other tags are part of it; from 0.33 (`call_tags_end_a_call`) a `<tool_call>`,
  `</tool_call>` or `<function=` ends it, and a `<function=` in the parameters ends the call;
  a name that is empty is taken from a `"name": "..."` in the call's text, else the call is
  dropped (a JSON body after a blank name, which vLLM would also try, is not followed);
- a parameter is a complete `<parameter=NAME>VALUE` ended by `</parameter>` or the next
  `<parameter=` (spaces allowed in the tags, NAME is everything up to the next `>`); an
  unclosed last one is dropped;
- the content passed on is the text before the first call, without `</think>`, stripped.

In both, a value is trimmed by the profile's `value_trim`, typed by its typing rules, and a
later parameter of the same name replaces an earlier one. Pure, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal, assert_never

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

_ENGINE_TAG = re.compile(
    r"<think>|</think>|<tool_call>|</tool_call>|<function=|</function>|<parameter=|</parameter>|>"
)
"""The engine's terminals; a `>` that ends one of the others is part of it."""
_ENGINE_PARAMETER = re.compile(
    r"<\s*parameter\s*=\s*([^>]*)>(.*?)(?:<\s*/\s*parameter\s*>|(?=<\s*parameter\s*=))",
    re.DOTALL,
)
_JSON_NAME = re.compile(r'"name"\s*:\s*"([^"]*)"')

_State = Literal["text", "preamble", "name", "arguments", "between"]
_Step = tuple[_State, bool]
"""The state a tag leads to, and whether it starts a call."""
_ENGINE_STEPS: dict[tuple[_State, str], _Step] = {
    ("text", "</think>"): ("text", False),
    ("text", "<tool_call>"): ("preamble", True),
    ("text", "<function="): ("name", True),
    ("preamble", "</tool_call>"): ("text", False),
    ("preamble", "<function="): ("name", False),
    ("name", ">"): ("arguments", False),
    ("name", "</function>"): ("between", False),
    ("arguments", "</function>"): ("between", False),
    ("between", "</tool_call>"): ("text", False),
    ("between", "<tool_call>"): ("preamble", True),
    ("between", "<function="): ("name", True),
}
"""Where each tag leads in `qwen3_config` (0.24+); any other tag is read as text."""
_CALL_TAG_STEPS: dict[tuple[_State, str], _Step] = {
    ("name", "</tool_call>"): ("text", False),
    ("name", "<tool_call>"): ("preamble", True),
    ("name", "<function="): ("name", True),
    ("arguments", "<function="): ("name", True),
}
"""The steps 0.33 added (`call_tags_end_a_call`)."""


class _CompletionFails(Exception):
    """The release's parser raises: it returns the whole answer as text, with no call."""


def vllm_reading(
    answer: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> VllmReading:
    """What `profile`'s vLLM would read from `answer` (the text after the reasoning)."""
    if "<function=" not in answer:
        return VllmReading(profile=profile.name, content=answer or None)
    try:
        match profile.unclosed_function_name:
            case "fails_completion" | "drops_call":
                calls, content = _coder_reading(answer, functions, profile)
            case "name_to_end":
                calls, content = _engine_reading(answer, functions, profile)
            case _:
                assert_never(profile.unclosed_function_name)
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
    return VllmReading(profile=profile.name, calls=calls, content=content)


def _coder_reading(
    answer: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> tuple[list[ToolCall], str | None]:
    """0.17-0.23: the calls, and the text before the first of them."""
    bodies = [m[0] or m[1] for m in _TOOL_CALL.findall(answer)] or [answer]
    function_texts = [m[0] or m[1] for body in bodies for m in _FUNCTION.findall(body)]
    calls = [
        call for text in function_texts if (call := _function(text, functions, profile)) is not None
    ]
    start = answer.find("<tool_call>")
    start = start if start >= 0 else answer.find("<function=")
    # The server, not the parser, drops content that is only whitespace once a call is read
    # (0.17.1 entrypoints/openai/engine/serving.py); content with text is kept unstripped.
    before = answer[:start]
    return calls, before if before.strip() else None


def _function(
    text: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> ToolCall | None:
    end = text.find(">")
    if end < 0:
        if profile.unclosed_function_name == "drops_call":
            return None
        raise _CompletionFails(
            "its parser fails on <function= without >: the whole answer comes back as text"
        )
    return _call(text[:end], _coder_parameters(text[end + 1 :]), functions, profile)


def _coder_parameters(text: str) -> Iterator[tuple[str, str]]:
    """Each parameter's name and text, in order; lazy, so a failure comes where vLLM's does."""
    for found in _PARAMETER.findall(text):
        close = found.find(">")
        if close < 0:
            raise _CompletionFails(
                "its parser fails on <parameter= without >: the whole answer comes back as text"
            )
        yield found[:close], found[close + 1 :]


def _engine_reading(
    answer: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> tuple[list[ToolCall], str | None]:
    """0.24+: the calls, and the text before the first of them."""
    steps = _ENGINE_STEPS | (_CALL_TAG_STEPS if profile.call_tags_end_a_call else {})
    state: _State = "text"
    before: list[str] = []
    names: list[str] = []
    bodies: list[str] = []

    def read(text: str) -> None:
        match state:
            case "text" if not names:
                before.append(text)
            case "name":
                names[-1] += text
            case "arguments":
                bodies[-1] += text
            case "text" | "preamble" | "between":
                pass  # dropped
            case _:
                assert_never(state)

    end = 0
    for tag in _ENGINE_TAG.finditer(answer):
        read(answer[end : tag.start()])
        end = tag.end()
        step = steps.get((state, tag[0]))
        if step is None:
            read(tag[0])
            continue
        state, starts_call = step
        if starts_call:
            names.append("")
            bodies.append("")
    read(answer[end:])
    calls = [
        call
        for name, body in zip(names, bodies, strict=True)
        if (call := _engine_call(name, body, functions, profile)) is not None
    ]
    return calls, "".join(before).strip() or None


def _engine_call(
    name: str, body: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> ToolCall | None:
    if not name and (found := _JSON_NAME.search(body)):
        name = found[1]
    if not name.strip():
        return None
    parameters = [(m[1], m[2]) for m in _ENGINE_PARAMETER.finditer(body)]
    return _call(name.strip(), parameters, functions, profile)


def _call(
    name: str,
    parameters: Iterable[tuple[str, str]],
    functions: Sequence[FunctionSpec],
    profile: ServerProfile,
) -> ToolCall:
    """The call, each parameter's text cut and typed; a later one of a name replaces an earlier."""
    properties: Mapping[str, JsonValue] = next(
        (spec.properties for spec in functions if spec.name == name), {}
    )
    arguments: dict[str, JsonValue] = {}
    for key, text in parameters:
        arguments[key] = coerce_value(cut_value(text, profile), key, properties, profile)
    return ToolCall(name=name, arguments=arguments)
