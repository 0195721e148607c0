"""`check_role`: a dead server, a wrong model name or a refused key is found before a run."""

from __future__ import annotations

import pytest

from policy_agent.llm import (
    MissingAPIKey,
    ModelConfig,
    ModelNotServed,
    NoModelList,
    RequestRejected,
    ServerUnreachable,
    check_role,
    is_other_model,
    served_name,
)

from .conftest import Serve, closed_port_url, config

ROLES = {"nvidia/Nemotron-Cascade-2-30B-A3B": {"answers": ["ok"]}, "judge": {"answers": ["ok"]}}


async def test_a_server_that_lists_the_model_passes_and_is_asked_nothing_else(
    serve: Serve,
) -> None:
    server = await serve(ROLES)
    await check_role(config(server, "nvidia/Nemotron-Cascade-2-30B-A3B"), role="agent")
    await check_role(config(server, "judge"), role="judge")
    assert server.requests == []  # GET /v1/models only: no script answer is used up


async def test_a_dead_server_names_the_role_the_url_and_the_model() -> None:
    url = closed_port_url()
    with pytest.raises(ServerUnreachable) as caught:
        await check_role(config(url, "agent"), role="agent")
    message = str(caught.value)
    assert message.startswith(
        f"agent model hosted_vllm/agent at {url}: cannot reach the server: GET {url}/models: "
    )
    assert f"Is the vLLM server running at {url}?" in message


async def test_a_wrong_model_name_lists_what_the_server_serves(serve: Serve) -> None:
    server = await serve(ROLES)
    with pytest.raises(ModelNotServed) as caught:
        await check_role(config(server, "nvidia/Nemotron"), role="agent")
    assert str(caught.value).startswith(
        f"agent model hosted_vllm/nvidia/Nemotron at {server.base_url}: the server does not "
        "serve this model: requests name 'nvidia/Nemotron', but GET "
        f"{server.base_url}/models lists nvidia/Nemotron-Cascade-2-30B-A3B, judge\nName one of"
    )


async def test_a_llama_cpp_server_of_another_model_is_found_out(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    # llama.cpp answers any model name with its own: only its model list tells.
    monkeypatch.setenv("OPENAI_API_KEY", "none")
    server = await serve({"any": {"answers": ["ok"]}}, single_model="qwen")
    model = ModelConfig(model="openai/nvidia/Nemotron-Cascade-2-30B-A3B", api_base=server.base_url)
    with pytest.raises(ModelNotServed) as caught:
        await check_role(model, role="agent")
    assert f"GET {server.base_url}/models lists qwen\n" in str(caught.value)


@pytest.mark.parametrize("key", [None, "wrong"], ids=["no-key", "wrong-key"])
async def test_a_refused_key_stops_with_the_servers_answer(
    serve: Serve, monkeypatch: pytest.MonkeyPatch, key: str | None
) -> None:
    server = await serve(ROLES, require_api_key="sekrit")
    fields = {}
    if key is not None:
        monkeypatch.setenv("POLICY_AGENT_TEST_KEY", key)
        fields["api_key_env"] = "POLICY_AGENT_TEST_KEY"
    with pytest.raises(RequestRejected) as caught:
        await check_role(config(server, "judge", **fields), role="judge")
    assert caught.value.status == 401
    assert str(caught.value).startswith(
        f"judge model hosted_vllm/judge at {server.base_url}: the server rejected the request: "
        f"GET {server.base_url}/models answered HTTP 401: Unauthorized\nCheck the API key"
    )
    monkeypatch.setenv("POLICY_AGENT_TEST_KEY", "sekrit")
    await check_role(config(server, "judge", api_key_env="POLICY_AGENT_TEST_KEY"), role="judge")


async def test_a_named_key_that_is_not_set_is_missing(serve: Serve) -> None:
    server = await serve(ROLES)
    with pytest.raises(MissingAPIKey) as caught:
        await check_role(config(server, "judge", api_key_env="POLICY_AGENT_UNSET_KEY"), role="user")
    assert "the environment variable POLICY_AGENT_UNSET_KEY (api_key_env) is not set" in str(
        caught.value
    )


async def test_an_openai_model_without_a_key_is_missing_for_chat_only(
    serve: Serve, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    server = await serve({"gpt": {"answers": ["ok"]}})
    model = ModelConfig(model="openai/gpt", api_base=server.base_url)
    with pytest.raises(MissingAPIKey) as caught:
        await check_role(model, role="user")
    assert "an `openai/` model sends no request without an API key" in str(caught.value)
    # Completions calls go with a placeholder key, so that server is reached.
    await check_role(model, role="agent", chat=False)
    # A hosted API (no api_base): only the key can be checked.
    with pytest.raises(MissingAPIKey):
        await check_role(ModelConfig(model="openai/gpt-4.1"), role="user")


async def test_a_url_without_a_model_list_says_how_to_skip_the_check(serve: Serve) -> None:
    server = await serve(ROLES)
    wrong = server.base_url.removesuffix("/v1")  # the path is /models: aiohttp's 404
    with pytest.raises(NoModelList) as caught:
        await check_role(config(wrong, "judge"), role="judge")
    assert caught.value.status == 404
    assert "run with --no-preflight" in str(caught.value)


def test_served_names_and_other_models() -> None:
    assert served_name("hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B") == (
        "nvidia/Nemotron-Cascade-2-30B-A3B"
    )
    assert served_name("gpt-4.1") == "gpt-4.1"
    assert not is_other_model("hosted_vllm/nvidia/N", "nvidia/N")
    assert not is_other_model("openai/gpt-4.1", "gpt-4.1-2025-04-14")  # a dated snapshot
    assert is_other_model("openai/nvidia/Nemotron-Cascade-2-30B-A3B", "qwen")
