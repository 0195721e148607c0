"""The completions transport: the exact rendered prompt goes out, the raw text comes back."""

from __future__ import annotations

import asyncio

from policy_agent.llm import LLMClient, close_connections
from policy_agent.scripted import Script, ScriptedServer

from .conftest import Serve, config

PROMPT = (
    "<|im_start|>system\nYou are a customer service agent.<|im_end|>\n"
    "<|im_start|>user\nI need a crib.<|im_end|>\n"
    "<|im_start|>assistant\n<think>\n"
)
RAW = "The user wants a crib.\n</think>\nWhich booking is it for?<|im_end|>\n<|im_start|>user\n"


async def test_sends_the_exact_prompt_with_stop_and_returns_the_raw_text(serve: Serve) -> None:
    server = await serve({"agent": {"answers": [{"text": RAW}]}})
    client = LLMClient(config(server, skip_special_tokens=False, max_tokens=512), role="agent")
    completion = await client.complete(PROMPT, seed=11)
    await client.aclose()
    assert completion.text == "The user wants a crib.\n</think>\nWhich booking is it for?"
    assert completion.prompt == PROMPT
    assert completion.finish_reason == "stop"
    assert completion.reasoning is None
    assert completion.raw["text"] == completion.text
    assert completion.usage.completion_tokens > 0
    [request] = server.requests
    assert request.path == "/v1/completions"
    assert request.body == {
        "model": "agent",
        "prompt": PROMPT,
        "stop": ["<|im_end|>"],
        "seed": 11,
        "temperature": 1.0,
        "top_p": 0.95,
        "max_tokens": 512,
        "skip_special_tokens": False,
    }


async def test_other_stop_strings_and_a_cut_off_completion(serve: Serve) -> None:
    answers = [{"text": RAW}, {"text": "The user wants", "finish_reason": "length"}]
    server = await serve({"agent": {"answers": answers}})
    client = LLMClient(config(server), role="agent")
    first = await client.complete(PROMPT, stop=("</think>",))
    assert first.text == "The user wants a crib.\n"
    assert server.requests[0].body["stop"] == ["</think>"]  # type: ignore[index,call-overload]
    second = await client.complete(PROMPT)
    assert (second.text, second.finish_reason) == ("The user wants", "length")
    await client.aclose()


def test_one_client_serves_successive_event_loops() -> None:
    """The pooled HTTP client belongs to one event loop; a new loop gets a new one."""
    script = Script.model_validate(
        {"roles": {"agent": {"answers": [{"text": "hi"}], "when_exhausted": "repeat_last"}}}
    )
    with ScriptedServer(script) as server:
        client = LLMClient(config(server), role="agent")

        async def once(close: bool) -> str | None:
            text = (await client.complete("P")).text
            if close:
                await client.aclose()
            await close_connections()
            return text

        # The first loop ends without aclose: the second must not reuse its dead pool.
        assert asyncio.run(once(close=False)) == "hi"
        assert asyncio.run(once(close=True)) == "hi"
    assert len(server.requests) == 2
