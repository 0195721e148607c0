"""LLM users on a script: answered in process (`models`), or by a scripted server over real HTTP
(`serve`, litellm, no mocks) for the tests of what goes over the wire."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack, Task
from policy_agent.llm import ModelClient, close_connections
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.user import LLMUser, UserConfig, make_user
from tests._models import Models, ScriptedModels, model_config
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


UserModels = Callable[..., ScriptedModels]


@pytest.fixture
def models() -> UserModels:
    """`models(answers, **script_fields)`: in-process models whose `user` role gives them."""

    def make(answers: list[Any], **fields: Any) -> ScriptedModels:
        return ScriptedModels.of({"user": {"answers": answers}}, **fields)

    return make


MakeUser = Callable[..., LLMUser]


@pytest.fixture
async def make_llm_user() -> AsyncIterator[MakeUser]:
    """`make_llm_user(models_server_or_url, task=..., pack=..., max_retries=...,
    **model_fields)`."""
    clients: list[ModelClient] = []

    def make(
        source: Models | str,
        *,
        task: Task = TASK,
        pack: DomainPack | None = None,
        max_retries: int = 3,
        guidelines: str | None = None,
        **model: Any,
    ) -> LLMUser:
        config = UserConfig(
            model=model_config(source, "user", **model),
            max_retries=max_retries,
            guidelines=guidelines,
        )
        client = source.client(config.model, "user") if isinstance(source, ScriptedModels) else None
        user = make_user(config, task, pack or make_pack(user_tools=False), client=client)
        assert isinstance(user, LLMUser)
        clients.append(user.client)
        return user

    yield make
    for client in clients:
        await client.aclose()
