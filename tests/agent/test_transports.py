"""Each transport and style: the request the server receives and the turn the agent returns."""

from __future__ import annotations

import hashlib

import pytest

from policy_agent.format import (
    FunctionSpec,
    card_system_prompt,
    policy_only_system_prompt,
    template_system_prompt,
)
from policy_agent.llm._litellm import DIRECT_SWITCH
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Message,
    ToolCall,
    ToolResult,
    UserMessage,
)
from tests.agent._support import CRIBS_CALL, POLICY, TOOLS, request_bodies

FUNCTIONS = [FunctionSpec.from_openai(tool) for tool in TOOLS]
CARD_SYSTEM = card_system_prompt(POLICY, FUNCTIONS)
HELLO = UserMessage(content="Hi, I need three cribs for B11246.")
CRIBS = ToolCall(name="request_cribs", arguments={"booking_id": "B11246", "count": 3})


async def test_chat_card_sends_the_card_prompt_without_tools_and_parses_the_content(
    serve, make_agent
) -> None:
    server = await serve([{"content": CRIBS_CALL, "reasoning": "They have the booking id."}])
    agent = make_agent(server)

    step = await agent.act([HELLO], seed=11)

    assert step.turn == CRIBS.model_copy(update={"reasoning": "They have the booking id."})
    assert isinstance(step.record, AgentToolCall)
    assert step.record.arguments == {"booking_id": "B11246", "count": 3}
    assert step.record.reasoning == "They have the booking id."
    assert step.record.content is None
    assert step.record.generation is not None
    assert step.record.generation.raw_completion == CRIBS_CALL
    assert step.record.generation.raw_reasoning == "They have the booking id."
    assert step.record.generation.prompt_sha256 is None
    [body] = request_bodies(server)
    assert "tools" not in body
    assert body["messages"] == [
        {"role": "system", "content": CARD_SYSTEM},
        {"role": "user", "content": HELLO.content},
    ]
    assert body["seed"] == 11
    assert body["chat_template_kwargs"] == {"enable_thinking": True}


async def test_chat_card_without_a_reasoning_parser_splits_the_content_at_think(
    serve, make_agent
) -> None:
    raw = "Check the notice first.</think>\nLet me look.\n" + CRIBS_CALL
    server = await serve([{"content": raw}])
    agent = make_agent(server)

    step = await agent.act([HELLO])

    assert step.turn == CRIBS.model_copy(
        update={"reasoning": "Check the notice first.", "prelude": "Let me look."}
    )
    assert isinstance(step.record, AgentToolCall)
    # The template keeps text before a call as the message content, apart from the reasoning.
    assert (step.record.reasoning, step.record.content) == (
        "Check the notice first.",
        "Let me look.",
    )
    assert "seed" not in request_bodies(server)[0]


async def test_chat_card_message_keeps_the_servers_reasoning(serve, make_agent) -> None:
    server = await serve([{"content": "  Three cribs are fine.\n", "reasoning": " Allowed. "}])
    agent = make_agent(server)

    step = await agent.act([HELLO])

    assert step.turn == Message(content="Three cribs are fine.", reasoning="Allowed.")
    assert step.record == AgentMessage(
        content="Three cribs are fine.",
        reasoning="Allowed.",
        timestamp=step.record.timestamp,
        generation=step.record.generation,
    )
    assert step.usage.completion_tokens > 0 and step.latency_ms > 0


async def test_instruct_mode_is_sent_as_enable_thinking_false(serve, make_agent) -> None:
    server = await serve([{"content": "Hello!"}])
    agent = make_agent(server, thinking=False)

    step = await agent.act([HELLO])

    assert step.turn == Message(content="Hello!")
    assert request_bodies(server)[0]["chat_template_kwargs"] == {"enable_thinking": False}


async def test_chat_template_sends_tools_and_reads_the_servers_calls(serve, make_agent) -> None:
    server = await serve(
        [
            {
                "content": "",
                "reasoning": "Allowed.",
                "tool_calls": [
                    {"name": "request_cribs", "arguments": {"booking_id": "B11246", "count": 3}}
                ],
            }
        ]
    )
    agent = make_agent(server, style="template")

    step = await agent.act([HELLO], seed=5)

    assert step.turn == CRIBS.model_copy(update={"reasoning": "Allowed."})
    assert isinstance(step.record, AgentToolCall)
    assert step.record.call_id == "call_1"
    generation = step.record.generation
    assert generation is not None
    assert [c.arguments_json for c in generation.raw_tool_calls] == [
        '{"booking_id": "B11246", "count": 3}'
    ]
    [body] = request_bodies(server)
    assert body["tools"] == TOOLS
    # The server's template renders the tools: the system text is the policy alone.
    assert body["messages"][0] == {"role": "system", "content": policy_only_system_prompt(POLICY)}
    assert body["seed"] == 5


