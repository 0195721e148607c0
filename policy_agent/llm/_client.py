"""`LLMClient`: one role's model calls over litellm, with typed errors and our own retries.

Two transports: `chat` (POST /v1/chat/completions; with `tools=` the server parses tool calls,
without them the caller parses the content) and `complete` (POST /v1/completions with a prompt
the caller rendered; the raw text comes back unparsed). Everything that does not change between
calls is built once in `__init__`, per replica, so a call costs one dict merge on our side and
choosing an episode's replica a hash (`_replicas`): litellm's Router is not used.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import JsonValue

from policy_agent.llm import _tokens
from policy_agent.llm._completion import AttemptRecord, Completion, StructuredToolCall, Usage
from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import LLMError, LLMTimeout, MalformedResponse, MissingAPIKey
from policy_agent.llm._replicas import ReplicaChoice
from policy_agent.llm._retries import Backoff, with_retries

_Send = Callable[..., Awaitable[Any]]
"""One transport's call: takes the per-call fields (messages or prompt, tools, seed, ...)."""


@dataclass(kw_only=True)
class _Replica:
    """One server of a role and its two calls, each taking only what changes per call."""

    api_base: str | None
    """None: litellm resolves the server from the environment (a hosted provider)."""
    chat: _Send
    text: _Send
    direct: bool
    """Whether the calls go through litellm's provider handlers (`_direct`)."""
    text_client: tuple[asyncio.AbstractEventLoop, Any] | None = None
    """The pooled OpenAI SDK client of /v1/completions, for the event loop it was made on."""


