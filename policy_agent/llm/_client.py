"""`LLMClient`: one role's model calls over litellm, with typed errors and our own retries.

Two transports: `chat` (POST /v1/chat/completions; with `tools=` the server parses tool calls,
without them the caller parses the content) and `complete` (POST /v1/completions with a prompt
the caller rendered; the raw text comes back unparsed). Everything that does not change between
calls is built once in `__init__`, so a call costs one dict merge on our side.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import JsonValue

from policy_agent.llm import _tokens
from policy_agent.llm._completion import AttemptRecord, Completion, StructuredToolCall, Usage
from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import LLMError, LLMTimeout, MalformedResponse, MissingAPIKey
from policy_agent.llm._retries import Backoff, with_retries

_Send = Callable[..., Awaitable[Any]]
"""One transport's call: takes the per-call fields (messages or prompt, tools, seed, ...)."""


class LLMClient:
    """Calls one role's model; one client per role, shared by every episode of a run."""

    def __init__(self, config: ModelConfig, *, role: str) -> None:
        self.config = config
        self.role = role
        key = self._api_key()
        self.path: Literal["direct", "acompletion", "router"] = "acompletion"
        """How calls reach litellm: its provider handlers for one vLLM server (`direct`, the
        pinned release only), `acompletion`, or its Router over several replicas."""
        servers = config.servers
        self._router: Any = None
        self._api_base = servers[0] if len(servers) == 1 else None
        self._key = key
        self._chat_extras = config.request_extras(chat=True)
        self._text_extras = config.request_extras(chat=False)
        self._chat_send, self._text_send = self._senders(key)
        self._text_client: tuple[asyncio.AbstractEventLoop, Any] | None = None
        self._backoff = Backoff(config)
        self._warned_tokens = False

    def _senders(self, key: str | None) -> tuple[_Send, _Send]:
        """The chat and completions calls, each taking only what changes per call.

        One vLLM server: litellm's provider handlers (`_direct`: the same requests as
        `acompletion`, a third of its CPU). Several replicas: litellm's Router. Any other
        provider: `litellm.acompletion` / `atext_completion`.
        """
        from policy_agent.llm import _direct, _litellm

        config = self.config
        sampling: dict[str, Any] = {"temperature": config.temperature, "top_p": config.top_p}
        if config.max_tokens is not None:
            sampling["max_tokens"] = config.max_tokens
        chat_extras, text_extras = self._chat_extras, self._text_extras
        servers = config.servers
        if len(servers) == 1:
            target = _direct.direct_target(
                config.model, servers[0], key, timeout=config.timeout, sampling=sampling
            )
            if target is not None:
                chat = _direct.DirectChat(target, extra_body=chat_extras)
                text = _direct.DirectText(target, extra_body=text_extras)
                self.path = "direct"
                return chat.send, text.send
        _litellm.describe_model(
            config.model,
            input_price=config.price_per_input_token,
            output_price=config.price_per_output_token,
        )
        # Retries are ours (see _call); litellm's and the OpenAI SDK's stay off.
        common: dict[str, Any] = {
            **sampling,
            "timeout": config.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if len(servers) > 1:
            self.path = "router"
            self._router = self._replicas(key)
            chat_send, text_send = self._router.acompletion, self._router.atext_completion
            common["model"] = self.role
        else:
            chat_send, text_send = _litellm.acompletion, _litellm.atext_completion
            common["model"] = config.model
            if servers:
                common["api_base"] = servers[0]
            if key is not None:
                common["api_key"] = key
        # `_skip_mcp_handler`: litellm 1.106.2 imports its MCP gateway (and the optional `mcp`
        # package) for any call with tools=, unless told to skip it; we never use MCP tools.
        # A private flag: passed to the pinned release only (another might send it on).
        private = {"_skip_mcp_handler": True} if _litellm.pinned_release_installed() else {}
        return (
            functools.partial(chat_send, **common, extra_body=chat_extras, **private),
            functools.partial(text_send, **common, extra_body=text_extras),
        )

    def _replicas(self, key: str | None) -> Any:
        """litellm's Router over the role's replicas."""
        from policy_agent.llm import _litellm

        config = self.config
        # simple-shuffle: stateless and cheapest per call; vLLM batches internally, so a
        # uniform spread of many concurrent episodes keeps replicas evenly busy. least-busy
        # would register global callbacks and count in-flight calls on every request.
        return _litellm.Router(
            model_list=[
                {
                    "model_name": self.role,
                    "litellm_params": {
                        "model": config.model,
                        "api_base": server,
                        "timeout": config.timeout,
                        "max_retries": 0,
                        **({"api_key": key} if key is not None else {}),
                    },
                }
                for server in config.servers
            ],
            routing_strategy="simple-shuffle",
            num_retries=0,
            retry_after=0,
            timeout=config.timeout,
        )

    def __repr__(self) -> str:
        # Never show the key; the config holds only the name of its variable.
        return f"LLMClient(role={self.role!r}, model={self.config.model!r})"

    async def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion:
        """POST /v1/chat/completions; given `tools`, the server parses the tool calls.
        `extra_body`: this call's request fields, over the config's."""
        kwargs: dict[str, Any] = {"messages": messages}
        if tools is not None:
            kwargs["tools"] = tools
        if seed is not None:
            kwargs["seed"] = seed
        if extra_body:
            kwargs["extra_body"] = {**self._chat_extras, **extra_body}
        return await self._call(self._chat_send, kwargs, self._chat_completion)

    async def complete(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = ("<|im_end|>",),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion:
        """POST /v1/completions with a rendered prompt; the raw completion text comes back.
        `extra_body`: this call's request fields, over the config's."""
        kwargs: dict[str, Any] = {"prompt": prompt, "stop": list(stop)}
        if seed is not None:
            kwargs["seed"] = seed
        if extra_body:
            kwargs["extra_body"] = {**self._text_extras, **extra_body}
        client = self._pooled_text_client()
        if client is not None:
            kwargs["client"] = client

        def convert(
            response: Any, latency_ms: float, attempts: tuple[AttemptRecord, ...]
        ) -> Completion:
            return self._text_completion(response, latency_ms, attempts, prompt)

        return await self._call(self._text_send, kwargs, convert)

    async def aclose(self) -> None:
        """Close the HTTP connections this client owns (litellm's own: `close_connections`)."""
        if self._text_client is not None:
            await self._text_client[1].close()
            self._text_client = None

    async def _call(
        self,
        send: Callable[..., Awaitable[Any]],
        kwargs: dict[str, Any],
        convert: Callable[[Any, float, tuple[AttemptRecord, ...]], Completion],
    ) -> Completion:
        timeout = self.config.timeout

        async def attempt_once(failed: tuple[AttemptRecord, ...]) -> Completion:
            start = time.perf_counter()
            # litellm's and httpx's timeouts are per read: a server that sends a byte now and
            # then would never trip them. `timeout` is the deadline of the whole attempt.
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    response = await send(**kwargs)
            except LLMError:
                raise
            except Exception as raised:  # every failure below litellm is classified here
                if isinstance(raised, TimeoutError) and deadline.expired():
                    raise self._timed_out() from raised
                raise self._error(raised) from raised
            return convert(response, (time.perf_counter() - start) * 1000, failed)

        return await with_retries(self.config, self._backoff, attempt_once)

    def _error(self, raised: Exception) -> LLMError:
        from policy_agent.llm import _litellm

        return _litellm.to_llm_error(
            raised,
            role=self.role,
            model=self.config.model,
            api_base=self._api_base,
            timeout=self.config.timeout,
            api_key_env=self.config.api_key_env,
        )

    def _timed_out(self) -> LLMTimeout:
        timeout = self.config.timeout
        return LLMTimeout(
            role=self.role,
            model=self.config.model,
            api_base=self._api_base,
            timeout=timeout,
            detail=f"timed out after {timeout} s",
        )

    def _malformed(self, detail: str) -> MalformedResponse:
        return MalformedResponse(
            role=self.role, model=self.config.model, api_base=self._api_base, detail=detail
        )

    def _chat_completion(
        self, response: Any, latency_ms: float, attempts: tuple[AttemptRecord, ...]
    ) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise self._malformed("the response has no choices")
        choice = choices[0]
        message = choice.message
        calls = tuple(
            StructuredToolCall(
                name=call.function.name, arguments_json=call.function.arguments, id=call.id
            )
            for call in message.tool_calls or ()
        )
        return self._completion(
            response,
            choice,
            latency_ms,
            attempts,
            chat=True,
            text=message.content,
            reasoning=getattr(message, "reasoning_content", None),
            tool_calls=calls,
        )

    def _text_completion(
        self, response: Any, latency_ms: float, attempts: tuple[AttemptRecord, ...], prompt: str
    ) -> Completion:
        choices = getattr(response, "choices", None)
        # litellm fills in an empty choice (text None) when a text completion has none; vLLM
        # always sends a text, so a missing one is a missing choice.
        if not choices or choices[0].text is None:
            raise self._malformed("the response has no choices")
        choice = choices[0]
        return self._completion(
            response, choice, latency_ms, attempts, chat=False, text=choice.text, prompt=prompt
        )

    def _completion(
        self,
        response: Any,
        choice: Any,
        latency_ms: float,
        attempts: tuple[AttemptRecord, ...],
        *,
        chat: bool,
        **fields: Any,
    ) -> Completion:
        config = self.config
        reported = getattr(response, "usage", None)
        usage = Usage(
            prompt_tokens=getattr(reported, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(reported, "completion_tokens", 0) or 0,
            total_tokens=getattr(reported, "total_tokens", 0) or 0,
            cached_prompt_tokens=_tokens.cached_tokens(reported),
        )
        cost = None
        if config.price_per_input_token is not None and config.price_per_output_token is not None:
            cost = (
                usage.prompt_tokens * config.price_per_input_token
                + usage.completion_tokens * config.price_per_output_token
            )
        hidden = getattr(response, "_hidden_params", None) or {}
        raw: dict[str, JsonValue] = choice.model_dump()
        served = getattr(response, "model", None)
        tokens = None
        if config.record_tokens:
            tokens = _tokens.token_trace(
                raw, getattr(response, "prompt_token_ids", None), chat=chat
            )
            if not tokens.complete and not self._warned_tokens:
                self._warned_tokens = True
                _tokens.warn_missing(self.role, config.model, tokens)
        return Completion(
            finish_reason=choice.finish_reason,
            usage=usage,
            latency_ms=latency_ms,
            model=config.model,
            served_model=served if isinstance(served, str) and served else None,
            api_base=hidden.get("api_base") or self._api_base,
            raw=raw,
            cost_usd=cost,
            attempts=attempts,
            tokens=tokens,
            server_timing=_tokens.server_timing(_metrics(response, hidden)),
            **fields,
        )

    def _pooled_text_client(self) -> Any:
        """An OpenAI SDK client for /v1/completions, reused per event loop (single server only).

        litellm 1.106.2 builds a new HTTP session for every text completion and never closes
        it; passing a client keeps one connection pool. It is the client litellm would build
        (its own HTTP transport and settings underneath). The Router picks the replica itself
        and replaces `client`, so with several api_bases litellm's behaviour stays.
        """
        if self._router is not None or self._api_base is None:
            return None
        loop = asyncio.get_running_loop()
        if self._text_client is None or self._text_client[0] is not loop:
            from policy_agent.llm import _litellm

            client = _litellm.AsyncOpenAI(
                base_url=self._api_base,
                api_key=self._key or "EMPTY",
                timeout=self.config.timeout,
                max_retries=0,
                http_client=_litellm.openai_http_client(),
            )
            self._text_client = (loop, client)
        return self._text_client[1]

    def _api_key(self) -> str | None:
        name = self.config.api_key_env
        if name is None:
            return None
        key = os.environ.get(name)
        if not key:
            raise MissingAPIKey(
                role=self.role,
                model=self.config.model,
                api_base=self.config.api_base,
                detail=f"the environment variable {name} (api_key_env) is not set",
            )
        return key


async def close_connections() -> None:
    """Close litellm's pooled HTTP sessions of the running event loop, once, at the end of a run."""
    from policy_agent.llm import _litellm

    await _litellm.close_connections()


def _metrics(response: Any, hidden: dict[str, Any]) -> Any:
    """vLLM's per-request `metrics`: an extra attribute of litellm's chat response; the
    completions response drops it, so it is read from the body litellm keeps in its hidden
    params (parsed only when it is there)."""
    metrics = getattr(response, "metrics", None)
    if metrics is not None:
        return metrics
    original = hidden.get("original_response")
    if isinstance(original, str) and '"metrics"' in original:
        try:
            body = json.loads(original)
        except ValueError:
            return None
        return body.get("metrics") if isinstance(body, dict) else None
    return None
