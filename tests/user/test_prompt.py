"""What the user model reads: guidelines, the rendered scenario, the flipped conversation."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import assume, given
from hypothesis import strategies as st

from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)
from policy_agent.user import (
    STOP_TOKENS,
    default_guidelines,
    render_scenario,
    stop_signal,
    system_prompt,
    user_view,
    visible_text,
)
from tests.user._support import PLAIN_TASK, TASK

AT = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)


def test_structured_scenario_renders_persona_then_each_instruction() -> None:
    assert render_scenario(TASK.user_scenario) == (
        "Persona:\nAna Lee, a tired parent who types in short sentences.\n\n"
        "Instructions:\n"
        "Domain:\nhotel\n\n"
        "Reason for call:\nYou need three cribs for booking B11246.\n\n"
        "Known info:\nYour booking id is B11246.\n\n"
        "Unknown info:\nYou do not know the check-in time.\n\n"
        "Task instructions:\nAccept two cribs if three are not possible."
    )


def test_missing_parts_are_left_out() -> None:
    assert render_scenario(PLAIN_TASK.user_scenario) == "Instructions:\nAsk for a late checkout."
    sparse = TASK.user_scenario.model_copy(
        update={
            "persona": None,
            "instructions": TASK.user_scenario.instructions.model_copy(  # type: ignore[union-attr]
                update={"domain": None, "known_info": None, "unknown_info": None}
            ),
        }
    )
    assert render_scenario(sparse) == (
        "Instructions:\n"
        "Reason for call:\nYou need three cribs for booking B11246.\n\n"
        "Task instructions:\nAccept two cribs if three are not possible."
    )


def test_system_prompt_is_the_guidelines_then_the_scenario_in_tags() -> None:
    assert system_prompt("Play the customer.\n", PLAIN_TASK.user_scenario) == (
        "Play the customer.\n\n<scenario>\nInstructions:\nAsk for a late checkout.\n</scenario>"
    )


def test_the_guidelines_explain_every_stop_token_and_the_tools_part_is_added() -> None:
    plain, tools = default_guidelines(tools=False), default_guidelines(tools=True)
    for token in STOP_TOKENS:
        assert plain.count(f"`{token}`") == 1, token
    assert tools.startswith(plain + "\n\n## Your own tools\n")
    assert "tool" not in plain.lower()
    assert 250 <= len(plain.split()) <= 400


def test_roles_are_flipped_and_the_agents_tool_calls_never_shown() -> None:
    history: list[ConversationRecord] = [
        AgentMessage(content="Hi! How can I help you today?", timestamp=AT),
        UserMessage(content="My phone has no signal.", timestamp=AT),
        AgentToolCall(
            call_id="call_1",
            name="check_line",
            arguments={"line_id": "L1"},
            content="Let me look.",
            timestamp=AT,
        ),
        ToolResult(call_id="call_1", name="check_line", content='{"status": "active"}'),
        AgentMessage(content="Your line is active. Is airplane mode on?", timestamp=AT),
        UserToolCall(call_id="user_call_1", name="check_phone", arguments={}, timestamp=AT),
        ToolResult(
            call_id="user_call_1",
            name="check_phone",
            content='{"airplane_mode": true}',
            requestor="user",
        ),
        UserMessage(content="Yes, it is on. ###STOP###", timestamp=AT),
    ]
    assert user_view(history) == [
        {"role": "user", "content": "Hi! How can I help you today?"},
        {"role": "assistant", "content": "My phone has no signal."},
        {"role": "user", "content": "Your line is active. Is airplane mode on?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "user_call_1",
                    "type": "function",
                    "function": {"name": "check_phone", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "content": '{"airplane_mode": true}', "tool_call_id": "user_call_1"},
        {"role": "assistant", "content": "Yes, it is on. ###STOP###"},
    ]


def test_each_stop_token_is_found_anywhere_in_the_message() -> None:
    assert stop_signal("Great, thanks! ###STOP###") == "stop"
    assert stop_signal("###TRANSFER### ok") == "transfer"
    assert stop_signal("I don't have that.\n###OUT-OF-SCOPE###\n") == "out_of_scope"
    assert stop_signal("Stop, please. ##STOP## #STOP ###stop###") is None
    assert stop_signal("###TRANSFER### and then ###STOP###") == "transfer"


@given(st.text(), st.sampled_from(sorted(STOP_TOKENS)), st.text())
def test_a_token_between_any_texts_is_found(before: str, token: str, after: str) -> None:
    # A token that ends before this one is complete legitimately wins; leave those out.
    assume(not any(other in before + token[:-1] for other in STOP_TOKENS))
    assert stop_signal(before + token + after) == STOP_TOKENS[token]


@given(st.text().filter(lambda t: "###" not in t))
def test_text_without_a_token_never_stops(text: str) -> None:
    assert stop_signal(text) is None


def test_reasoning_is_removed_from_what_the_user_says() -> None:
    assert visible_text("  Hello.  ") == "Hello."
    assert visible_text("<think>They want an id.</think>\n\nIt is B11246.") == "It is B11246."
    assert visible_text("They want an id.\n</think>\n\nIt is B11246.") == "It is B11246."
    # The reasoning ends at the first </think>, as vLLM's reasoning parsers and the agent's
    # reading have it; what follows is what the user said.
    assert visible_text("<think>a</think>One <think>b</think>two") == "One <think>b</think>two"
    assert visible_text("<think>still thinking") is None
    assert visible_text("<think>only thoughts</think>") == ""
