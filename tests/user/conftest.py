"""A scripted server per test and LLM users pointed at it over real HTTP (litellm, no mocks)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack, Task
from policy_agent.llm import LLMClient, ModelConfig, close_connections
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.user import LLMUser, UserConfig, make_user
from tests.user._support import TASK, make_pack

Serve = Callable[..., Any]


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """`await serve(answers, **script_fields)`: a running server whose `user` role gives them."""
    async with contextlib.AsyncExitStack() as stack:

        async def start(answers: list[Any], **fields: Any) -> ScriptedServer:
            script = Script.model_validate({"roles": {"user": {"answers": answers}}, **fields})
            return await stack.enter_async_context(ScriptedServer(script))

        yield start
        # litellm pools HTTP sessions per event loop; each test has its own loop.
        await close_connections()


MakeUser = Callable[..., LLMUser]


@pytest.fixture
async def make_llm_user() -> AsyncIterator[MakeUser]:
    """`make_llm_user(server_or_url, task=..., pack=..., max_retries=..., **model_fields)`."""
    clients: list[LLMClient] = []

    def make(
        server: ScriptedServer | str,
        *,
        task: Task = TASK,
        pack: DomainPack | None = None,
        max_retries: int = 3,
        guidelines: str | None = None,
        **model: Any,
    ) -> LLMUser:
        api_base = server if isinstance(server, str) else server.base_url
        settings: dict[str, Any] = {"timeout": 5, "retries": 0, "retry_backoff": 0, **model}
        config = UserConfig(
            model=ModelConfig(model="hosted_vllm/user", api_base=api_base, **settings),
            max_retries=max_retries,
            guidelines=guidelines,
        )
        user = make_user(config, task, pack or make_pack(user_tools=False), client=None)
        assert isinstance(user, LLMUser)
        clients.append(user.client)
        return user

    yield make
    for client in clients:
        await client.aclose()
