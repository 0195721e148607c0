"""Where policy-agent imports litellm: quiet, offline, and its errors turned into ours.

litellm fetches a model price map from GitHub at import unless LITELLM_LOCAL_MODEL_COST_MAP is
set, so it is set before the import; self-hosted models have no price there anyway. Retries are
ours (litellm's and the OpenAI SDK's are switched off per call), so every attempt can be logged.
The provider handlers `_direct` calls for a single vLLM server are imported here too.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import warnings
from collections.abc import Iterator

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

import httpx  # litellm's HTTP layer: its exceptions tell what failed
import litellm
import openai
from litellm.exceptions import ContextWindowExceededError, Timeout
from litellm.litellm_core_utils.litellm_logging import Logging
from litellm.llms.custom_httpx.async_client_cleanup import close_litellm_async_clients
from litellm.llms.custom_httpx.llm_http_handler import BaseLLMHTTPHandler
from litellm.llms.openai.common_utils import BaseOpenAILLM
from litellm.llms.openai.completion.handler import OpenAITextCompletion
from litellm.router import Router
from litellm.types.router import RouterRateLimitError

from policy_agent.llm._errors import (
    ContextLengthExceeded,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    MissingAPIKey,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)

# pydantic warns, the first time litellm builds a schema from one of its own types, about a
# `ReadOnly` TypedDict item; it says nothing about our use and would land mid-progress-display.
warnings.filterwarnings(
    "ignore",
    message="Item 'summary' on TypedDict class 'ChatCompletionReasoningItem'",
    category=UserWarning,
)

# No "Give Feedback / Get Help" banner on every error. (turn_off_message_logging stays off: it
# only redacts what litellm hands to logging callbacks, we register none, and the redaction
# deep-copies each call's logging payload: ~0.3 ms of CPU per call through acompletion.)
litellm.suppress_debug_info = True
if "LITELLM_LOG" not in os.environ:
    # Our errors already say what failed; litellm would log each failure a second time.
    for _name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logging.getLogger(_name).setLevel(logging.CRITICAL)

__all__ = [
    "DIRECT_SWITCH",
    "PINNED_VERSION",
    "AsyncOpenAI",
    "BaseLLMHTTPHandler",
    "Logging",
    "OpenAITextCompletion",
    "Router",
    "acompletion",
    "atext_completion",
    "close_connections",
    "describe_model",
    "direct_path_enabled",
    "litellm",
    "openai_http_client",
    "pinned_release_installed",
    "to_llm_error",
]

PINNED_VERSION = "1.106.2"
"""The litellm release pyproject.toml pins, whose internals `_direct` and `_skip_mcp_handler`
are known to fit (docs/litellm.md says how to check another)."""
DIRECT_SWITCH = "POLICY_AGENT_LITELLM_DIRECT"
"""Set to `off` to reach a single vLLM server through `litellm.acompletion`, as any other
provider is: slower (~4 ms more CPU per call), the same requests."""


def pinned_release_installed(version: str | None = None) -> bool:
    """Whether the installed litellm (or `version`) is the pinned one."""
    if version is None:
        from importlib.metadata import version as installed

        version = installed("litellm")
    return version == PINNED_VERSION


def direct_path_enabled() -> bool:
    """Whether one vLLM server is reached through litellm's provider handlers (`_direct`): on
    the pinned release, unless switched off in the environment."""
    switched_off = os.environ.get(DIRECT_SWITCH, "").lower() in ("off", "0", "false", "no")
    return not switched_off and pinned_release_installed()


acompletion = litellm.acompletion
atext_completion = litellm.atext_completion
AsyncOpenAI = openai.AsyncOpenAI

# Failures to connect, or a connection dropped before any answer: the server is not there.
_UNREACHABLE = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.RemoteProtocolError,
    httpx.ReadError,
    ConnectionError,
    socket.gaierror,
)


async def close_connections() -> None:
    """Close litellm's pooled HTTP sessions of the running event loop (call once, at the end)."""
    await close_litellm_async_clients()  # type: ignore[no-untyped-call]


def describe_model(model: str, *, input_price: float | None, output_price: float | None) -> None:
    """Give litellm an entry for a model its price map lacks (a self-hosted one, as a rule).

    `acompletion` prices every response and looks the model up several times per call; for a
    model it does not know, each lookup first tries every fallback pattern in the map: 1.5 to
    2 ms of CPU per call through the Router (benchmarks/client_overhead.py's method). With an
    entry the lookups hit at once; the requests stay byte-for-byte the same. A model litellm
    knows is left alone. The prices are the config's, or zero: litellm's own cost is never
    read (`Completion.cost_usd` comes from the config).
    """
    try:
        litellm.get_model_info(model)
        return
    except Exception:  # ModelNotMappedError (or a model litellm cannot even place)
        pass
    try:
        _, provider, _, _ = litellm.get_llm_provider(model=model)
    except Exception:  # the call itself will report this model with litellm's own error
        return
    entry = {
        "litellm_provider": provider,
        "mode": "chat",  # not "responses": that would reroute calls to the Responses API
        "input_cost_per_token": input_price or 0.0,
        "output_cost_per_token": output_price or 0.0,
    }
    litellm.register_model({model: entry})


