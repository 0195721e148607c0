"""The model-facing format: system prompt, ChatML rendering, tool-call parsing.

Pure functions, no I/O. FORMAT.md (the model card and the Nemotron chat template, distilled)
is the authority for every byte; nothing else in policy-agent builds prompt text.
"""

from policy_agent.format._chatml import (
    AssistantMessage,
    AssistantToolCall,
    ChatMessage,
    FunctionCallPayload,
    SystemMessage,
    ToolMessage,
    UserMessage,
    neutralise,
    render_conversation,
    render_tool_call,
)
from policy_agent.format._functions import (
    FunctionSpec,
    FunctionSpecError,
    functions_from_openai,
    render_function,
    render_functions,
)
from policy_agent.format._parse import parse_completion, parse_structured
from policy_agent.format._profiles import (
    CARD_MINIMUM,
    HISTORY_REASONING_FIELD,
    NEWEST,
    PROFILE_NAMES,
    PROFILES,
    ServerProfile,
    TypingRules,
    UnknownProfileError,
    profile_for_version,
    profile_named,
)
from policy_agent.format._prompt import (
    TOOL_CALL_INSTRUCTIONS,
    PromptStyle,
    card_system_prompt,
    policy_only_system_prompt,
    system_prompt,
    template_system_prompt,
    template_tools_block,
    with_template_tools,
)
from policy_agent.format._turns import AgentTurn, Message, ToolCall, Violation, ViolationCode
from policy_agent.format._values import ServerTypingError, coerce_value, cut_value

__all__ = [
    "CARD_MINIMUM",
    "HISTORY_REASONING_FIELD",
    "NEWEST",
    "PROFILES",
    "PROFILE_NAMES",
    "TOOL_CALL_INSTRUCTIONS",
    "AgentTurn",
    "AssistantMessage",
    "AssistantToolCall",
    "ChatMessage",
    "FunctionCallPayload",
    "FunctionSpec",
    "FunctionSpecError",
    "Message",
    "PromptStyle",
    "ServerProfile",
    "ServerTypingError",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "TypingRules",
    "UnknownProfileError",
    "UserMessage",
    "Violation",
    "ViolationCode",
    "card_system_prompt",
    "coerce_value",
    "cut_value",
    "functions_from_openai",
    "neutralise",
    "parse_completion",
    "parse_structured",
    "policy_only_system_prompt",
    "profile_for_version",
    "profile_named",
    "render_conversation",
    "render_function",
    "render_functions",
    "render_tool_call",
    "system_prompt",
    "template_system_prompt",
    "template_tools_block",
    "with_template_tools",
]
