"""Several replicas of the agent's model: prefix-cache hits and client CPU per call.

(a) Cache: `episodes` hotel episodes of `turns` agent calls each (the real system prompt and a
conversation that grows turn by turn, completions transport) against scripted servers that keep
a stand-in per-server prefix cache (`prompt_tokens_details`: vLLM's 16-token blocks; one token
per byte). The share of prompt tokens served from cache with 1 server, with 4 replicas chosen
per episode (`LLMClient`, session = the episode), and with 4 behind litellm's Router
(simple-shuffle: what several api_bases did before).

(b) CPU: this process's CPU per call (`time.process_time`, servers in other processes) for one
server, 4 replicas chosen per episode, and litellm's Router over the same 4, both transports;
the paths' blocks interleaved, the median block reported.

    python benchmarks/replicas.py [--episodes 32] [--turns 6] [--calls 600]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

from _support import HOTEL, machine_load, say, scripted_server, table

from policy_agent.agent import Agent, AgentConfig, to_openai_messages
from policy_agent.domain import load_pack
from policy_agent.llm import LLMClient, ModelConfig, close_connections
from policy_agent.records import AgentMessage, ConversationRecord, UserMessage

Call = Callable[[], Awaitable[Any]]
REPLICAS = 4
BLOCKS = 10
ANSWERS = {"agent": {"answers": [say("Anything else I can do?")], "when_exhausted": "repeat_last"}}


def conversation(episode: int, turns: int) -> list[list[ConversationRecord]]:
    """The history before each agent call of one episode: a guest of its own, each turn adding
    ~2 kB of its own (as a tool result does), so the history grows as a real one."""
    history: list[ConversationRecord] = []
    before: list[list[ConversationRecord]] = []
    for turn in range(turns):
        details = " ".join(f"G{episode:05d} booking {turn}-{line}: 2 nights." for line in range(64))
        history.append(UserMessage(content=f"Question {turn}. My bookings: {details}"))
        before.append(list(history))
        history.append(AgentMessage(content=f"Answer {turn} for guest G{episode:05d}."))
    return before


def router(bases: list[str]) -> Any:
    """litellm's Router over `bases`, as LLMClient built it before (simple-shuffle)."""
    from policy_agent.llm._litellm import litellm

    return litellm.Router(
        model_list=[
            {
                "model_name": "agent",
                "litellm_params": {
                    "model": "hosted_vllm/agent",
                    "api_base": base,
                    "max_retries": 0,
                },
            }
            for base in bases
        ],
        routing_strategy="simple-shuffle",
        num_retries=0,
        retry_after=0,
    )


async def cache_share(
    send: Callable[[str, str], Awaitable[Any]], prompts: list[tuple[str, str]]
) -> tuple[float, int]:
    """Share of prompt tokens served from cache over `prompts` (session, prompt), and the
    prompt tokens. Episodes run interleaved, as concurrent ones do."""
    cached = total = 0
    for session, prompt in prompts:
        usage = (await send(session, prompt)).usage
        details = getattr(usage, "prompt_tokens_details", None)
        hit = getattr(details, "cached_tokens", None) if details is not None else None
        hit = usage.cached_prompt_tokens if hasattr(usage, "cached_prompt_tokens") else hit
        cached += hit or 0
        total += usage.prompt_tokens
    return cached / total, total


async def cpu_per_call(call: Call, calls: int) -> float:
    """Milliseconds of this process's CPU per call."""
    start = time.process_time()
    for _ in range(calls):
        await call()
    await asyncio.sleep(0.01)  # litellm's background logging runs inside the block
    return (time.process_time() - start) * 1000 / calls


