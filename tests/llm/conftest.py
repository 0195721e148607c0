"""Fixtures for model-call tests: scripted servers over real HTTP, closed after each test."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from policy_agent.llm import ModelConfig, close_connections
from policy_agent.scripted import Script, ScriptedServer

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
    """A quick config for `role` on `server`: no backoff, short timeout."""
    api_base = server if isinstance(server, str) else server.base_url
    defaults: dict[str, Any] = {"retry_backoff": 0, "timeout": 5}
    return ModelConfig(model=f"hosted_vllm/{role}", api_base=api_base, **(defaults | fields))


def closed_port_url() -> str:
    """The base URL of a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
