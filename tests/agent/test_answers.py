"""The agent's reading of answers agrees with the foundation's parser on any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from policy_agent.agent._answers import read_chat_content, read_structured, read_text
from policy_agent.format import FunctionSpec, parse_completion
from policy_agent.llm import StructuredToolCall
from policy_agent.records import Message, ToolCall, Violation, ViolationCode
from tests.agent._support import CRIBS_CALL, TOOLS

FUNCTIONS = [FunctionSpec.from_openai(tool) for tool in TOOLS]
FRAGMENTS = st.sampled_from(
    [
        "</think>",
        "<think>",
        "\n",
        " ",
        "Checking.",
        "Three cribs are fine.",
        CRIBS_CALL,
        "<tool_call>",
        "</tool_call>",
        "<function=request_cribs>",
        "</function>",
        "<parameter=count>\n3\n</parameter>",
    ]
)
TEXTS = st.lists(FRAGMENTS, max_size=8).map("".join)


@given(text=TEXTS, thinking=st.booleans())
def test_read_text_gives_the_parsers_turn(text: str, thinking: bool) -> None:
    answer = read_text(text, FUNCTIONS, thinking=thinking)

    assert answer.turn == parse_completion(text, FUNCTIONS, thinking=thinking)


@given(
    reasoning=TEXTS.filter(lambda t: "<think>" not in t and "</think>" not in t),
    content=TEXTS.filter(lambda t: not t.lstrip().startswith("<think>")),
)
def test_chat_content_with_separate_reasoning_reads_as_the_raw_completion(
    reasoning: str, content: str
) -> None:
    """vLLM's reasoning parser splits `reasoning</think>content`; reading it back agrees, a
    `</think>` in the content being answer text in both (as the grammar has it)."""
    answer = read_chat_content(content, reasoning, FUNCTIONS, finish_reason="stop")

    raw = reasoning + "</think>" + content
    assert answer.turn == parse_completion(raw, FUNCTIONS, thinking=True)


def test_chat_content_that_opens_reasoning_and_never_closes_it_is_unterminated() -> None:
    # A server without a reasoning parser, a model that never finished thinking: its thoughts
    # must not reach the customer as a message.
    answer = read_chat_content("<think>Hmm, let me", None, FUNCTIONS, finish_reason="stop")

    assert isinstance(answer.turn, Violation)
    assert answer.turn.code is ViolationCode.UNTERMINATED_REASONING
    assert answer.turn.reasoning == "Hmm, let me"


def test_chat_content_without_a_reasoning_parser_is_split_at_think() -> None:
    answer = read_chat_content("Sure.</think>\nHello!", None, FUNCTIONS, finish_reason="stop")

    assert answer.turn == Message(content="Hello!", reasoning="Sure.")


def test_structured_content_without_a_reasoning_parser_is_split_at_think() -> None:
    call = StructuredToolCall(name="request_cribs", arguments_json='{"count": 3}')

    answer = read_structured("Allowed.</think>\n", [call], None, finish_reason="tool_calls")

    assert answer.turn == ToolCall(
        name="request_cribs", arguments={"count": 3}, reasoning="Allowed."
    )


def test_an_empty_answer_cut_off_while_reasoning_is_truncated() -> None:
    cut = read_chat_content(None, "Let me", FUNCTIONS, finish_reason="length")
    finished = read_chat_content(None, "Let me", FUNCTIONS, finish_reason="stop")

    assert isinstance(cut.turn, Violation) and isinstance(finished.turn, Violation)
    assert cut.turn.code is ViolationCode.TRUNCATED
    assert cut.turn.reasoning == "Let me"
    assert cut.turn.detail == (
        "the answer was cut off at the token limit (finish_reason `length`) while still "
        "reasoning; if this recurs, raise the agent's `max_tokens`"
    )
    assert finished.turn.code is ViolationCode.EMPTY


def test_a_message_cut_off_at_max_tokens_is_truncated_not_a_message() -> None:
    # Seen against a real server: "Violations none" was all a cut-off answer held.
    cut = read_chat_content("Violations none", "Check.", FUNCTIONS, finish_reason="length")
    raw = read_text("Check.</think>\nViolations none", FUNCTIONS, thinking=True)
    raw_cut = read_text(
        "Check.</think>\nViolations none", FUNCTIONS, thinking=True, finish_reason="length"
    )

    assert cut.turn == Violation(
        code=ViolationCode.TRUNCATED,
        reasoning="Check.",
        content="Violations none",
        detail="the answer was cut off at the token limit (finish_reason `length`) in its "
        "message, which may be incomplete; if this recurs, raise the agent's `max_tokens`",
    )
    assert raw.turn == Message(content="Violations none", reasoning="Check.")
    assert raw_cut.turn == cut.turn


def test_a_tool_call_cut_off_is_truncated_not_malformed() -> None:
    unclosed = CRIBS_CALL[: CRIBS_CALL.index("</parameter>")]
    malformed = read_chat_content(unclosed, "Go.", FUNCTIONS, finish_reason="stop")
    cut = read_chat_content(unclosed, "Go.", FUNCTIONS, finish_reason="length")

    assert isinstance(malformed.turn, Violation) and isinstance(cut.turn, Violation)
    assert malformed.turn.code is ViolationCode.MALFORMED_TOOL_CALL
    assert cut.turn.code is ViolationCode.TRUNCATED
    assert "in the middle of a tool call" in cut.turn.detail
    assert cut.turn.content == malformed.turn.content  # the markup is kept, for the logs


def test_a_structured_call_cut_off_keeps_the_call_it_parsed() -> None:
    call = StructuredToolCall(name="request_cribs", arguments_json='{"count": 3}')

    cut = read_structured("Allowed.</think>\n", [call], None, finish_reason="length")

    assert cut.turn == Violation(
        code=ViolationCode.TRUNCATED,
        reasoning="Allowed.",
        calls=[ToolCall(name="request_cribs", arguments={"count": 3})],
        detail="the answer was cut off at the token limit (finish_reason `length`) after its "
        "tool call; if this recurs, raise the agent's `max_tokens`",
    )


@given(text=TEXTS, thinking=st.booleans())
def test_any_answer_cut_off_at_max_tokens_is_truncated(text: str, thinking: bool) -> None:
    raw = read_text(text, FUNCTIONS, thinking=thinking, finish_reason="length")
    chat = read_chat_content(text, None, FUNCTIONS, finish_reason="length")

    for answer in (raw, chat):
        assert isinstance(answer.turn, Violation)
        assert answer.turn.code is ViolationCode.TRUNCATED
        assert answer.turn.detail.endswith("if this recurs, raise the agent's `max_tokens`")
