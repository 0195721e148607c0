"""What one model answer amounts to, for each way of asking: pure functions over the parser.

The turn is always the parser's (`parse_completion` or `parse_structured`). Besides it, the
agent's records need the answer split the way the chat template stores an assistant message:
the `<think>` text (`reasoning`) apart from any text written before a call (`prelude`, which the
parser counts as reasoning too) — and, for the `feedback` strategy, the answer as the model
should see it again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from policy_agent.format import (
    AgentTurn,
    AssistantMessage,
    AssistantToolCall,
    FunctionCallPayload,
    FunctionSpec,
    Message,
    ToolCall,
    Violation,
    ViolationCode,
    parse_completion,
    parse_structured,
)
from policy_agent.llm import StructuredToolCall

_END_THINK = "</think>"


@dataclass(frozen=True, kw_only=True)
class Answer:
    """One model answer, interpreted."""

    turn: AgentTurn
    """The parser's verdict; its `reasoning` joins `reasoning` and `prelude`."""
    reasoning: str | None
    """The text of the `<think>` block (trimmed), if any."""
    prelude: str | None
    """Text between the reasoning and a tool call (text-parsed answers only)."""
    echo: AssistantMessage
    """The answer as it is shown back to the model with a correction (no reasoning: a
    correction is a user turn, so the template would drop it anyway)."""


def read_text(text: str, functions: Sequence[FunctionSpec], *, thinking: bool) -> Answer:
    """A raw completion (completions transport, or chat content without a reasoning parser).

    Equivalent to `parse_completion(text, functions, thinking=thinking)` for the turn; the
    answer after `</think>` is parsed on its own to keep the prelude apart.
    """
    reasoning: str | None = None
    answer = text
    if thinking:
        end = text.find(_END_THINK)
        if end < 0:
            # Unterminated reasoning: the parser says so; nothing was answered.
            return Answer(
                turn=parse_completion(text, functions, thinking=True),
                reasoning=text.strip() or None,
                prelude=None,
                echo=AssistantMessage(content=""),
            )
        reasoning = text[:end].strip() or None
        answer = text[end + len(_END_THINK) :]
    turn = parse_completion(answer, functions, thinking=False)
    prelude = None if isinstance(turn, Message) else turn.reasoning
    return Answer(
        turn=_with_reasoning(turn, reasoning),
        reasoning=reasoning,
        prelude=prelude,
        echo=AssistantMessage(content=answer.strip()),
    )


def read_chat_content(
    content: str | None,
    server_reasoning: str | None,
    functions: Sequence[FunctionSpec],
    *,
    finish_reason: str | None,
) -> Answer:
    """A chat completion whose content the client parses (card style: no `tools=` sent).

    With vLLM's reasoning parser the content is only the answer and the reasoning arrives
    apart; without one, the content still holds `...</think>` and is split here.
    """
    text = content or ""
    reasoning = _stripped(server_reasoning)
    if _END_THINK in text:
        answer = read_text(text, functions, thinking=True)
        return _cut_off(_prefixed(answer, reasoning), finish_reason)
    turn = parse_completion(text, functions, thinking=False)
    prelude = None if isinstance(turn, Message) else turn.reasoning
    answer = Answer(
        turn=_with_reasoning(turn, reasoning),
        reasoning=reasoning,
        prelude=prelude,
        echo=AssistantMessage(content=text.strip()),
    )
    return _cut_off(answer, finish_reason)


def read_structured(
    content: str | None,
    tool_calls: Sequence[StructuredToolCall],
    server_reasoning: str | None,
    *,
    finish_reason: str | None,
) -> Answer:
    """A chat completion the server parsed (template style: `tools=` sent)."""
    text = content or ""
    reasoning = _stripped(server_reasoning)
    if _END_THINK in text:
        # No reasoning parser on the server: the reasoning is still in the content.
        head, text = text.split(_END_THINK, 1)
        reasoning = _join(reasoning, head.strip())
    entries = [
        {"id": call.id, "function": {"name": call.name, "arguments": call.arguments_json}}
        for call in tool_calls
    ]
    turn = parse_structured(text, entries, reasoning)
    calls = (
        turn.calls if isinstance(turn, Violation) else [turn] if isinstance(turn, ToolCall) else []
    )
    echo = AssistantMessage(
        content=text.strip(),
        tool_calls=[
            AssistantToolCall(function=FunctionCallPayload(name=c.name, arguments=c.arguments))
            for c in calls
        ]
        or None,
    )
    return _cut_off(Answer(turn=turn, reasoning=reasoning, prelude=None, echo=echo), finish_reason)


def _cut_off(answer: Answer, finish_reason: str | None) -> Answer:
    """An empty answer cut off at max_tokens after some reasoning never finished reasoning.

    The server's reasoning parser puts an unclosed `<think>` block in the reasoning and sends no
    content, which would read as `empty`; the finish reason tells what really happened.
    """
    turn = answer.turn
    if (
        finish_reason == "length"
        and isinstance(turn, Violation)
        and turn.code is ViolationCode.EMPTY
        and answer.reasoning is not None
    ):
        turn = Violation(
            code=ViolationCode.UNTERMINATED_REASONING,
            reasoning=turn.reasoning,
            detail="the answer was cut off at max_tokens while still reasoning",
        )
        return Answer(turn=turn, reasoning=answer.reasoning, prelude=None, echo=answer.echo)
    return answer


def _prefixed(answer: Answer, reasoning: str | None) -> Answer:
    if reasoning is None:
        return answer
    return Answer(
        turn=_with_reasoning(answer.turn, reasoning),
        reasoning=_join(reasoning, answer.reasoning),
        prelude=answer.prelude,
        echo=answer.echo,
    )


def _with_reasoning(turn: AgentTurn, reasoning: str | None) -> AgentTurn:
    """`turn` with `reasoning` put before its own (as the parser joins reasoning and prelude)."""
    if reasoning is None:
        return turn
    if isinstance(turn, Violation):
        calls = [
            call.model_copy(update={"reasoning": _join(reasoning, call.reasoning)})
            for call in turn.calls
        ]
        return turn.model_copy(
            update={"reasoning": _join(reasoning, turn.reasoning), "calls": calls}
        )
    return turn.model_copy(update={"reasoning": _join(reasoning, turn.reasoning)})


def _join(first: str | None, second: str | None) -> str | None:
    parts = [part for part in (first, second) if part]
    return "\n\n".join(parts) or None


def _stripped(text: str | None) -> str | None:
    return text.strip() or None if text else None
