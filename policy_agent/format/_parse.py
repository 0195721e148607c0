"""From what the model wrote to one `AgentTurn`: a message, a tool call, or a violation.

`parse_completion` reads a raw completion (completions mode: we rendered the prompt, no server
parser ran). `parse_structured` judges a chat-completions response the server already parsed.

Grammar of an answer (the text after `</think>` in thinking mode, the whole text otherwise):

    answer := message | prelude call
    call   := "<tool_call>" ws "<function=" NAME ">" (ws param)* ws "</function>" ws
              "</tool_call>"
    param  := "<parameter=" NAME ">" VALUE "</parameter>"

`ws` is any whitespace (the template writes one newline). A NAME is non-empty and has no
whitespace, quotes, `<`, `>`, `{` or `}` (vLLM's rule for function names). A VALUE is cut from
its tags and typed by the schema as the server profile's release does (`cut_value`,
`coerce_value`); text that release cannot type (its parser would fail, or it would write
`Infinity`/`NaN`) makes the call `malformed_tool_call`, as in chat mode. The prelude — text
before the call — is allowed (the template invites "reasoning BEFORE the function call") and
returned apart from the `<think>` reasoning, as the turn's `prelude`: the chat template keeps
it as the assistant message's content. Markup inside the reasoning is never an action; where
the reasoning ends is `split_reasoning`'s rule.

Stricter than vLLM, on purpose: a VALUE may not contain tool-call markup (`<tool_call>`,
`<function=`, `<parameter=` or their closing tags). In a customer-service turn that markup in a
value almost always means a missing closing tag, and the renderer could not write it back
unambiguously anyway; such a call is `malformed_tool_call`. A call to a function that is not
offered is still a `ToolCall` (arguments stay strings, as in vLLM): the environment answers it
with an error result, as tau2 does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

from pydantic import JsonValue

from policy_agent.format._functions import FunctionSpec
from policy_agent.format._profiles import CARD_MINIMUM, ServerProfile
from policy_agent.format._reasoning import split_reasoning
from policy_agent.format._values import ServerTypingError, coerce_value, cut_value
from policy_agent.records import AgentTurn, Message, ToolCall, Violation, ViolationCode

_CALL_OPEN, _CALL_CLOSE = "<tool_call>", "</tool_call>"
_FUNCTION_OPEN, _FUNCTION_CLOSE = "<function=", "</function>"
_PARAMETER_OPEN, _PARAMETER_CLOSE = "<parameter=", "</parameter>"
_MARKUP = (
    _CALL_OPEN,
    _CALL_CLOSE,
    _FUNCTION_OPEN,
    _FUNCTION_CLOSE,
    _PARAMETER_OPEN,
    _PARAMETER_CLOSE,
)
_NAME_FORBIDDEN = frozenset("{}<>\"' \t\n\r")


def parse_completion(
    text: str,
    functions: Sequence[FunctionSpec],
    *,
    thinking: bool = True,
    profile: ServerProfile = CARD_MINIMUM,
) -> AgentTurn:
    """The turn a raw completion amounts to, values typed as `profile`'s release types them.

    In thinking mode the completion starts inside the reasoning (the prompt ends with
    `<think>\\n`): everything before the first `</think>` is reasoning, and a completion without
    `</think>` is `unterminated_reasoning`. In instruct mode (the prompt ends with
    `<think></think>`) the completion is the answer, a bare `</think>` in it is text, unless it
    opens a `<think>` block of its own after leading whitespace (that block is then the
    reasoning). Reasoning and message text are stripped.
    """
    split = split_reasoning(text, opened=thinking)
    if not split.finished:
        return Violation(
            code=ViolationCode.UNTERMINATED_REASONING,
            reasoning=split.reasoning,
            detail="thinking mode, but the completion never closes its reasoning with </think>",
        )
    return parse_answer(split.answer, functions, reasoning=split.reasoning, profile=profile)


def parse_answer(
    answer: str,
    functions: Sequence[FunctionSpec],
    *,
    reasoning: str | None = None,
    profile: ServerProfile = CARD_MINIMUM,
) -> AgentTurn:
    """The turn an answer amounts to: the text after the reasoning, which came apart (a
    server's reasoning parser sent it separately, or `split_reasoning` cut it off)."""
    start = _find_markup(answer, 0)
    if start < 0:
        content = answer.strip()
        if not content:
            return Violation(
                code=ViolationCode.EMPTY,
                reasoning=reasoning,
                detail="no message and no tool call after the reasoning",
            )
        return Message(content=content, reasoning=reasoning)
    prelude = answer[:start].strip() or None
    return _judge_calls(answer[start:], functions, reasoning, prelude, profile)


def parse_structured(
    content: str | None,
    tool_calls: Sequence[Mapping[str, object]],
    reasoning: str | None,
) -> AgentTurn:
    """The turn a server-parsed chat completion amounts to.

    `tool_calls` are OpenAI-format entries (`{"function": {"name": ..., "arguments": "..."}}`),
    already typed by the server's parser. One call with no text is a `ToolCall`; several calls
    are `multiple_tool_calls`; a call with non-blank `content` is `text_with_tool_call` (the
    server keeps only the text before a call and drops text after it, so the two cases cannot be
    told apart here). A call without a name or with arguments that are not a JSON object (or
    hold `Infinity`/`NaN`) is `malformed_tool_call`, and so is tool-call markup left in the
    content: the server's parser could not read it (`<function=NAME` without `>`, a value its
    typing fails on) and returned it as text, which must never reach the customer.
    """
    reasoning = reasoning.strip() if reasoning and reasoning.strip() else None
    text = content.strip() if content else ""
    calls: list[ToolCall] = []
    if (markup := _find_markup(text, 0)) >= 0:
        tag = next(t for t in _MARKUP if text.startswith(t, markup))
        return Violation(
            code=ViolationCode.MALFORMED_TOOL_CALL,
            reasoning=reasoning,
            content=text,
            calls=[
                call
                for entry in tool_calls
                if isinstance(call := _structured_call(entry), ToolCall)
            ],
            detail=(
                f"the content holds tool-call markup ({tag}) that the server's tool parser "
                "could not read, so it came back as text"
            ),
        )
    for index, entry in enumerate(tool_calls):
        call = _structured_call(entry)
        if isinstance(call, str):
            return Violation(
                code=ViolationCode.MALFORMED_TOOL_CALL,
                reasoning=reasoning,
                content=text or None,
                calls=calls,
                detail=f"tool_calls[{index}]: {call}",
            )
        calls.append(call)
    if not calls:
        if not text:
            return Violation(
                code=ViolationCode.EMPTY,
                reasoning=reasoning,
                detail="no message and no tool call in the response",
            )
        return Message(content=text, reasoning=reasoning)
    return _one_action(
        calls,
        text,
        reasoning,
        None,
        ViolationCode.TEXT_WITH_TOOL_CALL,
        "a message and a tool call in one turn; do one or the other",
    )


def _structured_call(entry: Mapping[str, object]) -> ToolCall | str:
    function = entry.get("function")
    if not isinstance(function, Mapping):
        return "no function object"
    name = function.get("name")
    if not isinstance(name, str) or not _valid_name(name):
        return f"invalid function name {json.dumps(name, default=str)}"
    arguments = function.get("arguments")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments, parse_constant=_reject_constant)
        except ValueError as error:
            return f"arguments of {name} are not valid JSON ({error})"
    if not isinstance(arguments, dict):
        return f"arguments of {name} are not a JSON object"
    return ToolCall(name=name, arguments=arguments)