async def test_completions_card_sends_the_exact_chatml_and_parses_the_raw_text(
    serve, make_agent
) -> None:
    raw = "Three is the Deluxe maximum.</think>\n" + CRIBS_CALL
    server = await serve([{"text": raw}])
    agent = make_agent(server, transport="completions")

    step = await agent.act([HELLO], seed=3)

    prompt = (
        f"<|im_start|>system\n{CARD_SYSTEM}<|im_end|>\n"
        "<|im_start|>user\nHi, I need three cribs for B11246.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )
    [body] = request_bodies(server)
    assert body["prompt"] == prompt
    assert body["stop"] == ["<|im_end|>"]
    assert body["seed"] == 3
    assert "chat_template_kwargs" not in body
    assert step.turn == CRIBS.model_copy(update={"reasoning": "Three is the Deluxe maximum."})
    assert isinstance(step.record, AgentToolCall)
    generation = step.record.generation
    assert generation is not None
    assert generation.raw_completion == raw
    assert generation.prompt_sha256 == hashlib.sha256(prompt.encode()).hexdigest()
    assert agent.prompt([HELLO]) == prompt


async def test_completions_template_renders_the_templates_tools_block(serve, make_agent) -> None:
    server = await serve([{"text": "</think>\nHello!"}])
    agent = make_agent(server, transport="completions", style="template")

    step = await agent.act([HELLO])

    assert request_bodies(server)[0]["prompt"] == (
        f"<|im_start|>system\n{template_system_prompt(POLICY, FUNCTIONS)}<|im_end|>\n"
        "<|im_start|>user\nHi, I need three cribs for B11246.<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )
    assert step.turn == Message(content="Hello!")


async def test_completions_instruct_mode_opens_an_empty_think_and_parses_without_it(
    serve, make_agent
) -> None:
    server = await serve([{"text": "Hello!"}])
    agent = make_agent(server, transport="completions", thinking=False)

    step = await agent.act([HELLO])

    assert request_bodies(server)[0]["prompt"].endswith(
        "<|im_end|>\n<|im_start|>assistant\n<think></think>"
    )
    assert step.turn == Message(content="Hello!")


@pytest.mark.parametrize("path", ["direct", "acompletion"])
async def test_chat_history_carries_reasoning_calls_and_results_as_openai_messages(
    serve, make_agent, monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # Past reasoning arrives as `reasoning`, the one field vLLM 0.17-0.21 read, on both of
    # LLMClient's paths (litellm 1.106.2 passes the field through unchanged).
    if path == "acompletion":
        monkeypatch.setenv(DIRECT_SWITCH, "off")
    server = await serve([{"content": "Done."}])
    agent = make_agent(server)
    call = AgentToolCall(
        call_id="call_1",
        name="request_cribs",
        arguments={"booking_id": "B11246", "count": 3},
        reasoning="Allowed.",
    )
    result = ToolResult(call_id="call_1", name="request_cribs", content='{"cribs": 3}')

    await agent.act([HELLO, call, result])

    assert agent.client.path == path  # type: ignore[attr-defined]
    assert request_bodies(server)[0]["messages"][1:] == [
        {"role": "user", "content": HELLO.content},
        {
            "role": "assistant",
            "content": "",
            "reasoning": "Allowed.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {
                        "name": "request_cribs",
                        "arguments": '{"booking_id": "B11246", "count": 3}',
                    },
                }
            ],
        },
        {"role": "tool", "content": '{"cribs": 3}', "tool_call_id": "call_1"},
    ]


async def test_call_ids_count_the_calls_of_the_conversation(serve, make_agent) -> None:
    server = await serve([{"content": CRIBS_CALL}])
    agent = make_agent(server, thinking=False)
    earlier = AgentToolCall(call_id="call_1", name="request_cribs", arguments={})
    result = ToolResult(call_id="call_1", name="request_cribs", content="ok")

    step = await agent.act([HELLO, earlier, result])

    assert isinstance(step.record, AgentToolCall)
    assert step.record.call_id == "call_2"
