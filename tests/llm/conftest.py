"""Fixtures for model-call tests: scripted servers over real HTTP, closed after each test."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from policy_agent.llm import ModelConfig, close_connections
from policy_agent.scripted import Script, ScriptedServer
from tests._models import HTTP_TIMEOUT_S, closed_port_url

__all__ = ["Serve", "closed_port_url", "config", "serve"]

Serve = Callable[..., Awaitable[ScriptedServer]]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start scripted servers: `await serve({"agent": {"answers": [...]}}, **script_fields)`."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(roles: dict[str, Any], **fields: Any) -> ScriptedServer:
            script = Script.model_validate({"roles": roles, **fields})
            return await stack.enter_async_context(ScriptedServer(script))

        yield start
        # litellm pools HTTP sessions per event loop; each test has its own loop.
        await close_connections()


def config(server: ScriptedServer | str, role: str = "agent", **fields: Any) -> ModelConfig:
    """A quick config for `role` on `server`: no backoff, the generous `HTTP_TIMEOUT_S`."""
    api_base = server if isinstance(server, str) else server.base_url
    defaults: dict[str, Any] = {"retry_backoff": 0, "timeout": HTTP_TIMEOUT_S}
    return ModelConfig(model=f"hosted_vllm/{role}", api_base=api_base, **(defaults | fields))