def _reject_constant(name: str) -> object:
    # Python's json reads Infinity/NaN; JSON has no such numbers (vLLM < 0.24 writes them).
    raise ValueError(f"{name} is not a JSON number")


class _Malformed(Exception):
    """Markup that breaks the grammar; the message says where and how."""


@dataclass(frozen=True, kw_only=True)
class _RawCall:
    name: str
    arguments: dict[str, str]


def _judge_calls(
    markup: str,
    functions: Sequence[FunctionSpec],
    reasoning: str | None,
    prelude: str | None,
    profile: ServerProfile,
) -> AgentTurn:
    """Judge everything from the first piece of tool-call markup to the end of the answer."""
    typed: list[ToolCall] = []
    stray: list[str] = []
    pos = 0
    try:
        while pos < len(markup):
            opening = markup.find(_CALL_OPEN, pos)
            gap = markup[pos : opening if opening >= 0 else len(markup)]
            wrong = _find_markup(gap, 0)
            if wrong >= 0:
                tag = next(t for t in _MARKUP if gap.startswith(t, wrong))
                where = "outside a <tool_call>" if typed else "without a <tool_call>"
                raise _Malformed(f"{tag} {where}")
            if gap.strip():
                stray.append(gap.strip())
            if opening < 0:
                break
            call, pos = _read_call(markup, opening + len(_CALL_OPEN), profile)
            typed.append(_typed(call, functions, profile))
    except _Malformed as error:
        return Violation(
            code=ViolationCode.MALFORMED_TOOL_CALL,
            reasoning=reasoning,
            prelude=prelude,
            content=markup.strip(),
            calls=typed,
            detail=str(error),
        )
    return _one_action(
        typed,
        "\n\n".join(stray),
        reasoning,
        prelude,
        ViolationCode.TEXT_AFTER_TOOL_CALL,
        "text after the tool call; reasoning may come before a call, never after",
    )


