"""A server that answers 2xx with something that is not a completion: the error says what it
sent (the body, quoted), not what litellm's parser choked on (`...: 0`, `char 37`)."""

from __future__ import annotations

from typing import Any

import pytest

from policy_agent.llm import LLMClient, MalformedResponse

from .conftest import Serve, config

MESSAGES = [{"role": "user", "content": "hi"}]
TRUNCATED = '{"id": "cmpl-1", "choices": [{"index": 0, "mess'
PAGE = "<html><body><h1>502 Bad Gateway</h1></body></html>"


async def _detail(serve: Serve, transport: str, fault: dict[str, Any]) -> str:
    server = await serve({"agent": {"answers": [{"fault": fault}]}})
    client = LLMClient(config(server, retries=0), role="agent")
    with pytest.raises(MalformedResponse) as caught:
        if transport == "chat":
            await client.chat(MESSAGES)
        else:
            await client.complete("<|im_start|>user\nhi<|im_end|>\n")
    await client.aclose()
    return caught.value.detail


@pytest.mark.parametrize("transport", ["chat", "completions"])
async def test_a_truncated_json_body_is_quoted(serve: Serve, transport: str) -> None:
    detail = await _detail(serve, transport, {"status": 200, "body": TRUNCATED})
    assert detail == (
        f"the body is not JSON (Unterminated string starting at: character 42): {TRUNCATED!r}"
    )


async def test_an_html_page_through_chat_is_quoted(serve: Serve) -> None:
    fault = {"status": 200, "body": PAGE, "content_type": "text/html"}
    detail = await _detail(serve, "chat", fault)
    assert detail == f"the body is not JSON (Expecting value: character 0): {PAGE!r}"


async def test_an_html_page_through_completions_is_quoted_with_its_type(serve: Serve) -> None:
    # The OpenAI SDK reads a text/html body as text; litellm 1.106.2 then fails on
    # `'str' object has no attribute 'model_dump'`, which says nothing of the server.
    fault = {"status": 200, "body": PAGE, "content_type": "text/html"}
    detail = await _detail(serve, "completions", fault)
    assert detail == f"a text/html; charset=utf-8 body, not JSON: {PAGE!r}"


async def test_a_long_body_is_cut_and_its_length_said(serve: Serve) -> None:
    body = "<html>" + "x" * 1000 + "</html>"
    fault = {"status": 200, "body": body, "content_type": "text/html"}
    detail = await _detail(serve, "chat", fault)
    assert detail == (
        f"the body is not JSON (Expecting value: character 0): {body[:200]!r} ... (1013 characters)"
    )
