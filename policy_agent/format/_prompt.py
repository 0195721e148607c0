"""The agent's system prompt, in the layouts the model was trained on.

Two styles exist because there are two ways to offer tools to the model:

- `card`: the "Agentic Usage" layout of the model card. The `<function>` blocks are part of the
  system text and no `tools=` goes to the server (completions mode, or chat without tools).
- `template`: the policy text is the system content and the chat template appends its own
  `# Tools` block, with the tool-call instructions, because the request carries `tools=`.
  `template_system_prompt` reproduces what the server then shows the model.

Never combine the two: the functions would appear twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import assert_never

from policy_agent.format._functions import FunctionSpec, render_functions
from policy_agent.format._profiles import CARD_MINIMUM, ServerProfile

_AGENT_PREAMBLE = (
    # The two spaces after "helps the user." are in the card; the model was trained on them.
    "You are a customer service agent that helps the user.  The policy that determines how you "
    "should respond to requests from users is described below between the <policy> and "
    "</policy> tags.\n"
    "\n"
    "In each turn you can either:\n"
    "- Send a message to the user.\n"
    "- Make a tool call.\n"
    "You cannot do both at the same time.\n"
    "\n"
    "<policy>\n"
)
_AGENT_CLOSING = "\n</policy>\n\nTry to be helpful and always follow the policy."
_TOOLS_HEADER = "# Tools\n\nYou have access to the following functions:\n\n<tools>\n"

TOOL_CALL_INSTRUCTIONS = (
    "\n\nIf you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n"
    "</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second parameter\n"
    "that can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\n"
    "Reminder:\n- Function calls MUST follow the specified format: an inner "
    "<function=...></function> block must be nested within <tool_call></tool_call> XML tags\n"
    "- Required parameters MUST be specified\n- You may provide optional reasoning for your "
    "function call in natural language BEFORE the function call, but NOT after\n- If there is "
    "no function call available, answer the question like normal with your current knowledge "
    "and do not tell the user about function calls\n</IMPORTANT>"
)
"""What the chat template appends after `</tools>` when a request carries `tools=`."""


class PromptStyle(StrEnum):
    """Where the function list of the system prompt comes from (see the module docstring)."""

    CARD = "card"
    TEMPLATE = "template"


def policy_only_system_prompt(policy: str) -> str:
    """The agent system prompt up to (not including) `# Tools`: the system content to send
    when the server renders the tools itself (template style).

    The policy is trimmed, so the final newline of a YAML block scalar does not leave a blank
    line before `</policy>`.
    """
    return _AGENT_PREAMBLE + policy.strip() + _AGENT_CLOSING


def card_system_prompt(policy: str, functions: Iterable[FunctionSpec]) -> str:
    """The card's "Agentic Usage" system prompt, functions included, byte for byte."""
    return (
        policy_only_system_prompt(policy)
        + "\n\n"
        + _TOOLS_HEADER
        + render_functions(functions)
        + "</tools>\n"
    )


def template_tools_block(
    functions: Iterable[FunctionSpec], *, served_by: ServerProfile | None = CARD_MINIMUM
) -> str:
    """The `# Tools` block the chat template renders from `tools=`, instructions included.

    `served_by` is the vLLM line that hands the tools to the template (`render_function`).
    """
    functions_text = render_functions(functions, served_by=served_by)
    return _TOOLS_HEADER + functions_text + "</tools>" + TOOL_CALL_INSTRUCTIONS


def with_template_tools(
    system: str,
    functions: Sequence[FunctionSpec],
    *,
    served_by: ServerProfile | None = CARD_MINIMUM,
) -> str:
    """System content as the chat template extends it when `tools=` is non-empty.

    The content is not trimmed; a blank line separates it from `# Tools` only when it is
    non-empty (an empty system message gives a system turn that starts with `# Tools`).
    """
    if not functions:
        return system
    block = template_tools_block(functions, served_by=served_by)
    return system + ("\n\n" if system else "") + block


def template_system_prompt(
    policy: str, functions: Sequence[FunctionSpec], *, served_by: ServerProfile = CARD_MINIMUM
) -> str:
    """The system text the model sees in template style: policy prompt plus the template's tools."""
    return with_template_tools(policy_only_system_prompt(policy), functions, served_by=served_by)


def system_prompt(
    policy: str,
    functions: Sequence[FunctionSpec],
    style: PromptStyle,
    *,
    served_by: ServerProfile = CARD_MINIMUM,
) -> str:
    """The full system text the model sees for `style` (`served_by` matters to template style)."""
    match style:
        case PromptStyle.CARD:
            return card_system_prompt(policy, functions)
        case PromptStyle.TEMPLATE:
            return template_system_prompt(policy, functions, served_by=served_by)
        case _:
            assert_never(style)