def _one_action(
    calls: list[ToolCall],
    text: str,
    reasoning: str | None,
    prelude: str | None,
    text_code: ViolationCode,
    text_detail: str,
) -> AgentTurn:
    """The one call, or the violation that several calls, or text beside the call, make.

    `calls` carry no reasoning of their own: the one call gets the turn's, a violation holds it.
    """
    if len(calls) > 1:
        also = "; text beside them as well" if text else ""
        return Violation(
            code=ViolationCode.MULTIPLE_TOOL_CALLS,
            reasoning=reasoning,
            prelude=prelude,
            content=text or None,
            calls=calls,
            detail=f"{len(calls)} tool calls in one turn; make one call per turn{also}",
        )
    if text:
        return Violation(
            code=text_code,
            reasoning=reasoning,
            prelude=prelude,
            content=text,
            calls=calls,
            detail=text_detail,
        )
    return calls[0].model_copy(update={"reasoning": reasoning, "prelude": prelude})


def _read_call(markup: str, pos: int, profile: ServerProfile) -> tuple[_RawCall, int]:
    """Read one call whose `<tool_call>` ends at `pos`; return it and the position after it."""
    pos = _skip_space(markup, pos)
    if not markup.startswith(_FUNCTION_OPEN, pos):
        raise _Malformed("<tool_call> is not followed by <function=NAME>")
    name, pos = _read_name(markup, pos + len(_FUNCTION_OPEN), "function")
    arguments: dict[str, str] = {}
    while True:
        pos = _skip_space(markup, pos)
        if markup.startswith(_FUNCTION_CLOSE, pos):
            pos += len(_FUNCTION_CLOSE)
            break
        if not markup.startswith(_PARAMETER_OPEN, pos):
            found = markup[pos : pos + 30] or "the end of the completion"
            raise _Malformed(
                f"<function={name}> holds {found!r} where <parameter=NAME> or </function> belongs"
            )
        parameter, pos = _read_name(markup, pos + len(_PARAMETER_OPEN), "parameter")
        close = markup.find(_PARAMETER_CLOSE, pos)
        if close < 0:
            raise _Malformed(f"<parameter={parameter}> of {name} is never closed")
        value = markup[pos:close]
        nested = _find_markup(value, 0)
        if nested >= 0:
            raise _Malformed(
                f"<parameter={parameter}> of {name} contains tool-call markup; "
                "a closing tag is probably missing"
            )
        if parameter in arguments:
            raise _Malformed(f"parameter {parameter} of {name} is given twice")
        arguments[parameter] = cut_value(value, profile)
        pos = close + len(_PARAMETER_CLOSE)
    pos = _skip_space(markup, pos)
    if not markup.startswith(_CALL_CLOSE, pos):
        raise _Malformed(f"</function> of {name} is not followed by </tool_call>")
    return _RawCall(name=name, arguments=arguments), pos + len(_CALL_CLOSE)


def _read_name(markup: str, pos: int, kind: str) -> tuple[str, int]:
    end = markup.find(">", pos)
    if end < 0:
        raise _Malformed(f"<{kind}= is never closed with >")
    name = markup[pos:end]
    if not _valid_name(name):
        raise _Malformed(f"<{kind}={name}> does not name a {kind}")
    return name, end + 1


def _typed(call: _RawCall, functions: Sequence[FunctionSpec], profile: ServerProfile) -> ToolCall:
    properties: Mapping[str, JsonValue] = next(
        (spec.properties for spec in functions if spec.name == call.name), {}
    )
    arguments: dict[str, JsonValue] = {}
    for key, value in call.arguments.items():
        try:
            arguments[key] = coerce_value(value, key, properties, profile)
        except ServerTypingError as error:
            match error.failure:
                case "parser_error":
                    outcome = "its parser fails and it returns the whole completion as text"
                case "not_json":
                    outcome = "it sends arguments that are not JSON"
                case _:
                    assert_never(error.failure)
            raise _Malformed(
                f"parameter {key} of {call.name}: {error}; vLLM {profile.name} cannot type it "
                f"({outcome})"
            ) from None
    return ToolCall(name=call.name, arguments=arguments)


def _find_markup(text: str, pos: int) -> int:
    hits = [i for i in (text.find(tag, pos) for tag in _MARKUP) if i >= 0]
    return min(hits, default=-1)


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos].isspace():
        pos += 1
    return pos


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c in _NAME_FORBIDDEN for c in name)
