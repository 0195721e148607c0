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
    FunctionSpec,
    parse_answer,
    parse_completion,
    parse_structured,
    split_reasoning,
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
)


@dataclass(frozen=True, kw_only=True)
class ModelAnswer:
    """One model answer, read."""

    turn: AgentTurn
    """The parser's verdict, with the reasoning and the prelude apart."""
    echo: ChatAssistantMessage
    """The answer as it is shown back to the model with a correction (no reasoning: a
    correction is a user turn, so the template would drop it anyway)."""


def read_text(text: str, functions: Sequence[FunctionSpec], *, thinking: bool) -> ModelAnswer:
    """A raw completion (the completions transport): `parse_completion`'s turn."""
    split = split_reasoning(text, opened=thinking)
    return ModelAnswer(
        turn=parse_completion(text, functions, thinking=thinking),
        echo=ChatAssistantMessage(content=split.answer.strip()),
    )


def read_chat_content(
    content: str | None,
    server_reasoning: str | None,
    functions: Sequence[FunctionSpec],
    *,
    finish_reason: str | None,
) -> ModelAnswer:
    """A chat completion whose content the client parses (card style: no `tools=` sent).

    With vLLM's reasoning parser the content is only the answer and the reasoning arrives
    apart; without one, the content still holds `...</think>` and is cut there.
    """
    split = split_reasoning(content or "", opened=False)
    reasoning = _join(_stripped(server_reasoning), split.reasoning)
    turn = (
        parse_answer(split.answer, functions, reasoning=reasoning)
        if split.finished
        else _unterminated(reasoning)
    )
    answer = ModelAnswer(turn=turn, echo=ChatAssistantMessage(content=split.answer.strip()))
    return _cut_off(answer, finish_reason)


def read_structured(
    content: str | None,
    tool_calls: Sequence[StructuredToolCall],
    server_reasoning: str | None,
    *,
    finish_reason: str | None,
) -> ModelAnswer:
    """A chat completion the server parsed (template style: `tools=` sent)."""
    split = split_reasoning(content or "", opened=False)
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
    """An empty answer cut off at max_tokens after some reasoning never finished reasoning.

    The server's reasoning parser puts an unclosed `<think>` block in the reasoning and sends no
    content, which would read as `empty`; the finish reason tells what really happened.
    """
    turn = answer.turn
    if (
        finish_reason == "length"
        and isinstance(turn, Violation)
        and turn.code is ViolationCode.EMPTY
        and turn.reasoning is not None
    ):
        turn = Violation(
            code=ViolationCode.UNTERMINATED_REASONING,
            reasoning=turn.reasoning,
            detail="the answer was cut off at max_tokens while still reasoning",
        )
        return ModelAnswer(turn=turn, echo=answer.echo)
    return answer


def _unterminated(reasoning: str | None) -> Violation:
    return Violation(
        code=ViolationCode.UNTERMINATED_REASONING,
        reasoning=reasoning,
        detail="the content opens its reasoning with <think> and never closes it",
    )


def _join(first: str | None, second: str | None) -> str | None:
    parts = [part for part in (first, second) if part]
    return "\n\n".join(parts) or None


def _stripped(text: str | None) -> str | None:
    return text.strip() or None if text else None
