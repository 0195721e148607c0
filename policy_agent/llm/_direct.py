"""litellm's own provider handlers for one vLLM server, without `acompletion`'s per-call extras.

For a `hosted_vllm/` model, `litellm.acompletion` ends in `BaseLLMHTTPHandler` with
`HostedVLLMChatConfig` (chat) and `litellm.atext_completion` in `OpenAITextCompletion`
(completions). Around them litellm 1.106.2 does, on every call, work a run never uses and that no
setting turns off: a hop to a thread pool, generic parameter processing, a response cost looked
up in its price map (for a self-hosted model, a walk over every fallback entry), hidden params,
and a background success handler that builds a logging payload. That is ~4 ms of CPU per chat
call on this project's 2-core machine; the handler alone ~1.1 ms (benchmarks/client_overhead.py).

The senders here call those same handlers the way `completion()` does: the messages and tools
are checked by the same litellm functions, the same provider config builds the request, litellm's
HTTP client (or the pooled OpenAI client litellm would be given) sends it, litellm parses the
answer, and a failure goes through `litellm.exception_type` as in `acompletion`. So the server
sees byte-for-byte the request `acompletion` would send, and our errors are classified the same.
Every vLLM server of a role is served this way, each replica with senders of its own.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import JsonValue

from policy_agent.llm import _litellm
from policy_agent.llm._litellm import litellm

__all__ = ["DirectChat", "DirectTarget", "DirectText", "direct_target"]

_PROVIDER = "hosted_vllm"


@dataclass(frozen=True, kw_only=True)
class DirectTarget:
    """One role's single vLLM server and what every call to it sends."""

    model: str
    """The litellm model string of the role's config, e.g. `hosted_vllm/agent`."""
    served: str
    """The name the server knows the model by (the model string without `hosted_vllm/`)."""
    api_base: str
    api_key: str
    """What litellm would send: the configured key, HOSTED_VLLM_API_KEY, or its placeholder."""
    timeout: float
    sampling: dict[str, Any]
    """temperature, top_p and max_tokens, as OpenAI parameters."""


def direct_target(
    model: str, api_base: str, api_key: str | None, *, timeout: float, sampling: dict[str, Any]
) -> DirectTarget | None:
    """The target when `model` can skip `acompletion`: a `hosted_vllm/` model, else None.

    Other providers have other handlers, and `acompletion` serves them; so does any litellm but
    the pinned one, whose internals these handlers are known to fit (`direct_path_enabled`).
    """
    if not _litellm.direct_path_enabled():
        return None
    try:
        served, provider, key, _ = litellm.get_llm_provider(
            model=model, api_base=api_base, api_key=api_key
        )
    except Exception:  # litellm raises BadRequestError for a model it cannot place
        return None
    if provider != _PROVIDER:
        return None
    return DirectTarget(
        model=model,
        served=served,
        api_base=api_base,
        api_key=key or "",
        timeout=timeout,
        sampling=sampling,
    )


def _logging_object(model: str, messages: list[Any], call_type: str) -> Any:
    """The logging object a handler records its pre- and post-call details on (no callbacks run)."""
    logging_object = _litellm.Logging(
        model=model,
        messages=messages,
        stream=False,
        call_type=call_type,
        start_time=datetime.datetime.now(),
        litellm_call_id=str(uuid.uuid4()),
        function_id="",
    )
    logging_object.update_environment_variables(
        litellm_params={"custom_llm_provider": _PROVIDER}, optional_params={}, model=model
    )
    return logging_object


def _litellm_params(target: DirectTarget, **more: bool) -> dict[str, Any]:
    """The litellm_params `completion()` hands a handler (the ones these handlers read)."""
    return {
        "custom_llm_provider": _PROVIDER,
        "api_base": target.api_base,
        "api_key": target.api_key,
        "timeout": target.timeout,
        "acompletion": True,
        **more,
    }


class DirectChat:
    """POST /v1/chat/completions to one vLLM server through litellm's chat handler."""

    def __init__(self, target: DirectTarget, *, extra_body: dict[str, JsonValue]) -> None:
        self._target = target
        self._extra_body = extra_body
        self._config = litellm.HostedVLLMChatConfig()
        self._handler = _litellm.BaseLLMHTTPHandler()
        self._params = _litellm_params(target)

    async def send(
        self,
        *,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None = None,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Any:
        """The parsed `ModelResponse`, or litellm's exception for what went wrong
        (`extra_body`: this call's, replacing the client's)."""
        target = self._target
        try:
            # What `completion()` does to messages and tools before it picks the handler.
            checked = litellm.utils.validate_and_fix_openai_messages(messages=list(messages))
            checked = self._config.translate_developer_role_to_system_role(messages=checked)
            requested = dict(target.sampling)
            if seed is not None:
                requested["seed"] = seed
            if tools is not None:
                requested["tools"] = litellm.utils.validate_and_fix_openai_tools(tools=list(tools))
            optional = self._config.map_openai_params(
                requested, {}, target.served, drop_params=False
            )
            optional["extra_body"] = self._extra_body if extra_body is None else extra_body
            return await self._handler.completion(
                model=target.served,
                messages=checked,
                api_base=target.api_base,
                custom_llm_provider=_PROVIDER,
                model_response=litellm.ModelResponse(),
                encoding=None,  # read only by providers that count tokens themselves
                logging_obj=_logging_object(target.served, checked, "acompletion"),
                optional_params=optional,
                timeout=target.timeout,
                litellm_params=dict(self._params),
                acompletion=True,
                api_key=target.api_key,
                headers={},
                provider_config=self._config,
            )
        except Exception as error:
            raise litellm.exception_type(
                model=target.model, original_exception=error, custom_llm_provider=_PROVIDER
            ) from error


class DirectText:
    """POST /v1/completions to one vLLM server through litellm's text-completion handler."""

    def __init__(self, target: DirectTarget, *, extra_body: dict[str, JsonValue]) -> None:
        self._target = target
        self._extra_body = extra_body
        self._handler = _litellm.OpenAITextCompletion()
        self._params = _litellm_params(target, text_completion=True)

    async def send(
        self,
        *,
        prompt: str,
        stop: list[str],
        client: Any,
        seed: int | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> Any:
        """The parsed `TextCompletionResponse` (`client`: the pooled AsyncOpenAI;
        `extra_body`: this call's, replacing the client's)."""
        target = self._target
        messages: list[Any] = [{"role": "user", "content": prompt}]
        optional: dict[str, Any] = {**target.sampling, "stop": stop}
        if seed is not None:
            optional["seed"] = seed
        optional["max_retries"] = 0  # as litellm hands it over: the SDK does not retry
        optional["extra_body"] = self._extra_body if extra_body is None else extra_body
        try:
            return await self._handler.completion(
                model_response=litellm.ModelResponse(),
                api_key=target.api_key,
                model=target.served,
                messages=messages,
                timeout=target.timeout,
                custom_llm_provider=_PROVIDER,
                logging_obj=_logging_object(target.served, messages, "atext_completion"),
                optional_params=optional,
                api_base=target.api_base,
                acompletion=True,
                litellm_params=dict(self._params),
                client=client,
            )
        except Exception as error:
            # `atext_completion` maps its errors as OpenAI's, whatever the provider.
            raise litellm.exception_type(
                model=target.model, original_exception=error, custom_llm_provider="openai"
            ) from error
