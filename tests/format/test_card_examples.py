"""The model card's own examples (nvidia/Nemotron-Cascade-2-30B-A3B), reproduced byte for byte.

The strings below are copied from the card's Python code blocks (the `# prompt_... = '...'`
comments are the card's rendered outputs).
"""

from __future__ import annotations

from policy_agent.format import (
    FunctionSpec,
    card_system_prompt,
    render_conversation,
    render_function,
    template_tools_block,
)
from policy_agent.records import ChatAssistantMessage, ChatSystemMessage, ChatUserMessage

# --- Chat Template: single-turn and multi-turn ------------------------------------------------

CARD_SYSTEM = "You are a helpful and harmless assistant.\n\nYou are not allowed to use any tools"
CARD_ASSISTANT = (
    "<think>THINKING_CONTENT</think>\nTo calculate \\(1 + 1\\):\n\n1. **Identify the operation**:"
    " This is a basic addition problem involving two integers.\n2. **Perform the addition**:  \n"
    "   \\(1 + 1 = 2\\).\n\n**Result**: \\(\\boxed{2}\\)"
)

SINGLE_TURN = [ChatSystemMessage(content=CARD_SYSTEM), ChatUserMessage(content="calculate 1+1?")]
MULTI_TURN = [
    ChatSystemMessage(content=CARD_SYSTEM),
    ChatUserMessage(content="calculate 1+1?"),
    ChatAssistantMessage(content=CARD_ASSISTANT),
    ChatUserMessage(content="what about 2+2"),
]

CARD_SINGLE_THINKING = "<|im_start|>system\nYou are a helpful and harmless assistant.\n\nYou are not allowed to use any tools<|im_end|>\n<|im_start|>user\ncalculate 1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n"  # noqa: E501
CARD_SINGLE_INSTRUCT = "<|im_start|>system\nYou are a helpful and harmless assistant.\n\nYou are not allowed to use any tools<|im_end|>\n<|im_start|>user\ncalculate 1+1?<|im_end|>\n<|im_start|>assistant\n<think></think>"  # noqa: E501
CARD_MULTI_THINKING = "<|im_start|>system\nYou are a helpful and harmless assistant.\n\nYou are not allowed to use any tools<|im_end|>\n<|im_start|>user\ncalculate 1+1?<|im_end|>\n<|im_start|>assistant\n<think></think>\nTo calculate \\(1 + 1\\):\n\n1. **Identify the operation**: This is a basic addition problem involving two integers.\n2. **Perform the addition**:  \n   \\(1 + 1 = 2\\).\n\n**Result**: \\(\\boxed{2}\\)<|im_end|>\n<|im_start|>user\nwhat about 2+2<|im_end|>\n<|im_start|>assistant\n<think>\n"  # noqa: E501
CARD_MULTI_INSTRUCT = "<|im_start|>system\nYou are a helpful and harmless assistant.\n\nYou are not allowed to use any tools<|im_end|>\n<|im_start|>user\ncalculate 1+1?<|im_end|>\n<|im_start|>assistant\n<think></think>\nTo calculate \\(1 + 1\\):\n\n1. **Identify the operation**: This is a basic addition problem involving two integers.\n2. **Perform the addition**:  \n   \\(1 + 1 = 2\\).\n\n**Result**: \\(\\boxed{2}\\)<|im_end|>\n<|im_start|>user\nwhat about 2+2<|im_end|>\n<|im_start|>assistant\n<think></think>"  # noqa: E501


def test_single_turn_thinking() -> None:
    assert render_conversation(SINGLE_TURN, thinking=True) == CARD_SINGLE_THINKING


def test_single_turn_instruct() -> None:
    assert render_conversation(SINGLE_TURN, thinking=False) == CARD_SINGLE_INSTRUCT


def test_multi_turn_thinking() -> None:
    assert render_conversation(MULTI_TURN, thinking=True) == CARD_MULTI_THINKING


