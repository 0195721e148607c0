"""FORMAT.md §2, one test per rule, plus how the template joins system text and tools."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter, ValidationError

from policy_agent.format import FunctionSpec, render_conversation, template_tools_block
from policy_agent.records import (
    ChatAssistantMessage,
    ChatMessage,
    ChatSystemMessage,
    ChatToolCall,
    ChatToolMessage,
    ChatUserMessage,
    FunctionCallPayload,
)

MESSAGES = TypeAdapter(list[ChatMessage])
SYS = "<|im_start|>system\n<|im_end|>\n"
THINK = "<|im_start|>assistant\n<think>\n"
F = FunctionSpec(name="f", parameters={"type": "object", "properties": {"x": {"type": "string"}}})


def _call(name: str = "f", **arguments: object) -> ChatToolCall:
    return ChatToolCall(id="call_1", function=FunctionCallPayload(name=name, arguments=arguments))


def test_no_bos_and_every_turn_is_im_start_role_newline_content_im_end() -> None:
    prompt = render_conversation(
        [ChatSystemMessage(content="S"), ChatUserMessage(content="U")], add_generation_prompt=False
    )
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n"


def test_the_system_turn_is_always_emitted_even_empty() -> None:
    assert render_conversation([ChatUserMessage(content="hi")]) == (
        f"{SYS}<|im_start|>user\nhi<|im_end|>\n{THINK}"
    )


def test_generation_prompt_thinking_mode() -> None:
    assert render_conversation([ChatUserMessage(content="hi")], thinking=True).endswith(
        "<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )


def test_generation_prompt_instruct_mode_has_no_newline_after_think() -> None:
    assert render_conversation([ChatUserMessage(content="hi")], thinking=False).endswith(
        "<|im_end|>\n<|im_start|>assistant\n<think></think>"
    )


def test_thinking_mode_is_the_default() -> None:
    assert render_conversation([ChatUserMessage(content="hi")]).endswith(THINK)


def test_consecutive_tool_results_become_one_user_turn() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u"),
            ChatAssistantMessage(tool_calls=[_call(x="1"), _call(x="2")]),
            ChatToolMessage(content="R1", tool_call_id="a"),
            ChatToolMessage(content="R2", tool_call_id="b"),
        ],
        add_generation_prompt=False,
    )
    assert prompt.endswith(
        "<|im_start|>user\n<tool_response>\nR1\n</tool_response>\n"
        "<tool_response>\nR2\n</tool_response>\n<|im_end|>\n"
    )


def test_tool_results_separated_by_a_turn_get_separate_user_turns() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u"),
            ChatAssistantMessage(tool_calls=[_call(x="1")]),
            ChatToolMessage(content="R1", tool_call_id="a"),
            ChatAssistantMessage(tool_calls=[_call(x="2")]),
            ChatToolMessage(content="R2", tool_call_id="b"),
        ],
        add_generation_prompt=False,
    )
    assert prompt.count("<|im_start|>user\n<tool_response>\n") == 2


def test_an_assistant_tool_call_in_history() -> None:
    prompt = render_conversation(
        [ChatUserMessage(content="u"), ChatAssistantMessage(tool_calls=[_call(x="abc")])],
        add_generation_prompt=False,
    )
    assert prompt.endswith(
        "<|im_start|>assistant\n<think></think>\n<tool_call>\n<function=f>\n<parameter=x>\nabc\n"
        "</parameter>\n</function>\n</tool_call>\n<|im_end|>\n"
    )


def test_tool_call_values_mappings_and_lists_are_json_the_rest_python_str() -> None:
    call = _call(
        m={"k": "é", "n": [1, None]}, seq=[True, 2.0], yes=True, no=False, nothing=None, x=2.5
    )
    prompt = render_conversation(
        [ChatUserMessage(content="u"), ChatAssistantMessage(tool_calls=[call])],
        add_generation_prompt=False,
    )
    assert (
        '<parameter=m>\n{"k": "é", "n": [1, null]}\n</parameter>\n'
        "<parameter=seq>\n[true, 2.0]\n</parameter>\n"
        "<parameter=yes>\nTrue\n</parameter>\n<parameter=no>\nFalse\n</parameter>\n"
        "<parameter=nothing>\nNone\n</parameter>\n<parameter=x>\n2.5\n</parameter>\n"
    ) in prompt


def test_tool_call_arguments_may_be_a_json_string() -> None:
    message = MESSAGES.validate_python(
        [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "c",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"x": 1}'},
                    }
                ],
            }
        ]
    )[0]
    assert isinstance(message, ChatAssistantMessage) and message.tool_calls
    assert message.tool_calls[0].function.arguments == {"x": 1}


def test_tool_call_arguments_that_are_not_json_are_rejected() -> None:
    with pytest.raises(ValidationError, match="arguments is not valid JSON"):
        FunctionCallPayload.model_validate({"name": "f", "arguments": "{x"})


def test_reasoning_is_kept_after_the_last_user_message() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u"),
            ChatAssistantMessage(reasoning_content="R", tool_calls=[_call(x="1")]),
            ChatToolMessage(content="T", tool_call_id="c"),
            ChatAssistantMessage(content="done", reasoning_content="R2"),
        ],
        add_generation_prompt=False,
    )
    assert "<|im_start|>assistant\n<think>\nR\n</think>\n<tool_call>\n" in prompt
    assert "<|im_start|>assistant\n<think>\nR2\n</think>\ndone<|im_end|>\n" in prompt


def test_reasoning_before_the_last_user_message_is_dropped_keeping_the_final_text() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u1"),
            ChatAssistantMessage(reasoning_content="R", tool_calls=[_call(x="1")]),
            ChatToolMessage(content="T", tool_call_id="c"),
            ChatAssistantMessage(content="<think>R2</think>\nAnswer "),
            ChatUserMessage(content="u2"),
        ],
        add_generation_prompt=False,
    )
    assert "<think>\nR\n</think>" not in prompt
    assert "R2" not in prompt
    assert "<|im_start|>assistant\n<think></think>\n<tool_call>\n" in prompt
    assert "<|im_start|>assistant\n<think></think>\nAnswer<|im_end|>\n" in prompt


def test_only_the_text_after_the_last_closing_think_survives_in_history() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u1"),
            ChatAssistantMessage(content="<think>a</think>b</think>c"),
            ChatUserMessage(content="u2"),
        ],
        add_generation_prompt=False,
    )
    assert "<|im_start|>assistant\n<think></think>c<|im_end|>\n" in prompt


def test_tool_result_turns_do_not_count_as_user_messages() -> None:
    """Reasoning after the last *real* user message is kept, tool results notwithstanding."""
    prompt = render_conversation(
        [
            ChatUserMessage(content="u"),
            ChatAssistantMessage(reasoning_content="first", tool_calls=[_call(x="1")]),
            ChatToolMessage(content="T", tool_call_id="c"),
        ]
    )
    assert "<think>\nfirst\n</think>\n<tool_call>" in prompt


def test_reasoning_may_come_inside_content() -> None:
    split = ChatAssistantMessage(content="Answer", reasoning_content="why")
    inline = ChatAssistantMessage(content="<think>\nwhy\n</think>\nAnswer")
    renders = {
        render_conversation([ChatUserMessage(content="u"), m], add_generation_prompt=False)
        for m in (split, inline)
    }
    assert len(renders) == 1


def test_truncate_history_thinking_false_keeps_all_reasoning() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u1"),
            ChatAssistantMessage(content="a", reasoning_content="R"),
            ChatUserMessage(content="u2"),
        ],
        truncate_history_thinking=False,
    )
    assert "<|im_start|>assistant\n<think>\nR\n</think>\na<|im_end|>\n" in prompt


# The Nemotron-3-Nano template (llama.cpp's
# models/templates/NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.jinja) has no /think or /no_think
# switches: these strings are its rendering, checked with jinja2.


def test_a_no_think_in_the_system_text_is_rendered_as_written() -> None:
    prompt = render_conversation(
        [ChatSystemMessage(content="Be brief. /no_think"), ChatUserMessage(content="u")]
    )
    assert prompt == (
        "<|im_start|>system\nBe brief. /no_think<|im_end|>\n"
        "<|im_start|>user\nu<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )


def test_a_customer_typing_no_think_does_not_switch_reasoning_off() -> None:
    prompt = render_conversation([ChatUserMessage(content="quick one /no_think")], thinking=True)
    assert prompt == (
        "<|im_start|>system\n<|im_end|>\n<|im_start|>user\nquick one /no_think<|im_end|>\n"
        "<|im_start|>assistant\n<think>\n"
    )


def test_a_user_think_does_not_switch_reasoning_on_in_instruct_mode() -> None:
    messages = [
        ChatSystemMessage(content="/no_think"),
        ChatUserMessage(content="think hard /think"),
    ]
    assert render_conversation(messages, thinking=False).endswith(
        "<|im_start|>user\nthink hard /think<|im_end|>\n<|im_start|>assistant\n<think></think>"
    )


def test_a_policy_url_containing_think_is_kept_whole() -> None:
    policy = "See https://example.com/thinkpad/guide and /no_think-list."
    prompt = render_conversation([ChatSystemMessage(content=policy), ChatUserMessage(content="u")])
    assert prompt.startswith(f"<|im_start|>system\n{policy}<|im_end|>\n")


def test_switch_text_in_a_tool_result_is_rendered_as_written() -> None:
    prompt = render_conversation(
        [
            ChatUserMessage(content="u"),
            ChatAssistantMessage(tool_calls=[_call(x="1")]),
            ChatToolMessage(content="note: /no_think /think", tool_call_id="c"),
        ]
    )
    assert "<tool_response>\nnote: /no_think /think\n</tool_response>\n<|im_end|>\n" in prompt
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")


def test_system_content_and_tools_are_joined_by_a_blank_line_untrimmed() -> None:
    prompt = render_conversation(
        [ChatSystemMessage(content="Policy.\n"), ChatUserMessage(content="u")], [F]
    )
    assert prompt.startswith(
        f"<|im_start|>system\nPolicy.\n\n\n{template_tools_block([F])}<|im_end|>\n"
    )


def test_without_system_content_the_system_turn_starts_with_the_tools_block() -> None:
    prompt = render_conversation([ChatUserMessage(content="u")], [F])
    assert prompt.startswith("<|im_start|>system\n# Tools\n\n")


def test_no_functions_no_tools_block() -> None:
    assert render_conversation([ChatUserMessage(content="u")], []) == render_conversation(
        [ChatUserMessage(content="u")]
    )


def test_a_later_system_message_is_an_ordinary_turn() -> None:
    prompt = render_conversation(
        [ChatUserMessage(content="u"), ChatSystemMessage(content="note /no_think")],
        add_generation_prompt=False,
    )
    assert prompt.endswith("<|im_start|>system\nnote /no_think<|im_end|>\n")


def test_unknown_message_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="thoughts"):
        MESSAGES.validate_python([{"role": "assistant", "content": "a", "thoughts": "r"}])


def test_reasoning_is_vllms_name_for_the_assistants_reasoning() -> None:
    (vllm,) = MESSAGES.validate_python([{"role": "assistant", "content": "a", "reasoning": "r"}])
    assert vllm == ChatAssistantMessage(content="a", reasoning_content="r")
    # vLLM's own history sends both names with the same text.
    both = {"role": "assistant", "content": "a", "reasoning": "r", "reasoning_content": "r"}
    assert MESSAGES.validate_python([both]) == [vllm]


def test_two_different_reasonings_are_refused() -> None:
    with pytest.raises(ValidationError, match="reasoning or reasoning_content"):
        MESSAGES.validate_python(
            [{"role": "assistant", "reasoning": "r", "reasoning_content": "s"}]
        )
