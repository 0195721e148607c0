"""Before a run: does each role's server answer, serve the configured model, accept the key?

One `GET <api_base>/models` per server, with the key the calls would send. vLLM checks the key
on every `/v1` path (0.17.1 `vllm/entrypoints/openai/server_utils.py`, `AuthenticationMiddleware`)
and lists its served names there; llama.cpp lists its one model (but answers that path without
a key). So a dead server, a wrong model name or a refused key is found in seconds, before any
episode is burnt on it; `check_role` raises the same `LLMError` family the calls raise, naming
the role, the server, the model and the server's own answer.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import (
    LLMError,
    MissingAPIKey,
    ModelNotServed,
    NoModelList,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)

PREFLIGHT_TIMEOUT_S = 10.0
"""How long one server may take to list its models: listing is instant on a live server."""

_PROVIDER_KEYS = {"openai": "OPENAI_API_KEY", "hosted_vllm": "HOSTED_VLLM_API_KEY"}
"""Where litellm 1.106.2 finds a key the config does not name, by provider."""


def served_name(model: str) -> str:
    """The name a server knows a litellm model string by: without its provider prefix
    (`hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B` is `nvidia/Nemotron-Cascade-2-30B-A3B`)."""
    return model.split("/", 1)[1] if "/" in model else model


def is_other_model(model: str, served: str) -> bool:
    """Whether a server that answered as `served` served another model than `model` names.

    Hosted APIs answer with a dated snapshot of the model asked for (`gpt-4.1` is served as
    `gpt-4.1-2025-04-14`): that is the same model.
    """
    name = served_name(model)
    return served != name and not served.startswith(f"{name}-")


async def check_role(config: ModelConfig, *, role: str, chat: bool = True) -> None:
    """Check every server of one role; raises the `LLMError` of the first problem found.

    `chat`: whether the role makes chat calls (an `openai/` model's chat calls need a key; its
    completions calls are sent with a placeholder). A role without an api_base (litellm
    reaches the provider's own API) has no server of ours to ask: only its key is checked.
    """
    key = _key(config, role, chat=chat)
    for server in config.servers:
        await _check_server(config, role=role, api_base=server, key=key)


def _key(config: ModelConfig, role: str, *, chat: bool) -> str | None:
    """The key the calls will send; `MissingAPIKey` when the provider sends nothing without one."""
    provider = config.model.split("/", 1)[0] if "/" in config.model else "openai"
    name = config.api_key_env
    if name is not None:
        key = os.environ.get(name)
        if not key:
            raise MissingAPIKey(
                role=role,
                model=config.model,
                api_base=config.api_base,
                detail=f"the environment variable {name} (api_key_env) is not set",
            )
        return key
    fallback = _PROVIDER_KEYS.get(provider)
    key = os.environ.get(fallback) if fallback is not None else None
    if provider == "openai" and chat and not key:
        # The OpenAI client refuses to send a request without a key (it raises "Missing
        # credentials"), whatever the server behind api_base would have accepted.
        raise MissingAPIKey(
            role=role,
            model=config.model,
            api_base=config.api_base,
            detail="an `openai/` model sends no request without an API key, and the role's "
            "model config names no `api_key_env` (nor is OPENAI_API_KEY set)",
        )
    return key or None


async def _check_server(config: ModelConfig, *, role: str, api_base: str, key: str | None) -> None:
    def failure(kind: type[LLMError], detail: str, status: int | None = None) -> LLMError:
        return kind(role=role, model=config.model, api_base=api_base, detail=detail, status=status)

    import aiohttp  # imported here: the package is imported by readers that never call out

    url = f"{api_base.rstrip('/')}/models"
    headers = {"Authorization": f"Bearer {key}"} if key is not None else {}
    limit = aiohttp.ClientTimeout(total=PREFLIGHT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.get(url, headers=headers) as response,
        ):
            answer = _Answer(response.status, await response.text())
    except TimeoutError:
        raise failure(
            ServerUnreachable, f"GET {url} had no answer within {PREFLIGHT_TIMEOUT_S:g} s"
        ) from None
    except (aiohttp.ClientError, OSError) as error:
        raise failure(ServerUnreachable, f"GET {url}: {error or type(error).__name__}") from None
    said = answer.said()
    status = answer.status
    if status in (401, 403):
        raise failure(RequestRejected, f"GET {url} answered HTTP {status}: {said}", status)
    if status >= 500:
        raise failure(ServerError, f"GET {url} answered HTTP {status}: {said}", status)
    if status != 200:
        raise failure(NoModelList, f"GET {url} answered HTTP {status}: {said}", status)
    listed = answer.listed()
    if listed is None:
        raise failure(NoModelList, f"GET {url} answered, but not with a model list: {said}")
    wanted = served_name(config.model)
    if wanted not in listed:
        names = ", ".join(listed) or "nothing"
        raise failure(
            ModelNotServed,
            f"requests name {wanted!r}, but GET {url} lists {names}",
        )


@dataclass(frozen=True)
class _Answer:
    """What the server sent back: its status and body."""

    status: int
    text: str

    def listed(self) -> list[str] | None:
        """The model ids of an OpenAI model list (`{"data": [{"id": ...}, ...]}`), else None."""
        try:
            body = json.loads(self.text)
        except ValueError:
            return None
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            return None
        return [str(entry["id"]) for entry in data if isinstance(entry, dict) and "id" in entry]

    def said(self) -> str:
        """The server's own words: its error message when it sent one, else its body's start."""
        try:
            body = json.loads(self.text)
        except ValueError:
            return self.text[:300].strip() or "(an empty body)"
        if isinstance(body, dict):
            inner = body.get("error", body)
            message = inner.get("message") if isinstance(inner, dict) else inner
            if isinstance(message, str):
                return message
        return self.text[:300]


@dataclass(frozen=True, kw_only=True)
class ServerVersion:
    """What a server said when asked which vLLM release it runs."""

    url: str
    """The URL asked (`GET <server root>/version`)."""
    version: str | None
    """vLLM's `{"version": ...}`, or None when the server gave none."""
    problem: str | None = None
    """Why there is no version (unreachable, HTTP 404, not vLLM's answer); None with one."""


async def server_version(api_base: str) -> ServerVersion:
    """Ask a server its vLLM release: `GET /version` at the root its `api_base` (`.../v1`) lies
    under, where vLLM serves it (no key needed). Never raises: a failure is `problem`."""
    import aiohttp  # imported here: the package is imported by readers that never call out

    base = api_base.rstrip("/")
    root = base[: -len("/v1")] if base.endswith("/v1") else base
    url = f"{root}/version"
    limit = aiohttp.ClientTimeout(total=PREFLIGHT_TIMEOUT_S)
    try:
        async with (
            aiohttp.ClientSession(timeout=limit) as session,
            session.get(url) as response,
        ):
            answer = _Answer(response.status, await response.text())
    except TimeoutError:
        return ServerVersion(
            url=url, version=None, problem=f"no answer within {PREFLIGHT_TIMEOUT_S:g} s"
        )
    except (aiohttp.ClientError, OSError) as error:
        return ServerVersion(url=url, version=None, problem=str(error) or type(error).__name__)
    if answer.status != 200:
        return ServerVersion(url=url, version=None, problem=f"HTTP {answer.status}")
    try:
        body = json.loads(answer.text)
    except ValueError:
        body = None
    version = body.get("version") if isinstance(body, dict) else None
    if not isinstance(version, str):
        return ServerVersion(url=url, version=None, problem=f"not vLLM's answer: {answer.said()}")
    return ServerVersion(url=url, version=version)
