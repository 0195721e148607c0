"""CPU per model call: a bare litellm call, `LLMClient`, and a whole agent turn, both transports.

The scripted server answers at once from another process, so all CPU read here is the client's.
Each path sends the same request: the hotel agent's system prompt and a real hotel conversation
(the oracle's `card_triplet_cribs` episode up to the guest's last line). Blocks of calls of the
paths alternate, and the median block is reported, so drift hits every path alike.

    python benchmarks/client_overhead.py [--calls 1000]

"bare litellm" is `litellm.acompletion` / `litellm.atext_completion` with the request's fields;
`LLMClient` for a single vLLM server calls litellm's provider handler without acompletion's
per-call bookkeeping; `Agent.act` adds rendering the conversation and parsing the answer.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _support import HOTEL, machine_load, say, scripted_server, table

from policy_agent.agent import Agent, AgentConfig, to_openai_messages
from policy_agent.domain import DomainPack, load_pack
from policy_agent.llm import LLMClient, ModelConfig, close_connections
from policy_agent.records import ConversationRecord, UserMessage
from policy_agent.simulation import OracleAgentConfig, Simulation, SimulationConfig
from policy_agent.user import UserConfig

Call = Callable[[], Awaitable[Any]]
BLOCKS = 10


async def hotel_history(pack: DomainPack) -> list[ConversationRecord]:
    """The oracle's card_triplet_cribs conversation, up to and with the guest's last line."""
    config = SimulationConfig(
        domain=HOTEL,
        agent=OracleAgentConfig(kind="oracle"),
        user=UserConfig(kind="scripted"),
        tasks=["card_triplet_cribs"],
    )
    simulation = Simulation(config, pack)
    episode = await simulation.play(simulation.episodes[0])
    last_user = max(i for i, r in enumerate(episode.messages) if isinstance(r, UserMessage))
    return list(episode.messages[: last_user + 1])


async def cpu_per_call(call: Call, calls: int) -> float:
    """Milliseconds of this process's CPU per call (all threads: litellm uses a thread pool)."""
    start = time.process_time()
    for _ in range(calls):
        await call()
    # Let work litellm scheduled in the background (its success logging) run inside the block.
    await asyncio.sleep(0.01)
    return (time.process_time() - start) * 1000 / calls


async def measure(paths: dict[str, Call], calls: int) -> dict[str, float]:
    """Median CPU per call of each path, the paths' blocks interleaved."""
    for call in paths.values():
        for _ in range(30):  # imports, connection pools, caches
            await call()
    block = max(calls // BLOCKS, 1)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(BLOCKS):
        for name, call in paths.items():
            samples[name].append(await cpu_per_call(call, block))
    return {name: statistics.median(values) for name, values in samples.items()}


async def main(calls: int) -> None:
    import openai

    # The bare baseline: litellm as policy_agent.llm configures it (offline price map, quiet).
    from policy_agent.llm._litellm import litellm

    pack = load_pack(HOTEL)
    history = await hotel_history(pack)
    answers = {"answers": [say("Anything else I can do?")], "when_exhausted": "repeat_last"}
    with scripted_server({"agent": answers}) as server:
        base_url = server.base_url
        model = ModelConfig(model="hosted_vllm/agent", api_base=base_url)
        client = LLMClient(model, role="agent")
        chat_agent = Agent.from_pack(pack, AgentConfig(model=model, transport="chat"), client)
        text_agent = Agent.from_pack(
            pack, AgentConfig(model=model, transport="completions"), client
        )
        messages = to_openai_messages(chat_agent.messages(history))
        prompt = text_agent.prompt(history)
        sdk = openai.AsyncOpenAI(base_url=base_url, api_key="EMPTY", max_retries=0)
        same: dict[str, Any] = {
            "model": model.model,
            "api_base": base_url,
            "temperature": model.temperature,
            "top_p": model.top_p,
            "timeout": model.timeout,
            "seed": 1,
        }
        chat_extras = model.request_extras(chat=True)
        text_extras = model.request_extras(chat=False)
        chat = await measure(
            {
                "bare litellm": lambda: litellm.acompletion(
                    messages=messages, extra_body=chat_extras, **same
                ),
                "LLMClient": lambda: client.chat(messages, seed=1),
                "Agent.act": lambda: chat_agent.act(history, seed=1),
            },
            calls,
        )
        completions = await measure(
            {
                # Given a client: without one litellm opens a new HTTP session per call.
                "bare litellm": lambda: litellm.atext_completion(
                    prompt=prompt, stop=["<|im_end|>"], client=sdk, extra_body=text_extras, **same
                ),
                "LLMClient": lambda: client.complete(prompt, seed=1),
                "Agent.act": lambda: text_agent.act(history, seed=1),
            },
            calls,
        )
        await client.aclose()
        await sdk.close()
        await close_connections()
    rows: list[list[object]] = []
    for transport, results in (("chat", chat), ("completions", completions)):
        bare = results["bare litellm"]
        for name, value in results.items():
            rows.append(
                [transport, name, f"{value:.3f}", f"{value - bare:+.3f}", f"{value / bare:.2f}"]
            )
    print(f"CPU per model call, {calls} calls per path, scripted server at zero latency")
    print(f"Machine: {machine_load()}\n")
    print(table(["transport", "path", "ms/call", "vs bare ms", "vs bare x"], rows))
    print()
    for transport, results in (("chat", chat), ("completions", completions)):
        own = results["Agent.act"] - results["LLMClient"]
        beyond = results["Agent.act"] - results["bare litellm"]
        verdict = "met" if beyond <= 0.3 else "NOT met"
        print(
            f"{transport}: the agent's own work per call (Agent.act - LLMClient) {own:.3f} ms; "
            f"a whole agent turn beyond a bare litellm call {beyond:+.3f} ms "
            f"(target <= 0.3 ms: {verdict})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per path (default 1000)")
    asyncio.run(main(parser.parse_args().calls))
