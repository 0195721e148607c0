"""A call's own request fields (`extra_body=`) over real HTTP: merged over the config's, on
both transports, through the direct path and litellm's Router, and gone on the next call."""

from __future__ import annotations

from typing import Any

import pytest

from policy_agent.llm import LLMClient, ModelConfig
from policy_agent.scripted import Script, ScriptedModelClient

from .conftest import Serve, config

MESSAGES: list[dict[str, Any]] = [{"role": "user", "content": "I need a crib."}]
GRAMMAR = {"structured_outputs": {"grammar": 'root ::= "ok"'}}


@pytest.mark.parametrize("replicas", [1, 2])
@pytest.mark.parametrize("transport", ["chat", "completions"])
async def test_a_calls_extra_body_is_merged_over_the_configs_for_that_call_only(
    serve: Serve, replicas: int, transport: str
) -> None:
    answer = {"content": "ok"} if transport == "chat" else {"text": "ok"}
    roles = {"agent": {"answers": [answer], "when_exhausted": "repeat_last"}}
    servers = [await serve(roles) for _ in range(replicas)]
    bases = [server.base_url for server in servers]
    model = config(bases[0], extra_body={"priority": 3, "min_tokens": 1})
    if replicas > 1:
        model = ModelConfig.model_validate(
            model.model_dump() | {"api_base": None, "api_bases": bases}
        )
    client = LLMClient(model, role="agent")
    assert client.path == "direct"  # one client per replica, each on the direct path
    per_call = {**GRAMMAR, "min_tokens": 2}

    async def ask(extra: dict[str, Any] | None) -> None:
        if transport == "chat":
            await client.chat(MESSAGES, extra_body=extra)
        else:
            await client.complete("<|im_start|>user\nHi<|im_end|>\n", extra_body=extra)

    try:
        await ask(per_call)
        await ask(None)
    finally:
        await client.aclose()
    # Calls without a session take the replicas in turn: tell the two apart by their fields.
    bodies = [r.body for server in servers for r in server.requests]
    assert len(bodies) == 2 and all(isinstance(b, dict) for b in bodies)
    [constrained] = [b for b in bodies if isinstance(b, dict) and "structured_outputs" in b]
    [free] = [b for b in bodies if b is not constrained]
    assert isinstance(constrained, dict) and isinstance(free, dict)
    assert constrained["structured_outputs"] == GRAMMAR["structured_outputs"]
    assert (constrained["min_tokens"], constrained["priority"]) == (2, 3)
    assert "structured_outputs" not in free and (free["min_tokens"], free["priority"]) == (1, 3)
    # The in-process double sends the same body (tests/scripted/test_client.py pins the rest).
    double = ScriptedModelClient(Script.model_validate({"roles": roles}), client.config)
    if transport == "chat":
        await double.chat(MESSAGES, extra_body=per_call)
    else:
        await double.complete("<|im_start|>user\nHi<|im_end|>\n", extra_body=per_call)
    [recorded] = double.requests
    assert recorded.body == constrained