class LLMClient:
    """Calls one role's model; one client per role, shared by every episode of a run.

    With several `api_bases`, each replica gets its own calls, built as for a single server,
    and every call of an episode (its `session`) goes to one of them (`_replicas`).
    """

    def __init__(self, config: ModelConfig, *, role: str) -> None:
        self.config = config
        self.role = role
        key = self._api_key()
        self._key = key
        self._chat_extras = config.request_extras(chat=True)
        self._text_extras = config.request_extras(chat=False)
        servers: tuple[str | None, ...] = config.servers or (None,)
        self._replicas = tuple(self._replica(key, server) for server in servers)
        self._choice = ReplicaChoice(len(self._replicas))
        self.path: Literal["direct", "acompletion"] = (
            "direct" if all(replica.direct for replica in self._replicas) else "acompletion"
        )
        """How calls reach litellm: its provider handlers for vLLM servers (`direct`, the
        pinned release only) or `acompletion`."""
        self._backoff = Backoff(config)
        self._warned_tokens = False

    def _replica(self, key: str | None, server: str | None) -> _Replica:
        """The chat and completions calls to one server.

        A vLLM server: litellm's provider handlers (`_direct`: the same requests as
        `acompletion`, a third of its CPU). Any other provider: `litellm.acompletion` /
        `atext_completion`.
        """
        from policy_agent.llm import _direct, _litellm

        config = self.config
        sampling: dict[str, Any] = {"temperature": config.temperature, "top_p": config.top_p}
        if config.max_tokens is not None:
            sampling["max_tokens"] = config.max_tokens
        chat_extras, text_extras = self._chat_extras, self._text_extras
        if server is not None:
            target = _direct.direct_target(
                config.model, server, key, timeout=config.timeout, sampling=sampling
            )
            if target is not None:
                chat = _direct.DirectChat(target, extra_body=chat_extras)
                text = _direct.DirectText(target, extra_body=text_extras)
                return _Replica(api_base=server, chat=chat.send, text=text.send, direct=True)
        _litellm.describe_model(
            config.model,
            input_price=config.price_per_input_token,
            output_price=config.price_per_output_token,
        )
        # Retries are ours (see _call); litellm's and the OpenAI SDK's stay off.
        common: dict[str, Any] = {
            **sampling,
            "model": config.model,
            "timeout": config.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if server is not None:
            common["api_base"] = server
        if key is not None:
            common["api_key"] = key
        # `_skip_mcp_handler`: litellm 1.106.2 imports its MCP gateway (and the optional `mcp`
        # package) for any call with tools=, unless told to skip it; we never use MCP tools.
        # A private flag: passed to the pinned release only (another might send it on).
        private = {"_skip_mcp_handler": True} if _litellm.pinned_release_installed() else {}
        return _Replica(
            api_base=server,
            chat=functools.partial(
                _litellm.acompletion, **common, extra_body=chat_extras, **private
            ),
            text=functools.partial(_litellm.atext_completion, **common, extra_body=text_extras),
            direct=False,
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
        session: str | None = None,
    ) -> Completion:
        """POST /v1/chat/completions; given `tools`, the server parses the tool calls.
        `extra_body`: this call's request fields, over the config's. Every call of one
        `session` (an episode) goes to the same replica."""
        kwargs: dict[str, Any] = {"messages": messages}
        if tools is not None:
            kwargs["tools"] = tools
        if seed is not None:
            kwargs["seed"] = seed
        if extra_body:
            kwargs["extra_body"] = {**self._chat_extras, **extra_body}
        return await self._call(False, kwargs, self._chat_completion, session)

    async def complete(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = ("<|im_end|>",),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """POST /v1/completions with a rendered prompt; the raw completion text comes back.
        `extra_body`: this call's request fields, over the config's. Every call of one
        `session` (an episode) goes to the same replica."""
        kwargs: dict[str, Any] = {"prompt": prompt, "stop": list(stop)}
        if seed is not None:
            kwargs["seed"] = seed
        if extra_body:
            kwargs["extra_body"] = {**self._text_extras, **extra_body}

        def convert(
            response: Any,
            latency_ms: float,
            attempts: tuple[AttemptRecord, ...],
            api_base: str | None,
        ) -> Completion:
            return self._text_completion(response, latency_ms, attempts, api_base, prompt)

        return await self._call(True, kwargs, convert, session)

    async def aclose(self) -> None:
        """Close the HTTP connections this client owns (litellm's own: `close_connections`)."""
        for replica in self._replicas:
            if replica.text_client is not None:
                await replica.text_client[1].close()
                replica.text_client = None

    async def _call(
        self,
        text: bool,
        kwargs: dict[str, Any],
        convert: Callable[[Any, float, tuple[AttemptRecord, ...], str | None], Completion],
        session: str | None,
    ) -> Completion:
        timeout = self.config.timeout
        choice = self._choice

        async def attempt_once(failed: tuple[AttemptRecord, ...]) -> Completion:
            # Chosen per attempt: a retry after a replica failed goes where the session moved.
            index = choice.index(session)
            replica = self._replicas[index]
            send = replica.chat
            if text:
                send = replica.text
                client = self._pooled_text_client(replica)
                if client is not None:
                    kwargs["client"] = client
            start = time.perf_counter()
            # litellm's and httpx's timeouts are per read: a server that sends a byte now and
            # then would never trip them. `timeout` is the deadline of the whole attempt.
            deadline = asyncio.timeout(timeout)
            try:
                async with deadline:
                    response = await send(**kwargs)
            except Exception as raised:  # every failure below litellm is classified here
                if isinstance(raised, TimeoutError) and deadline.expired():
                    error: LLMError = self._timed_out(replica.api_base)
                elif isinstance(raised, LLMError):
                    error = raised
                else:
                    error = self._error(raised, replica.api_base)
                moved = choice.failed(session, index, error)
                if moved is not None:
                    error.moved_to = self._replicas[moved].api_base
                if error is raised:
                    raise
                raise error from raised
            return convert(response, (time.perf_counter() - start) * 1000, failed, replica.api_base)

        return await with_retries(self.config, self._backoff, attempt_once)

    def _error(self, raised: Exception, api_base: str | None) -> LLMError:
        from policy_agent.llm import _litellm

        return _litellm.to_llm_error(
            raised,
            role=self.role,
            model=self.config.model,
            api_base=api_base,
            timeout=self.config.timeout,
            api_key_env=self.config.api_key_env,
        )

    def _timed_out(self, api_base: str | None) -> LLMTimeout:
        timeout = self.config.timeout
        return LLMTimeout(
            role=self.role,
            model=self.config.model,
            api_base=api_base,
            timeout=timeout,
            detail=f"timed out after {timeout} s",
        )

    def _malformed(self, detail: str, api_base: str | None) -> MalformedResponse:
        return MalformedResponse(
            role=self.role, model=self.config.model, api_base=api_base, detail=detail
        )

    def _chat_completion(
        self,
        response: Any,
        latency_ms: float,
        attempts: tuple[AttemptRecord, ...],
        api_base: str | None,
    ) -> Completion:
        choices = getattr(response, "choices", None)
        if not choices:
            raise self._malformed("the response has no choices", api_base)
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
            api_base,
            chat=True,
            text=message.content,
            reasoning=getattr(message, "reasoning_content", None),
            tool_calls=calls,
        )

    def _text_completion(
        self,
        response: Any,
        latency_ms: float,
        attempts: tuple[AttemptRecord, ...],
        api_base: str | None,
        prompt: str,
    ) -> Completion:
        choices = getattr(response, "choices", None)
        # litellm fills in an empty choice (text None) when a text completion has none; vLLM
        # always sends a text, so a missing one is a missing choice.
        if not choices or choices[0].text is None:
            raise self._malformed("the response has no choices", api_base)
        choice = choices[0]
        return self._completion(
            response,
            choice,
            latency_ms,
            attempts,
            api_base,
            chat=False,
            text=choice.text,
            prompt=prompt,
        )

    def _completion(
        self,
        response: Any,
        choice: Any,
        latency_ms: float,
        attempts: tuple[AttemptRecord, ...],
        api_base: str | None,
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
            api_base=api_base or hidden.get("api_base"),
            raw=raw,
            cost_usd=cost,
            attempts=attempts,
            tokens=tokens,
            server_timing=_tokens.server_timing(_metrics(response, hidden)),
            **fields,
        )

    def _pooled_text_client(self, replica: _Replica) -> Any:
        """An OpenAI SDK client for /v1/completions to `replica`, reused per event loop.

        litellm 1.106.2 builds a new HTTP session for every text completion and never closes
        it; passing a client keeps one connection pool per replica. It is the client litellm
        would build (its own HTTP transport and settings underneath).
        """
        if replica.api_base is None:
            return None
        loop = asyncio.get_running_loop()
        if replica.text_client is None or replica.text_client[0] is not loop:
            from policy_agent.llm import _litellm

            client = _litellm.AsyncOpenAI(
                base_url=replica.api_base,
                api_key=self._key or "EMPTY",
                timeout=self.config.timeout,
                max_retries=0,
                http_client=_litellm.openai_http_client(),
            )
            replica.text_client = (loop, client)
        return replica.text_client[1]

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
