"""`policy-agent chat`: typed lines in, the agent's turns shown, against the scripted server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from click.testing import CliRunner, Result

from policy_agent.agent import ViolationStrategy
from policy_agent.cli import main
from policy_agent.cli._chat import _STRATEGIES
from policy_agent.domain import load_pack
from policy_agent.format import FunctionSpec, GrammarSyntax, PromptStyle, answer_grammar
from policy_agent.scripted import Script, ScriptedServer
from tests._models import HTTP_TIMEOUT_S, closed_port_url
from tests.agent._hotel_script import AGENT_TURNS, scripted
from tests.agent._support import CRIBS_CALL, HOTEL
from tests.simulation._support import call, say


@pytest.fixture
def server_for() -> Iterator[Any]:
    """`server_for(answers)`: a scripted server in a background thread, stopped at the end."""
    running: list[ScriptedServer] = []

    def start(answers: list[Any]) -> ScriptedServer:
        server = ScriptedServer(Script.model_validate({"roles": {"agent": {"answers": answers}}}))
        server.__enter__()
        running.append(server)
        return server

    yield start
    for server in running:
        server.__exit__(None, None, None)


def chat(base_url: str, lines: list[str], *options: str) -> Result:
    arguments = ["chat", "--domain", str(HOTEL), "--agent-model", "hosted_vllm/agent"]
    arguments += [
        "--agent-api-base",
        base_url,
        "--timeout",
        str(HTTP_TIMEOUT_S),
        "--retries",
        "0",
        *options,
    ]
    return CliRunner().invoke(main, arguments, input="".join(f"{line}\n" for line in lines))


def test_the_card_scenario_shows_calls_results_and_database_changes(server_for) -> None:
    server = server_for([scripted(turn, "chat", "card") for turn in AGENT_TURNS])
    script = load_pack(HOTEL).task("card_triplet_cribs").user_scenario.script
    assert script is not None

    result = chat(server.base_url, script[:4])

    assert result.exit_code == 0, result.output
    output = result.output
    assert "hotel" in output and "chat transport, card style, thinking mode" in output
    assert "agent> Happy to help. May I have your full name?" in output
    assert "The guest must be identified first." in output
    assert '→ request_cribs {\n  "booking_id": "B11246",\n  "count": 3\n}' in output
    assert "✎ update bookings[B11246]\n    cribs: 0 -> 3" in output
    assert '✎ update bookings[B11246]\n    room_id: "R0403" -> "R0412"' in output
    # A long result is folded.
    assert "… (22 more lines)" in output
    assert "agent> You are now in room 412 with three cribs." in output
    assert len(server.requests) == len(AGENT_TURNS)


def test_retries_and_violations_are_shown_as_they_happen(server_for) -> None:
    server = server_for(
        [{"fault": {"status": 500}}, {"content": CRIBS_CALL + CRIBS_CALL}, {"content": "Hello!"}]
    )

    result = chat(server.base_url, ["Hi"], "--retries", "1", "--instruct")

    assert result.exit_code == 0, result.output
    assert "retry: ServerError on attempt 1: scripted fault: HTTP 500" in result.output
    assert (
        "violation multiple_tool_calls: 2 tool calls in one turn; make one call per turn "
        "→ resample" in result.output
    )
    assert "  <tool_call>" in result.output
    assert "agent> Hello!" in result.output
    assert server.requests[1].body["chat_template_kwargs"] == {"enable_thinking": False}


def test_a_tool_error_is_shown_and_the_conversation_goes_on(server_for) -> None:
    call = "<tool_call>\n<function=get_booking_details>\n</function>\n</tool_call>"
    server = server_for([{"content": call}, {"content": "Which booking?"}])

    result = chat(server.base_url, ["Hi"], "--instruct")

    assert result.exit_code == 0, result.output
    assert "← Error:" in result.output
    assert "agent> Which booking?" in result.output


def test_completions_transport_and_template_style_reach_the_server(server_for) -> None:
    server = server_for([{"text": "Hello!"}])

    result = chat(
        server.base_url, ["Hi"], "--transport", "completions", "--style", "template", "--instruct"
    )

    assert result.exit_code == 0, result.output
    prompt = server.requests[0].body["prompt"]
    assert "# Tools" in prompt and prompt.endswith("<|im_start|>assistant\n<think></think>")


def test_a_terminal_violation_ends_the_chat_as_agent_error(server_for) -> None:
    server = server_for([{"content": ""}])

    result = chat(server.base_url, ["Hi", "Hello?"], "--violations", "terminate")

    assert result.exit_code == 1
    assert "violation empty" in result.output
    assert "agent_error" in result.output
    assert len(server.requests) == 1


def test_quit_and_end_of_input_end_the_chat(server_for) -> None:
    server = server_for([{"content": "unused"}])

    assert chat(server.base_url, ["/quit", "Hi"]).exit_code == 0
    assert chat(server.base_url, []).exit_code == 0
    assert server.requests == []


def test_an_unreachable_server_is_a_clear_error_without_traceback() -> None:
    result = chat(closed_port_url(), ["Hi"])

    assert result.exit_code == 1
    assert "error: agent model hosted_vllm/agent" in result.output
    assert "cannot reach the server" in result.output
    assert "Is the vLLM server running" in result.output
    assert "Traceback" not in result.output


def test_a_model_the_server_does_not_serve_is_found_before_the_chat_starts(server_for) -> None:
    server = server_for([{"content": "unused"}])

    result = chat(server.base_url, ["Hi"], "--agent-model", "hosted_vllm/nvidia/Nemotron")

    assert result.exit_code == 1
    assert result.output.startswith(
        f"error: agent model hosted_vllm/nvidia/Nemotron at {server.base_url}: the server does "
        f"not serve this model: requests name 'nvidia/Nemotron', but GET {server.base_url}/models "
        "lists agent\n"
    )
    assert server.requests == []
    # Without the check the first message finds out, as a 404 of the chat call.
    unchecked = chat(
        server.base_url, ["Hi"], "--agent-model", "hosted_vllm/nvidia/Nemotron", "--no-preflight"
    )
    assert unchecked.exit_code == 0  # the failed turn ended nothing; end of input did
    assert "agent model hosted_vllm/nvidia/Nemotron" in unchecked.output
    assert len(server.requests) == 1


def test_a_missing_api_key_is_reported_before_the_chat_starts(server_for) -> None:
    server = server_for([{"content": "unused"}])

    result = chat(server.base_url, ["Hi"], "--api-key-env", "POLICY_AGENT_TEST_UNSET_KEY")

    assert result.exit_code == 1
    assert "POLICY_AGENT_TEST_UNSET_KEY" in result.output
    assert "Export that variable" in result.output


def test_a_bad_api_base_is_a_usage_error() -> None:
    result = chat("localhost:8000", ["Hi"])

    assert result.exit_code == 2
    assert "is not an http(s) URL" in result.output


def test_the_strategy_choices_are_the_agents() -> None:
    assert set(_STRATEGIES) == set(get_args(ViolationStrategy))


def test_long_reasoning_is_truncated(server_for) -> None:
    server = server_for([{"reasoning": "x" * 1000, "content": "Hello!"}])

    result = chat(server.base_url, ["Hi"])

    assert result.exit_code == 0, result.output
    assert "x" * 600 + "… (400 more)" in result.output
    assert "x" * 601 not in result.output


def test_a_task_starts_the_chat_from_its_history(server_for) -> None:
    server = server_for(
        [
            call("cancel_booking", {"booking_id": "B11319"}),
            say("Booking B11319 is cancelled; 567 will be refunded."),
        ]
    )
    result = chat(
        server.base_url, ["Yes, please go ahead.", "/quit"], "--task", "cancel_confirmed_mid_call"
    )

    assert result.exit_code == 0, result.output
    output = result.output
    assert "Task cancel_confirmed_mid_call: you play its customer." in output
    assert "You called to cancel your June 20th stay" in output
    assert "you> Hello, this is Daniel Okoro, guest ID G90974." in output
    assert "→ get_booking_details" in output
    assert "refunds the full 567. Shall I cancel it?" in output
    assert "→ cancel_booking" in output and "✎ update bookings[B11319]" in output
    # The model saw the history: its first request holds the agent's question from it.
    [first, _] = [request.body for request in server.requests]
    assert isinstance(first, dict)
    assert any("Shall I cancel it?" in str(m.get("content")) for m in first["messages"])


def test_an_unknown_task_names_the_tasks_there_are() -> None:
    result = chat("http://127.0.0.1:9/v1", [], "--task", "nope")
    assert result.exit_code == 2
    assert "Invalid value for --task: no task 'nope' in domain 'hotel'; it has: " in result.output


def test_the_customer_works_their_own_tools_with_call(server_for, tmp_path) -> None:
    from tests.domain._support import pack_data, tool, write_pack

    phone = {"op": "update", "table": "phone", "key": "'main'", "set": {"airplane_mode": "on"}}
    data = pack_data(
        user_tools=[tool("set_airplane_mode", phone, on={"type": "boolean"})],
        user_database={"phone": {"main": {"airplane_mode": True}}},
    )
    folder = write_pack(tmp_path, data)
    server = server_for([say("Please turn airplane mode off."), say("Great, you are online.")])
    lines = [
        "My phone has no signal.",
        '/call set_airplane_mode {"on": false}',
        "/call press_button",
        "/call set_airplane_mode {on",
        "Done.",
        "/quit",
    ]
    arguments = ["chat", "--domain", str(folder), "--agent-model", "hosted_vllm/agent"]
    arguments += [
        "--agent-api-base",
        server.base_url,
        "--timeout",
        str(HTTP_TIMEOUT_S),
        "--retries",
        "0",
    ]
    result = CliRunner().invoke(main, arguments, input="".join(f"{line}\n" for line in lines))

    assert result.exit_code == 0, result.output
    output = result.output
    assert "Your own tools: /call NAME {json arguments}, NAME one of set_airplane_mode." in output
    assert "✎ update phone[main]\n    airplane_mode: true -> false" in output
    assert "Error: Tool 'press_button' not found; the tools are: set_airplane_mode" in output
    assert "The arguments are not JSON" in output
    assert "agent> Great, you are online." in output
    # The agent saw the customer's words, not their own tool calls.
    second = server.requests[1].body
    assert isinstance(second, dict)
    said = [str(m.get("content")) for m in second["messages"]]
    assert "Done." in said and not any("airplane_mode" in text for text in said[1:])


def test_a_failed_turn_keeps_the_conversation_to_retry_or_save(server_for, tmp_path) -> None:
    server = server_for([{"fault": {"status": 500}}, {"content": "Hello!"}])
    saved = tmp_path / "chat.jsonl"

    result = chat(server.base_url, ["Hi", "/retry", f"/save {saved}"])

    assert result.exit_code == 0, result.output
    output = result.output
    # --retries 0: the failure is said once, as the error, with no retry that never came.
    assert "retry:" not in output
    assert "error: agent model hosted_vllm/agent" in output
    assert "The conversation is kept: /retry asks the agent again, /save FILE" in output
    assert "agent> Hello!" in output
    assert f"Saved 3 records to {saved}." in output
    records = [json.loads(line) for line in saved.read_text(encoding="utf-8").splitlines()]
    assert [(r["role"], r["content"]) for r in records] == [
        ("assistant", "Hi! How can I help you today?"),
        ("user", "Hi"),
        ("assistant", "Hello!"),
    ]
    # The model sees the greeting `run` opens a simulation with.
    messages = server.requests[1].body["messages"]
    assert [(m["role"], m["content"]) for m in messages[1:]] == [
        ("assistant", "Hi! How can I help you today?"),
        ("user", "Hi"),
    ]


def test_constrain_grammar_sends_the_packs_grammar_with_every_agent_call(server_for) -> None:
    server = server_for([{"text": "Hello!"}])

    result = chat(
        server.base_url,
        ["Hi"],
        "--transport",
        "completions",
        "--style",
        "template",
        "--instruct",
        "--constrain",
        "grammar",
    )

    assert result.exit_code == 0, result.output
    assert "grammar-constrained" in result.output
    pack = load_pack(HOTEL)
    grammar = answer_grammar(
        [FunctionSpec.from_openai(tool.openai_schema()) for tool in pack.tools],
        style=PromptStyle.TEMPLATE,
        thinking=False,
        syntax=GrammarSyntax.EBNF,
    )
    [request] = server.requests
    assert request.body["structured_outputs"] == {"grammar": grammar}
