"""Scripted servers over real HTTP, the hotel pack, and configs pointed at them."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack, load_pack
from policy_agent.llm import close_connections
from policy_agent.scripted import Script, ScriptedServer
from tests.simulation._support import HOTEL

Serve = Callable[..., Awaitable[ScriptedServer]]


@pytest.fixture(scope="session")
def hotel() -> DomainPack:
    """The shipped hotel pack."""
    return load_pack(HOTEL)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start scripted servers: `await serve({"agent": {...}, "user": {...}}, **script_fields)`."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(roles: dict[str, Any], **fields: Any) -> ScriptedServer:
            script = Script.model_validate({"roles": roles, **fields})
            return await stack.enter_async_context(ScriptedServer(script))

        yield start
        # litellm pools HTTP sessions per event loop; each test has its own loop.
        await close_connections()
