"""The model-facing format: system prompt, ChatML rendering, tool-call parsing, the grammar.

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
    effective_thinking,
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
from policy_agent.format._grammar import answer_grammar
from policy_agent.format._grammar_request import (
    SUPPORTED_VLLM,
    grammar_request_fields,
    serve_backend,
)
from policy_agent.format._grammar_syntax import GrammarError, GrammarSyntax
from policy_agent.format._parse import parse_completion, parse_structured
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
from policy_agent.format._values import coerce_value

__all__ = [
    "SUPPORTED_VLLM",
    "TOOL_CALL_INSTRUCTIONS",
    "AgentTurn",
    "AssistantMessage",
    "AssistantToolCall",
    "ChatMessage",
    "FunctionCallPayload",
    "FunctionSpec",
    "FunctionSpecError",
    "GrammarError",
    "GrammarSyntax",
    "Message",
    "PromptStyle",
    "SystemMessage",
    "ToolCall",
    "ToolMessage",
    "UserMessage",
    "Violation",
    "ViolationCode",
    "answer_grammar",
    "card_system_prompt",
    "coerce_value",
    "effective_thinking",
    "functions_from_openai",
    "grammar_request_fields",
    "neutralise",
    "parse_completion",
    "parse_structured",
    "policy_only_system_prompt",
    "render_conversation",
    "render_function",
    "render_functions",
    "render_tool_call",
    "serve_backend",
    "system_prompt",
    "template_system_prompt",
    "template_tools_block",
    "with_template_tools",
]