def test_multi_turn_instruct() -> None:
    assert render_conversation(MULTI_TURN, thinking=False) == CARD_MULTI_INSTRUCT


# --- Python Tool Use ---------------------------------------------------------------------------

PYTHON_TOOL_SYSTEM_PROMPT = """# Tools

You have access to the following functions:

<tools>
<function>
<name>stateful_python_code_exec</name>
<description>Call this function to execute Python code in a stateful Jupyter notebook environment. Python will respond with the output of the execution or time out after 120.0 seconds.</description>
<parameters>
<parameter>
<name>code</name>
<type>string</type>
<description>Code to execute</description>
</parameter>
<required>["code"]</required>
</parameters>
</function>
</tools>

If you choose to call a function ONLY reply in the following format with NO suffix:

<tool_call>
<function=example_function_name>
<parameter=example_parameter_1>
value_1
</parameter>
<parameter=example_parameter_2>
This is the value for the second parameter
that can span
multiple lines
</parameter>
</function>
</tool_call>

<IMPORTANT>
Reminder:
- Function calls MUST follow the specified format: an inner <function=...></function> block must be nested within <tool_call></tool_call> XML tags
- Required parameters MUST be specified
- You may provide optional reasoning for your function call in natural language BEFORE the function call, but NOT after
- If there is no function call available, answer the question like normal with your current knowledge and do not tell the user about function calls
</IMPORTANT>"""  # noqa: E501

PYTHON_TOOL = FunctionSpec.from_openai(
    {
        "type": "function",
        "function": {
            "name": "stateful_python_code_exec",
            "description": (
                "Call this function to execute Python code in a stateful Jupyter notebook "
                "environment. Python will respond with the output of the execution or time out "
                "after 120.0 seconds."
            ),
            "parameters": {
                "type": "object",
                "properties": {"code": {"type": "string", "description": "Code to execute"}},
                "required": ["code"],
            },
        },
    }
)
MATH_QUESTION = (
    "Solve the following math problem. Put your answer inside \\boxed{}.\n\nIn a school with "
    "2008 students, each student is a member of certain committees. Each committee has at most "
    "1004 members, and every two students are in at least one common committee. Determine the "
    "smallest possible number of committees in the school."
)


def test_python_tool_system_prompt_is_the_template_tools_block() -> None:
    assert template_tools_block([PYTHON_TOOL]) == PYTHON_TOOL_SYSTEM_PROMPT


