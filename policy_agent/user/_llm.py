"""The LLM user: a chat model plays the task's customer, one usable action per turn.

An answer that is not one usable action (empty, a message and a call together, several calls,
arguments that are not a JSON object, cut off) is asked for again with the same messages and
the next seed; after `max_retries` such answers the user gives up (user_error).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import JsonValue

from policy_agent.domain import DomainPack, Task
from policy_agent.format import split_reasoning
from policy_agent.llm import Completion, LLMError, ModelClient
from policy_agent.records import (
    ConversationRecord,
    Generation,
    RoleTotals,
    TokenUsage,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
)
from policy_agent.user._config import UserConfig
from policy_agent.user._prompt import user_prompt
from policy_agent.user._step import (
    UserEvent,
    UserGaveUp,
    UserModelError,
    UserStep,
    stop_signal,
)


def visible_text(content: str) -> str | None:
    """What a model said once its reasoning is cut off; None if its reasoning never ended.

    Servers without a reasoning parser leave `<think>...</think>` in the content, and a chat
    template that opens the block in the prompt leaves only its `</think>`; the cut is
    `split_reasoning`'s, as for the agent.
    """
    split = split_reasoning(content, opened=None)
    return split.answer.strip() if split.finished else None


_CUT_OFF = "cut off at max_tokens (finish_reason `length`)"
"""Why an answer the server cut off is unusable."""


@dataclass(frozen=True, kw_only=True)
class _Said:
    text: str


@dataclass(frozen=True, kw_only=True)
class _Called:
    name: str
    arguments: dict[str, JsonValue]


@dataclass(kw_only=True)
class _Tally:
    """What one turn has gathered so far: events and model use."""

    events: list[UserEvent] = field(default_factory=list)
    calls: int = 0
    usage: TokenUsage = field(default_factory=TokenUsage)
    latency_ms: float = 0.0
    cost_usd: float | None = None

    def add(self, completion: Completion, generation: Generation) -> None:
        # The client's failed attempts before this answer come first, as they happened first.
        self.events += [r.retry_event(completion.model) for r in completion.attempts]
        self.calls += 1
        self.usage += generation.usage
        self.latency_ms += generation.latency_ms
        if completion.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + completion.cost_usd

    def totals(self) -> RoleTotals:
        return RoleTotals(
            calls=self.calls,
            prompt_tokens=self.usage.prompt_tokens,
            completion_tokens=self.usage.completion_tokens,
            latency_ms=self.latency_ms,
            cost_usd=self.cost_usd,
        )


class LLMUser:
    """Plays one task's customer with a chat model; holds no conversation state."""

    def __init__(
        self, *, task: Task, pack: DomainPack, config: UserConfig, client: ModelClient
    ) -> None:
        """Prefer `make_user`. `client` is the user role's, shared by every episode of a run."""
        self.task = task
        self.pack = pack
        self.client = client
        self.max_retries = config.max_retries
        self.tools: list[dict[str, Any]] | None = [
            dict(tool.openai_schema()) for tool in pack.user_tools
        ] or None
        self.prompt = user_prompt(task, pack, guidelines=config.guidelines)

    def messages(self, history: Sequence[ConversationRecord]) -> list[dict[str, Any]]:
        """The messages of the next request: system prompt, then the conversation, flipped."""
        return self.prompt.messages(history)

    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        """The user's next turn. Raises `UserModelError` (model unreachable after the client's
        retries) or `UserGaveUp` (no usable answer in 1 + max_retries attempts)."""
        messages = self.messages(history)
        tally = _Tally()
        reason = ""
        for attempt in range(1, self.max_retries + 2):
            attempt_seed = None if seed is None else seed + attempt - 1
            try:
                completion = await self.client.chat(
                    messages, tools=self.tools, seed=attempt_seed, session=session
                )
            except LLMError as error:
                tally.events += [r.retry_event(error.model) for r in error.retried]
                raise UserModelError(error, tally.events, tally.totals()) from error
            generation = completion.generation(transport="chat", seed=attempt_seed, attempt=attempt)
            tally.add(completion, generation)
            turn = self._read(completion)
            if isinstance(turn, str):
                reason = turn
                tally.events.append(
                    UserRetryEvent(
                        reason=reason,
                        raw_completion=completion.text or "",
                        attempt=attempt,
                        generation=generation,
                    )
                )
                continue
            if isinstance(turn, _Said):
                record = UserMessage(content=turn.text, generation=generation)
                return UserStep(
                    record=record,
                    stop=stop_signal(turn.text),
                    events=tuple(tally.events),
                    totals=tally.totals(),
                )
            # Ids only need to be unique within the conversation; counting keeps them
            # reproducible, and the prefix keeps them apart from the agent's `call_<n>`.
            number = 1 + sum(isinstance(record, UserToolCall) for record in history)
            call = UserToolCall(
                call_id=f"user_call_{number}",
                name=turn.name,
                arguments=turn.arguments,
                generation=generation,
            )
            return UserStep(record=call, events=tuple(tally.events), totals=tally.totals())
        attempts = self.max_retries + 1
        # A cut-off answer is the model config's doing, not the model's reading of the guidelines.
        advice = (
            "raise the user model's `max_tokens` (user.model.max_tokens; unset, the server's "
            "context window is the limit)"
            if reason == _CUT_OFF
            else "check that it follows the simulation guidelines, or raise user.max_retries"
        )
        raise UserGaveUp(
            f"task {self.task.id}: the user model {self.client.config.model} gave no usable turn "
            f"in {attempts} attempt{'s' if attempts != 1 else ''} (the last: {reason}); {advice}",
            tally.events,
            tally.totals(),
        )

    def _read(self, completion: Completion) -> _Said | _Called | str:
        """The turn the answer is, or why it is unusable."""
        if completion.finish_reason == "length":
            return _CUT_OFF
        text = visible_text(completion.text or "")
        if text is None:
            return "the reasoning (<think>) never ended, so there is no message"
        calls = completion.tool_calls
        if not calls:
            return _Said(text=text) if text else "empty: no message and no tool call"
        if text:
            return "a message and a tool call in one turn; the user takes one action per turn"
        if len(calls) > 1:
            names = ", ".join(call.name for call in calls)
            return f"{len(calls)} tool calls ({names}); the user takes one action per turn"
        call = calls[0]
        if self.tools is None:
            return f"a tool call ({call.name}), but domain {self.pack.name} gives the user no tools"
        try:
            arguments = json.loads(call.arguments_json or "{}")
        except json.JSONDecodeError:
            arguments = None
        if not isinstance(arguments, dict):
            return f"the arguments of {call.name} are not a JSON object: {call.arguments_json!r}"
        return _Called(name=call.name, arguments=arguments)
