"""What one model answer amounts to, for each way of asking: pure functions over the parser.

The turn is always the parser's (`parse_completion`, `parse_answer` or `parse_structured`), and
it carries the reasoning and the prelude apart. Besides it, the `feedback` strategy needs the
answer as the model should see it again (`echo`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import assert_never

from policy_agent.format import (
    CARD_MINIMUM,
    FunctionSpec,
    ServerProfile,
    parse_answer,
    parse_completion,
    parse_structured,
    split_reasoning,
    vllm_reading,
)
from policy_agent.llm import StructuredToolCall
from policy_agent.records import (
    AgentTurn,
    ChatAssistantMessage,
    ChatToolCall,
    FunctionCallPayload,
    Message,
    ToolCall,
    Violation,
    ViolationCode,
    VllmReading,
)


@dataclass(frozen=True, kw_only=True)
class ModelAnswer:
    """One model answer, read."""

    turn: AgentTurn
    """The parser's verdict, with the reasoning and the prelude apart."""
    echo: ChatAssistantMessage
    """The answer as it is shown back to the model with a correction (no reasoning: a
    correction is a user turn, so the template would drop it anyway)."""
    vllm_would: VllmReading | None = None
    """For a violation in an answer we parsed: the calls the server profile's vLLM would have
    executed of it (`vllm_reading`), when there are any."""


def read_text(
    text: str,
    functions: Sequence[FunctionSpec],
    *,
    thinking: bool,
    finish_reason: str | None = None,
    profile: ServerProfile = CARD_MINIMUM,
) -> ModelAnswer:
    """A raw completion (the completions transport): `parse_completion`'s turn, its calls
    typed as `profile`'s release types them."""
    split = split_reasoning(text, opened=thinking)
    turn = parse_completion(text, functions, thinking=thinking, profile=profile)
    answer = ModelAnswer(
        turn=turn,
        echo=ChatAssistantMessage(content=split.answer.strip()),
        vllm_would=_lenient(turn, split.answer, functions, profile) if split.finished else None,
    )
    return _cut_off(answer, finish_reason)


def read_chat_content(
    content: str | None,
    server_reasoning: str | None,
    functions: Sequence[FunctionSpec],
    *,
    finish_reason: str | None,
    profile: ServerProfile = CARD_MINIMUM,
) -> ModelAnswer:
    """A chat completion whose content the client parses (card style: no `tools=` sent).

    With vLLM's reasoning parser the content is only the answer and the reasoning arrives
    apart; without one, the content still holds `...</think>` and is cut there.
    """
    split = split_reasoning(content or "", opened=_server_closed(server_reasoning))
    reasoning = _join(_stripped(server_reasoning), split.reasoning)
    turn = (
        parse_answer(split.answer, functions, reasoning=reasoning, profile=profile)
        if split.finished
        else _unterminated(reasoning)
    )
    answer = ModelAnswer(
        turn=turn,
        echo=ChatAssistantMessage(content=split.answer.strip()),
        vllm_would=_lenient(turn, split.answer, functions, profile) if split.finished else None,
    )
    return _cut_off(answer, finish_reason)


def read_structured(
    content: str | None,
    tool_calls: Sequence[StructuredToolCall],
    server_reasoning: str | None,
    *,
    finish_reason: str | None,
) -> ModelAnswer:
    """A chat completion the server parsed (template style: `tools=` sent)."""
    split = split_reasoning(content or "", opened=_server_closed(server_reasoning))
    entries = [
        {"id": call.id, "function": {"name": call.name, "arguments": call.arguments_json}}
        for call in tool_calls
    ]
    reasoning = _join(_stripped(server_reasoning), split.reasoning)
    turn = (
        parse_structured(split.answer, entries, reasoning)
        if split.finished
        else _unterminated(reasoning)
    )
    echo = ChatAssistantMessage(
        content=split.answer.strip(),
        tool_calls=[
            ChatToolCall(function=FunctionCallPayload(name=c.name, arguments=c.arguments))
            for c in _calls(turn)
        ]
        or None,
    )
    return _cut_off(ModelAnswer(turn=turn, echo=echo), finish_reason)


def _lenient(
    turn: AgentTurn, answer: str, functions: Sequence[FunctionSpec], profile: ServerProfile
) -> VllmReading | None:
    """What vLLM would have run of a rejected answer, if it would have run anything."""
    if not isinstance(turn, Violation):
        return None
    reading = vllm_reading(answer, functions, profile)
    return reading if reading.calls else None


def _calls(turn: AgentTurn) -> list[ToolCall]:
    match turn:
        case Violation():
            return turn.calls
        case ToolCall():
            return [turn]
        case Message():
            return []
        case _:
            assert_never(turn)


def _cut_off(answer: ModelAnswer, finish_reason: str | None) -> ModelAnswer:
    """An answer the server cut off at max_tokens is `truncated`, whatever it parsed as.

    What came back is the start of an answer: a message that reads complete ("Violations
    none") may have been about to go on, a call may have lost its closing markup, and the
    server's reasoning parser puts a reasoning that never ended in the reasoning with no
    content, which would read as `empty`. Only the finish reason tells.
    """
    if finish_reason != "length":
        return answer
    turn = answer.turn
    match turn:
        case Message():
            found = Violation(
                code=ViolationCode.TRUNCATED,
                reasoning=turn.reasoning,
                content=turn.content,
                detail=_truncated("in its message, which may be incomplete"),
            )
        case ToolCall():
            call = turn.model_copy(update={"reasoning": None, "prelude": None})
            found = Violation(
                code=ViolationCode.TRUNCATED,
                reasoning=turn.reasoning,
                prelude=turn.prelude,
                calls=[call],
                detail=_truncated("after its tool call"),
            )
        case Violation():
            found = turn.model_copy(
                update={"code": ViolationCode.TRUNCATED, "detail": _truncated(_where(turn))}
            )
        case _:
            assert_never(turn)
    return ModelAnswer(turn=found, echo=answer.echo, vllm_would=answer.vllm_would)


def _where(violation: Violation) -> str:
    """Where a violation's answer was when it was cut off."""
    code = violation.code
    if code is ViolationCode.UNTERMINATED_REASONING or (
        code is ViolationCode.EMPTY and violation.reasoning is not None
    ):
        return "while still reasoning"
    if code is ViolationCode.MALFORMED_TOOL_CALL:
        return "in the middle of a tool call"
    return "before it ended"


def _truncated(where: str) -> str:
    return (
        f"the answer was cut off at the token limit (finish_reason `length`) {where}; "
        "if this recurs, raise the agent's `max_tokens`"
    )


def _unterminated(reasoning: str | None) -> Violation:
    return Violation(
        code=ViolationCode.UNTERMINATED_REASONING,
        reasoning=reasoning,
        detail="the content opens its reasoning with <think> and never closes it",
    )


def _server_closed(server_reasoning: str | None) -> bool | None:
    """What the content's start is known to be: after the reasoning when the server's reasoning
    parser sent some apart (a later `</think>` is answer text, as in the grammar), unknown
    otherwise (a server without a reasoning parser leaves `...</think>` in the content)."""
    return False if server_reasoning is not None else None


def _join(first: str | None, second: str | None) -> str | None:
    parts = [part for part in (first, second) if part]
    return "\n\n".join(parts) or None


def _stripped(text: str | None) -> str | None:
    return text.strip() or None if text else None