def openai_http_client() -> httpx.AsyncClient | None:
    """The HTTP client litellm gives the OpenAI SDK: its aiohttp transport, SSL and proxy settings.

    ~0.3 ms less CPU per call than the SDK's own httpx transport.
    """
    return BaseOpenAILLM.get_async_http_client()


def to_llm_error(
    error: Exception,
    *,
    role: str,
    model: str,
    api_base: str | None,
    timeout: float,
    api_key_env: str | None = None,
) -> LLMError:
    """Our typed error for whatever litellm raised, found from the exception's cause chain.

    litellm reports a refused connection as InternalServerError (500) and a garbage body as
    APIError or InternalServerError, so its class alone would mislead; the chain holds the
    transport error or the HTTP response that really happened. `api_key_env` is the role's
    (named when the OpenAI client refuses to send a request without a key).
    """
    links = list(_chain(error))
    server = _failed_base(links) or api_base

    def build(kind: type[LLMError], detail: str, status: int | None = None) -> LLMError:
        return kind(
            role=role, model=model, api_base=server, timeout=timeout, detail=detail, status=status
        )

    # The OpenAI SDK's own `OpenAIError` (never a subclass: those are answers or transport
    # failures) is raised before anything is sent; litellm 1.106.2 wraps it as a 500.
    refused = next((link for link in links if type(link) is openai.OpenAIError), None)
    if refused is not None:
        return build(*_refused_before_sending(refused, api_key_env))
    if any(isinstance(link, _UNREACHABLE) for link in links):
        return build(ServerUnreachable, _first_line(links[-1]))
    if isinstance(error, Timeout) or any(
        isinstance(link, httpx.TimeoutException) for link in links
    ):
        return build(LLMTimeout, f"timed out after {timeout} s")
    if isinstance(error, RouterRateLimitError):
        return build(RateLimited, _first_line(error))
    response = next((x.response for x in links if isinstance(x, httpx.HTTPStatusError)), None)
    if isinstance(error, ContextWindowExceededError):
        detail = _first_line(error) if response is None else _server_message(response)
        return build(ContextLengthExceeded, detail, 400)
    if response is not None:
        status = response.status_code
        kind = RateLimited if status == 429 else ServerError if status >= 500 else RequestRejected
        return build(kind, _server_message(response), status)
    if isinstance(error, openai.OpenAIError) and not any(
        isinstance(link, ImportError) for link in links
    ):
        # The server answered 2xx, but litellm could not read it (bad JSON, wrong shape).
        return build(MalformedResponse, _what_was_sent(links) or _first_line(links[-1]))
    return build(LLMError, f"{type(error).__name__}: {_first_line(error)}")


def _refused_before_sending(
    refused: BaseException, api_key_env: str | None
) -> tuple[type[LLMError], str]:
    """The error (not retried: nothing was sent) for a request the OpenAI client refused."""
    said = _first_line(refused)
    if "credentials" not in said and "api_key" not in said:
        return LLMError, f"the request was never sent: the OpenAI client refused it: {said}"
    where = (
        f"`api_key_env` names {api_key_env}, which holds no key"
        if api_key_env is not None
        else "the role's model config names no `api_key_env`"
    )
    return MissingAPIKey, f"the request was never sent: it needs an API key and {where} ({said})"


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _failed_base(links: list[BaseException]) -> str | None:
    """The replica the failed request went to (the URL up to `/v1`), when the chain shows it."""
    for link in links:
        if not isinstance(link, httpx.HTTPError):
            continue
        try:
            url = str(link.request.url)
        except RuntimeError:  # httpx raises this when the error carries no request
            continue
        for endpoint in ("/chat/completions", "/completions"):
            if url.endswith(endpoint):
                return url[: -len(endpoint)]
    return None


def _server_message(response: httpx.Response) -> str:
    """The server's own error message (OpenAI error JSON), else the start of its body."""
    try:
        text = response.text
    except httpx.ResponseNotRead:
        return f"HTTP {response.status_code}"
    try:
        body = json.loads(text)
    except ValueError:
        return text[:500] or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if isinstance(message, str):
            return message
    return text[:500]


def _what_was_sent(links: list[BaseException]) -> str | None:
    """What a server that answered 2xx sent instead of a completion, quoted, when the chain
    holds it: the innermost error alone says `Expecting value: ... (char 0)`, or `0`."""
    for link in links:
        if isinstance(link, json.JSONDecodeError):
            return f"the body is not JSON ({link.msg}: character {link.pos}): {_quoted(link.doc)}"
    for link in links:
        # The completions handler (litellm 1.106.2, llms/openai/completion/handler.py:192-194)
        # takes the SDK's parse of a non-JSON body, a str, for a completion and fails on
        # `.model_dump()`; the body is in the handler's own frame, where the error was caught.
        if isinstance(link, AttributeError) and link.name == "model_dump":
            tb = link.__traceback__
            while tb is not None:
                raw = getattr(tb.tb_frame.f_locals.get("raw_response"), "http_response", None)
                if isinstance(raw, httpx.Response):
                    kind = raw.headers.get("content-type", "no content type")
                    return f"a {kind} body, not JSON: {_quoted(raw.text)}"
                tb = tb.tb_next
    return None


def _quoted(text: str) -> str:
    """The start of a body, as a Python string literal (newlines and control bytes visible)."""
    return repr(text[:200]) + (f" ... ({len(text)} characters)" if len(text) > 200 else "")


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0][:500]
