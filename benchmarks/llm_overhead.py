"""CPU that LLMClient adds to each call beyond a bare litellm call with the same request.

Runs the scripted server in another process (so its CPU is not counted), then alternates blocks
of bare `litellm.acompletion` / `atext_completion` calls and `LLMClient.chat` / `complete` calls
and reports the median CPU per call of each. A second, exact measure times only our own code on
a real litellm response: building the request kwargs and converting the response.

    LITELLM_LOCAL_MODEL_COST_MAP=True python benchmarks/llm_overhead.py [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from policy_agent.llm import LLMClient, ModelConfig, close_connections

SCRIPT = """
roles:
  agent:
    when_exhausted: repeat_last
    answers:
      - content: Which booking is it for?
        reasoning: The user wants a crib; I need the booking id first.
        text: "The user wants a crib.</think>\\nWhich booking is it for?"
"""
MESSAGES = [
    {"role": "system", "content": "You are a customer service agent."},
    {"role": "user", "content": "I need a crib."},
]
PROMPT = "<|im_start|>user\nI need a crib.<|im_end|>\n<|im_start|>assistant\n<think>\n"


async def cpu_per_call(call: Callable[[], Awaitable[Any]], calls: int) -> float:
    """Milliseconds of this process's CPU per call."""
    start = time.process_time()
    for _ in range(calls):
        await call()
    return (time.process_time() - start) * 1000 / calls


async def compare(
    name: str, bare: Callable[[], Awaitable[Any]], ours: Callable[[], Awaitable[Any]], calls: int
) -> None:
    for _ in range(50):  # warm up both paths (imports, pools, caches)
        await bare()
        await ours()
    block = max(calls // 10, 1)
    bare_ms, ours_ms = [], []
    for _ in range(10):
        bare_ms.append(await cpu_per_call(bare, block))
        ours_ms.append(await cpu_per_call(ours, block))
    b, o = statistics.median(bare_ms), statistics.median(ours_ms)
    print(f"{name}: bare litellm {b:.3f} ms CPU/call, LLMClient {o:.3f} ms, added {o - b:+.3f} ms")


def own_code_ms(client: LLMClient, response: Any, repeats: int = 20000) -> float:
    """Only our code on the chat path: kwargs merge plus response conversion, per call."""
    start = time.perf_counter()
    for _ in range(repeats):
        kwargs = {**client._chat_kwargs, "messages": MESSAGES, "seed": 1}
        client._chat_completion(response, 1.0, ())
    assert kwargs
    return (time.perf_counter() - start) * 1000 / repeats


async def main(calls: int) -> None:
    import litellm  # the bare baseline; policy_agent.llm has already configured it

    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "script.yaml"
        script.write_text(SCRIPT)
        server = subprocess.Popen(
            [sys.executable, "-m", "policy_agent", "serve-script", str(script), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            base_url = server.stdout.readline().rsplit(" ", 1)[1].strip()
            config = ModelConfig(model="hosted_vllm/agent", api_base=base_url)
            client = LLMClient(config, role="agent")
            same: dict[str, Any] = {
                "model": config.model,
                "api_base": base_url,
                "temperature": config.temperature,
                "top_p": config.top_p,
                "timeout": config.timeout,
                "num_retries": 0,
                "max_retries": 0,
            }
            text_client = client._pooled_text_client()

            async def bare_chat() -> Any:
                return await litellm.acompletion(
                    messages=MESSAGES,
                    seed=1,
                    extra_body=config.request_extras(chat=True),
                    _skip_mcp_handler=True,
                    **same,
                )

            async def bare_text() -> Any:
                return await litellm.atext_completion(
                    prompt=PROMPT, stop=["<|im_end|>"], seed=1, client=text_client, **same
                )

            await compare("chat", bare_chat, lambda: client.chat(MESSAGES, seed=1), calls)
            await compare("completions", bare_text, lambda: client.complete(PROMPT, seed=1), calls)
            response = await bare_chat()
            print(f"our own code on the chat path: {own_code_ms(client, response):.4f} ms/call")
            await client.aclose()
            await close_connections()
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per path (default 2000)")
    asyncio.run(main(parser.parse_args().calls))
