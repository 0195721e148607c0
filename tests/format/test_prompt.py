"""The two system-prompt styles and how they relate to what the server renders."""

from __future__ import annotations

from policy_agent.format import (
    PROFILES,
    TOOL_CALL_INSTRUCTIONS,
    FunctionSpec,
    PromptStyle,
    card_system_prompt,
    policy_only_system_prompt,
    profile_named,
    render_conversation,
    render_functions,
    system_prompt,
    template_system_prompt,
)
from policy_agent.records import ChatSystemMessage, ChatUserMessage

FUNCTIONS = [
    FunctionSpec(name="a", description="A."),
    FunctionSpec(
        name="b", parameters={"properties": {"x": {"type": "integer"}}, "required": ["x"]}
    ),
]
POLICY_ONLY = (
    "You are a customer service agent that helps the user.  The policy that determines how you "
    "should respond to requests from users is described below between the <policy> and "
    "</policy> tags.\n\nIn each turn you can either:\n- Send a message to the user.\n"
    "- Make a tool call.\nYou cannot do both at the same time.\n\n<policy>\n# Policy\nBe kind.\n"
    "</policy>\n\nTry to be helpful and always follow the policy."
)


def test_policy_only_prompt_is_the_card_text_before_the_tools() -> None:
    assert policy_only_system_prompt("# Policy\nBe kind.") == POLICY_ONLY


def test_the_policy_is_trimmed() -> None:
    assert policy_only_system_prompt("\n# Policy\nBe kind.\n\n") == POLICY_ONLY


def test_card_prompt_appends_tools_to_the_policy_prompt() -> None:
    assert card_system_prompt("# Policy\nBe kind.", FUNCTIONS) == (
        POLICY_ONLY
        + "\n\n# Tools\n\nYou have access to the following functions:\n\n<tools>\n"
        + render_functions(FUNCTIONS)
        + "</tools>\n"
    )


def test_template_prompt_is_what_the_server_renders_from_tools() -> None:
    prompt = template_system_prompt("# Policy\nBe kind.", FUNCTIONS)
    served = render_conversation(
        [
            ChatSystemMessage(content=policy_only_system_prompt("# Policy\nBe kind.")),
            ChatUserMessage(content="u"),
        ],
        FUNCTIONS,
    )
    assert served.startswith(f"<|im_start|>system\n{prompt}<|im_end|>\n")
    assert prompt.endswith("</tools>" + TOOL_CALL_INSTRUCTIONS)


def test_the_two_styles_list_the_same_described_functions() -> None:
    described = [FUNCTIONS[0], FunctionSpec(name="b", description="B.", parameters={})]
    card = card_system_prompt("P", described)
    template = template_system_prompt("P", described)
    assert card.removesuffix("</tools>\n") == template.removesuffix(
        TOOL_CALL_INSTRUCTIONS
    ).removesuffix("</tools>")


def test_vllm_renders_a_missing_description_as_none() -> None:
    # Every release hands the template ChatCompletionToolsParam.model_dump(): `description`
    # is None there, and the template's `None | trim` is "None" (vllm/entrypoints/openai/
    # engine/protocol.py FunctionDefinition, 0.17.1 through 0.33.0).
    ping = FunctionSpec(name="ping")
    assert card_system_prompt("P", [ping]).endswith(
        "<tools>\n<function>\n<name>ping</name>\n<parameters>\n</parameters>\n</function>\n"
        "</tools>\n"
    )
    for profile in PROFILES:
        assert template_system_prompt("P", [ping], served_by=profile).endswith(
            "<tools>\n<function>\n<name>ping</name>\n<description>None</description>\n"
            "<parameters>\n</parameters>\n</function>\n</tools>" + TOOL_CALL_INSTRUCTIONS
        )


def test_vllm_0_27_and_later_drop_unknown_function_keys() -> None:
    # From 0.27 FunctionDefinition's serializer keeps its declared fields only.
    spec = FunctionSpec(name="f", description="d", extras={"x-owner": "ops", "strict": True})
    old = template_system_prompt("P", [spec], served_by=profile_named("vllm-0.26"))
    new = template_system_prompt("P", [spec], served_by=profile_named("vllm-0.27"))
    assert "</parameters>\n<x-owner>ops</x-owner>\n<strict>True</strict>\n</function>" in old
    assert "</parameters>\n<strict>True</strict>\n</function>" in new


def test_template_prompt_without_functions_is_the_policy_prompt() -> None:
    assert template_system_prompt("P", []) == policy_only_system_prompt("P")


def test_system_prompt_dispatches_on_style() -> None:
    assert system_prompt("P", FUNCTIONS, PromptStyle.CARD) == card_system_prompt("P", FUNCTIONS)
    assert system_prompt("P", FUNCTIONS, PromptStyle("template")) == template_system_prompt(
        "P", FUNCTIONS
    )
