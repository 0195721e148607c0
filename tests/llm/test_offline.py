"""litellm must not reach anything but the configured server: no price-map fetch, no telemetry."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from tests._waiting import DEADLINE_S

PROGRAM = textwrap.dedent(
    """
    import asyncio, json, socket

    contacted = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self, address):
        contacted.append(str(address[0]))
        return real_connect(self, address)

    def getaddrinfo(host, *args, **kwargs):
        contacted.append(str(host))
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect = connect
    socket.getaddrinfo = getaddrinfo

    from policy_agent.llm import LLMClient, ModelConfig, close_connections
    from policy_agent.scripted import Script, ScriptedServer

    answers = [{"content": "ok", "text": "ok", "tool_calls": [{"name": "f"}]}]
    role = {"answers": answers, "when_exhausted": "cycle"}
    script = Script.model_validate({"roles": {"agent": role}})
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    messages = [{"role": "user", "content": "hi"}]

    async def main():
        async with ScriptedServer(script) as first, ScriptedServer(script) as second:
            model = "hosted_vllm/agent"
            one = ModelConfig(model=model, api_base=first.base_url)
            two = ModelConfig(model=model, api_bases=[first.base_url, second.base_url])
            for config in (one, two):
                client = LLMClient(config, role="agent")
                await client.chat(messages)
                await client.chat(messages, tools=tools)
                await client.complete("hi")
                await client.aclose()
            await close_connections()

    asyncio.run(main())
    print(json.dumps(sorted(set(contacted))))
    """
)


@pytest.mark.slow  # a fresh interpreter imports litellm and makes six calls: about 4 s
def test_only_the_configured_server_is_contacted() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        env=environment,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    contacted = json.loads(done.stdout.strip().splitlines()[-1])
    assert contacted == ["127.0.0.1"]
