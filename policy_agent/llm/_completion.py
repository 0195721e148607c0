"""What a model call gives back: text, reasoning and tool calls, with usage, timing and retries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import JsonValue

from policy_agent.records import (
    ChatMessage,
    Generation,
    RetryEvent,
    StructuredCall,
    TokenTrace,
    TokenUsage,
    Transport,
)


@dataclass(frozen=True, kw_only=True)
class StructuredToolCall:
    """A tool call the server parsed (chat transport, template style: the request had tools=)."""

    name: str
    arguments_json: str
    """The arguments exactly as the server sent them: a JSON string, not checked here."""
    id: str | None = None


@dataclass(frozen=True, kw_only=True)
class Usage:
    """Token counts as the server reported them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_prompt_tokens: int | None = None
    """Prompt tokens served from the prefix cache, when the server says."""


@dataclass(frozen=True, kw_only=True)
class AttemptRecord:
    """One failed attempt of a call, kept so that the episode can log retries."""

    attempt: int
    """1 for the first try."""
    error_type: str
    """The LLMError subclass name, e.g. `ServerError`."""
    message: str
    latency_ms: float
    api_base: str | None = None
    """The replica that was tried, when known."""
    moved_to: str | None = None
    """The replica the episode moved to after this failure (several api_bases only)."""

    def retry_event(self, model: str) -> RetryEvent:
        """The episode's record of this failed attempt of a call to `model`."""
        return RetryEvent(
            model=model,
            attempt=self.attempt,
            error_type=self.error_type,
            message=self.message,
            latency_ms=self.latency_ms,
            api_base=self.api_base,
            moved_to=self.moved_to,
        )


@dataclass(frozen=True, kw_only=True)
class Completion:
    """One model answer, for either transport."""

    text: str | None
    """message.content (chat) or the raw completion text (completions transport)."""
    reasoning: str | None = None
    """The server's parsed reasoning (chat: vLLM `reasoning`, litellm `reasoning_content`)."""
    tool_calls: tuple[StructuredToolCall, ...] = ()
    finish_reason: str | None = None
    """`stop`, `length` (cut off at max_tokens), `tool_calls`, ..."""
    usage: Usage = field(default_factory=Usage)
    latency_ms: float = 0.0
    """Wall time of the successful attempt."""
    model: str
    """The litellm model string of the role's config."""
    served_model: str | None = None
    """The model the server says answered (the response's `model`); None when it said none.
    A server that serves one model whatever the request names (llama.cpp) tells it here."""
    api_base: str | None = None
    """The server (replica) that answered, when litellm reports it."""
    prompt: str | None = None
    """The exact prompt text sent (completions transport only), for training logs."""
    raw: dict[str, JsonValue] = field(default_factory=dict)
    """The response's first choice as a dict, for training logs."""
    cost_usd: float | None = None
    """From the config's per-token prices; None when they are not set."""
    attempts: tuple[AttemptRecord, ...] = ()
    """The failed attempts that came before this answer (empty when the first try worked)."""
    tokens: TokenTrace | None = None
    """Token ids and logprobs, when the config has `record_tokens` (fields the server did not
    send are None)."""
    server_timing: dict[str, float] | None = None
    """The server's per-request timings, when it sends them."""

    def generation(
        self,
        *,
        transport: Transport,
        seed: int | None,
        attempt: int,
        prompt_sha256: str | None = None,
        corrections: Sequence[ChatMessage] = (),
        grammar_sha256: str | None = None,
    ) -> Generation:
        """The episode's record of this call (what came back, what it cost); `grammar_sha256`
        when the call carried a grammar (recorded as `constraint: grammar`)."""
        return Generation(
            model=self.model,
            served_model=self.served_model,
            transport=transport,
            raw_completion=self.text or "",
            raw_reasoning=self.reasoning,
            raw_tool_calls=[
                StructuredCall(name=call.name, arguments_json=call.arguments_json)
                for call in self.tool_calls
            ],
            finish_reason=self.finish_reason,
            usage=TokenUsage(
                prompt_tokens=self.usage.prompt_tokens,
                completion_tokens=self.usage.completion_tokens,
                cached_prompt_tokens=self.usage.cached_prompt_tokens,
            ),
            latency_ms=self.latency_ms,
            seed=seed,
            attempt=attempt,
            prompt_sha256=prompt_sha256,
            correction_messages=list(corrections),
            constraint="grammar" if grammar_sha256 is not None else None,
            grammar_sha256=grammar_sha256,
            tokens=self.tokens,
            server_timing=self.server_timing,
            api_base=self.api_base,
        )
