"""`ScriptedModelClient`: the scripted server's answers, in process — a `ModelClient` double.

The same `Script` (roles, answers by sequence, rules or seed, latency, faults, hangs) answers the
same way, through the same `Responder` the server uses, but without HTTP or litellm: a reply
becomes the `Completion` `LLMClient` would return for it, and a fault the `LLMError` it would
raise, with the same retries (`with_retries`). For tests and users' tests that are about what a
model says rather than how it is reached; tests of requests, transports and HTTP faults use the
server (`ScriptedServer`) with a real `LLMClient`.

Differences from the server path, on purpose: `Completion.raw` is the served choice as JSON (not
litellm's object dump), `api_base` is None, and `requests` records the request body as this
client builds it (the fields the server reads: model, messages or prompt, tools, seed, stop,
sampling and extras), not litellm's exact bytes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import JsonValue

from policy_agent.llm import (
    AttemptRecord,
    Backoff,
    Completion,
    ContextLengthExceeded,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    ModelConfig,
    RateLimited,
    RequestRejected,
    ServerError,
    StructuredToolCall,
    Usage,
    cached_tokens,
    server_timing,
    token_trace,
    warn_missing,
    with_retries,
)
from policy_agent.scripted._responder import Endpoint, Reply, Responder
from policy_agent.scripted._script import Script
from policy_agent.scripted._server import RecordedRequest

_CONTEXT_PHRASES = (
    "maximum context length",
    "context_length_exceeded",
    "exceeds the available context size",
)
"""What a 400 says when the prompt does not fit, as litellm 1.106.2 recognises it (vLLM and
OpenAI's wording, and llama.cpp's)."""


class ScriptedModelClient:
    """A role's model answering from a script, in process (see the module docstring).

    `ScriptedModelClient(script, config)` answers as the role the config's model names (its
    served name: `hosted_vllm/agent` is role `agent`), exactly as a `ScriptedServer` of the
    same script would to an `LLMClient` of the same config.
    """

    def __init__(
        self,
        script: Script,
        config: ModelConfig | None = None,
        *,
        role: str = "agent",
        responder: Responder | None = None,
    ) -> None:
        """`role` names the client in errors (`agent`, `user`, `judge`); `config` defaults to
        `hosted_vllm/<role>`. Clients of one script share positions through `responder`."""
        self.config = config or ModelConfig(model=f"hosted_vllm/{role}")
        self.role = role
        self.script = script
        self._responder = responder or Responder(script)
        self._served = self.config.model.split("/", 1)[-1]
        self._backoff = Backoff(self.config)
        self.requests: list[RecordedRequest] = []
        """Every request asked of this client, oldest first."""
        self._warned_tokens = False

    def __repr__(self) -> str:
        return f"ScriptedModelClient(role={self.role!r}, model={self.config.model!r})"

    async def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """The script's next chat answer, as `LLMClient.chat` would return it."""
        body = self._body(
            extra_body, messages=list(messages), tools=list(tools) if tools else None, seed=seed
        )
        return await self._ask("chat", body, prompt=None)

    async def complete(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = ("<|im_end|>",),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """The script's next completion, as `LLMClient.complete` would return it."""
        body = self._body(extra_body, prompt=prompt, stop=list(stop), seed=seed)
        return await self._ask("completions", body, prompt=prompt)

    async def aclose(self) -> None:
        """Nothing to release."""

    def _body(
        self, extra_body: Mapping[str, Any] | None, **fields: JsonValue
    ) -> dict[str, JsonValue]:
        config = self.config
        chat = "messages" in fields
        body: dict[str, JsonValue] = {"model": self._served}
        body.update({key: value for key, value in fields.items() if value is not None})
        body.update({"temperature": config.temperature, "top_p": config.top_p})
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        body.update(config.request_extras(chat=chat))
        body.update(extra_body or {})
        return body

    async def _ask(
        self, endpoint: Endpoint, body: dict[str, JsonValue], *, prompt: str | None
    ) -> Completion:
        path = "/v1/chat/completions" if endpoint == "chat" else "/v1/completions"

        async def attempt_once(failed: tuple[AttemptRecord, ...]) -> Completion:
            self.requests.append(RecordedRequest(path=path, body=body))
            start = time.perf_counter()
            reply = self._responder.reply(endpoint, body)
            # `timeout` bounds the whole attempt, as in `LLMClient`: a trickled body too.
            deadline = asyncio.timeout(self.config.timeout)
            try:
                async with deadline:
                    await _served(reply)
            except TimeoutError:
                if not deadline.expired():
                    raise
                raise self._error(LLMTimeout, f"timed out after {self.config.timeout} s") from None
            latency_ms = (time.perf_counter() - start) * 1000
            return self._completion(endpoint, reply, latency_ms, failed, prompt)

        return await with_retries(self.config, self._backoff, attempt_once)

    def _completion(
        self,
        endpoint: Endpoint,
        reply: Reply,
        latency_ms: float,
        failed: tuple[AttemptRecord, ...],
        prompt: str | None,
    ) -> Completion:
        if reply.status != 200:
            raise self._status_error(reply)
        try:
            body = json.loads(reply.body)
            choice = body["choices"][0]
        except (ValueError, LookupError, TypeError):
            raise self._error(
                MalformedResponse, f"the response is not a completion: {reply.body[:200]!r}"
            ) from None
        reported = body.get("usage") or {}
        usage = Usage(
            prompt_tokens=reported.get("prompt_tokens", 0) or 0,
            completion_tokens=reported.get("completion_tokens", 0) or 0,
            total_tokens=reported.get("total_tokens", 0) or 0,
            cached_prompt_tokens=cached_tokens(reported),
        )
        fields: dict[str, Any] = {}
        if self.config.record_tokens:
            tokens = token_trace(choice, body.get("prompt_token_ids"), chat=endpoint == "chat")
            if not tokens.complete and not self._warned_tokens:
                self._warned_tokens = True
                warn_missing(self.role, self.config.model, tokens)
            fields["tokens"] = tokens
        if endpoint == "chat":
            message = choice.get("message") or {}
            fields["text"] = message.get("content")
            fields["reasoning"] = message.get("reasoning_content", message.get("reasoning"))
            fields["tool_calls"] = tuple(
                StructuredToolCall(
                    name=call["function"]["name"],
                    arguments_json=call["function"]["arguments"],
                    id=call.get("id"),
                )
                for call in message.get("tool_calls") or ()
            )
        else:
            fields["text"] = choice.get("text")
            fields["prompt"] = prompt
        config = self.config
        cost = None
        if config.price_per_input_token is not None and config.price_per_output_token is not None:
            cost = (
                usage.prompt_tokens * config.price_per_input_token
                + usage.completion_tokens * config.price_per_output_token
            )
        served = body.get("model")
        return Completion(
            finish_reason=choice.get("finish_reason"),
            usage=usage,
            latency_ms=latency_ms,
            model=config.model,
            served_model=served if isinstance(served, str) else None,
            raw=choice,
            cost_usd=cost,
            attempts=failed,
            server_timing=server_timing(body.get("metrics")),
            **fields,
        )

    def _status_error(self, reply: Reply) -> LLMError:
        """The error `LLMClient` raises for an HTTP error of this status and body."""
        status = reply.status
        try:
            inner = json.loads(reply.body).get("error", {})
            message = inner.get("message") if isinstance(inner, dict) else str(inner)
        except (ValueError, AttributeError):
            message = None
        detail = message if isinstance(message, str) else reply.body[:500] or f"HTTP {status}"
        if status == 429:
            return self._error(RateLimited, detail, status)
        if status >= 500:
            return self._error(ServerError, detail, status)
        if status == 400 and any(phrase in detail for phrase in _CONTEXT_PHRASES):
            return self._error(ContextLengthExceeded, detail, status)
        return self._error(RequestRejected, detail, status)

    def _error(self, kind: type[LLMError], detail: str, status: int | None = None) -> LLMError:
        return kind(
            role=self.role,
            model=self.config.model,
            detail=detail,
            status=status,
            timeout=self.config.timeout,
        )


async def _served(reply: Reply) -> None:
    """Wait as long as the server would take to send `reply` (a hang: until cancelled)."""
    if reply.delay_s > 0:
        await asyncio.sleep(reply.delay_s)
    if reply.hang:
        await asyncio.Event().wait()
    if reply.trickle_s is not None:
        await asyncio.sleep(len(reply.body.encode()) * reply.trickle_s)