def test_python_tool_prompt_equals_passing_the_tool_to_the_template() -> None:
    """The card writes the tools block as system content; passing `tools=` gives the same bytes."""
    as_system = render_conversation(
        [
            ChatSystemMessage(content=PYTHON_TOOL_SYSTEM_PROMPT),
            ChatUserMessage(content=MATH_QUESTION),
        ]
    )
    as_tools = render_conversation([ChatUserMessage(content=MATH_QUESTION)], [PYTHON_TOOL])
    assert as_system == as_tools
    assert as_tools == (
        f"<|im_start|>system\n{PYTHON_TOOL_SYSTEM_PROMPT}<|im_end|>\n"
        f"<|im_start|>user\n{MATH_QUESTION}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )


# --- Agentic Usage -----------------------------------------------------------------------------

AGENTIC_SYSTEM_PROMPT = """You are a customer service agent that helps the user.  The policy that determines how you should respond to requests from users is described below between the <policy> and </policy> tags.

In each turn you can either:
- Send a message to the user.
- Make a tool call.
You cannot do both at the same time.

<policy>
_NEED_TO_ADD_POLICY_HERE_
</policy>

Try to be helpful and always follow the policy.

# Tools

You have access to the following functions:

<tools>
<function>
<name>_NEED_TO_ADD_FUNCTION_NAME_1_</name>
<description>_FUNCTION_DESCRIPTION_</description>
<parameters>
<parameter>
<name>_NEED_TO_ADD_PARAMETER_NAME_1_</name>
<type>_PARAMETER_TYPE_</type>
<description>_PARAMETER_DESCRIPTION_</description>
<title>_PARAMETER_TITLE_</title>
</parameter>
<parameter>
<name>_NEED_TO_ADD_PARAMETER_NAME_2_</name>
<type>_PARAMETER_TYPE_</type>
<description>_PARAMETER_DESCRIPTION_</description>
<title>_PARAMETER_TITLE_</title>
</parameter>
...... (_MORE_PARAMETERS_TO_ADD_)
<parameters>
</function>
...... (_MORE_FUNCTIONS_TO_ADD_)
</tools>
"""  # noqa: E501
HOTEL_USER = (
    "Hello, I'm calling regarding my upcoming stay at your hotel. My guest ID is G90920 and "
    "booking ID is B11246 for a Deluxe room on June 5th. I'm traveling with three 6-month-old "
    "triplets and need to request three infant cribs for our room. It's currently 30 hours "
    "before check-in—could you please confirm if this is feasible and if there are quiet room "
    "options available for families with infants?"
)


PLACEHOLDER_FUNCTION = FunctionSpec(
    name="_NEED_TO_ADD_FUNCTION_NAME_1_",
    description="_FUNCTION_DESCRIPTION_",
    parameters={
        "type": "object",
        "properties": {
            "_NEED_TO_ADD_PARAMETER_NAME_1_": {
                "type": "_PARAMETER_TYPE_",
                "description": "_PARAMETER_DESCRIPTION_",
                "title": "_PARAMETER_TITLE_",
            },
            "_NEED_TO_ADD_PARAMETER_NAME_2_": {
                "type": "_PARAMETER_TYPE_",
                "description": "_PARAMETER_DESCRIPTION_",
                "title": "_PARAMETER_TITLE_",
            },
        },
    },
)


def _card_layout_with_placeholders_filled() -> str:
    """The card's prompt with its two elisions removed and its `<parameters>` typo fixed."""
    text = AGENTIC_SYSTEM_PROMPT.replace("...... (_MORE_PARAMETERS_TO_ADD_)\n", "")
    text = text.replace("...... (_MORE_FUNCTIONS_TO_ADD_)\n", "")
    return text.replace(
        "</parameter>\n<parameters>\n</function>", "</parameter>\n</parameters>\n</function>"
    )


def test_agentic_system_prompt_matches_the_card_layout() -> None:
    prompt = card_system_prompt("_NEED_TO_ADD_POLICY_HERE_", [PLACEHOLDER_FUNCTION])
    assert prompt == _card_layout_with_placeholders_filled()


def test_agentic_prompt_keeps_the_cards_two_spaces() -> None:
    prompt = card_system_prompt("P", [])
    assert prompt.startswith("You are a customer service agent that helps the user.  The policy")


def test_agentic_function_block_is_the_template_rendering() -> None:
    """The card's `<function>` block, as the template renders a pydantic-style schema."""
    block = render_function(PLACEHOLDER_FUNCTION)
    start = AGENTIC_SYSTEM_PROMPT.index("<function>")
    end = AGENTIC_SYSTEM_PROMPT.index("...... (_MORE_PARAMETERS_TO_ADD_)")
    assert block.startswith(AGENTIC_SYSTEM_PROMPT[start:end])
    assert block.endswith("</parameter>\n</parameters>\n</function>\n")


def test_agentic_hotel_conversation() -> None:
    system = card_system_prompt("_NEED_TO_ADD_POLICY_HERE_", [PLACEHOLDER_FUNCTION])
    prompt = render_conversation(
        [ChatSystemMessage(content=system), ChatUserMessage(content=HOTEL_USER)]
    )
    assert prompt == (
        f"<|im_start|>system\n{_card_layout_with_placeholders_filled()}<|im_end|>\n"
        f"<|im_start|>user\n{HOTEL_USER}<|im_end|>\n<|im_start|>assistant\n<think>\n"
    )