async def measure(paths: dict[str, Call], calls: int) -> dict[str, float]:
    """Median CPU per call of each path, the paths' blocks interleaved."""
    for call in paths.values():
        for _ in range(20):
            await call()
    block = max(calls // BLOCKS, 1)
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(BLOCKS):
        for name, call in paths.items():
            samples[name].append(await cpu_per_call(call, block))
    return {name: statistics.median(values) for name, values in samples.items()}


async def main(episodes: int, turns: int, calls: int) -> None:
    pack = load_pack(HOTEL)
    probe = ModelConfig(model="hosted_vllm/agent", api_base="http://127.0.0.1:9/v1")
    agent = Agent.from_pack(pack, AgentConfig(model=probe, transport="completions"))
    prompts = [
        (f"task_{episode}/0/{episode}", agent.prompt(history))
        for turn in range(turns)
        for episode in range(episodes)
        for history in [conversation(episode, turns)[turn]]
    ]
    chat_messages = to_openai_messages(Agent.from_pack(pack, AgentConfig(model=probe)).messages([]))
    with contextlib.ExitStack() as stack:
        servers = [
            stack.enter_context(scripted_server(ANSWERS, prompt_tokens_details=True))
            for _ in range(2 * REPLICAS + 1)
        ]
        # Each path gets servers of its own, so that no cache is warmed by another path.
        one, sticky, shuffled = servers[0], servers[1 : REPLICAS + 1], servers[REPLICAS + 1 :]
        single = LLMClient(
            ModelConfig(model="hosted_vllm/agent", api_base=one.base_url), role="agent"
        )
        spread = LLMClient(
            ModelConfig(model="hosted_vllm/agent", api_bases=[s.base_url for s in sticky]),
            role="agent",
        )
        routed = router([s.base_url for s in shuffled])
        stop = ["<|im_end|>"]
        share = {
            "1 server": await cache_share(
                lambda session, prompt: single.complete(prompt, session=session), prompts
            ),
            f"{REPLICAS} replicas, one per episode": await cache_share(
                lambda session, prompt: spread.complete(prompt, session=session), prompts
            ),
            f"{REPLICAS} replicas, litellm Router": await cache_share(
                lambda session, prompt: routed.atext_completion(
                    model="agent", prompt=prompt, stop=stop
                ),
                prompts,
            ),
        }
        prompt = prompts[-1][1]
        cpu = {
            "chat": await measure(
                {
                    "1 server": lambda: single.chat(chat_messages, seed=1, session="s"),
                    "replicas, one per episode": lambda: spread.chat(
                        chat_messages, seed=1, session="s"
                    ),
                    "replicas, litellm Router": lambda: routed.acompletion(
                        model="agent", messages=chat_messages, seed=1
                    ),
                },
                calls,
            ),
            "completions": await measure(
                {
                    "1 server": lambda: single.complete(prompt, seed=1, session="s"),
                    "replicas, one per episode": lambda: spread.complete(
                        prompt, seed=1, session="s"
                    ),
                    "replicas, litellm Router": lambda: routed.atext_completion(
                        model="agent", prompt=prompt, stop=stop, seed=1
                    ),
                },
                calls,
            ),
        }
        await single.aclose()
        await spread.aclose()
        await close_connections()
    print(f"Machine: {machine_load()}\n")
    print(f"(a) prompt tokens served from cache, {episodes} episodes x {turns} agent calls")
    base = share["1 server"][0]
    rows: list[list[object]] = [
        [name, total, f"{value:.1%}", f"{value / base:.1%}"]
        for name, (value, total) in share.items()
    ]
    print(table(["servers", "prompt tokens", "cached", "of 1 server"], rows))
    sticky_share = share[f"{REPLICAS} replicas, one per episode"][0]
    verdict = "met" if sticky_share >= 0.95 * base else "NOT met"
    print(f"target: {REPLICAS} replicas within 5 % of 1 server: {verdict}\n")
    print(f"(b) client CPU per call, {calls} calls per path, servers at zero latency")
    rows = []
    for transport, results in cpu.items():
        alone = results["1 server"]
        for name, value in results.items():
            rows.append([transport, name, f"{value:.3f}", f"{value - alone:+.3f}"])
    print(table(["transport", "path", "ms/call", "vs 1 server ms"], rows))
    for transport, results in cpu.items():
        extra = results["replicas, one per episode"] - results["1 server"]
        verdict = "met" if extra <= 0.3 else "NOT met"
        print(
            f"{transport}: one replica per episode {extra:+.3f} ms vs 1 server "
            f"(target <= 0.3: {verdict})"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=32)
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--calls", type=int, default=600, help="calls per path (default 600)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.episodes, arguments.turns, arguments.calls))
