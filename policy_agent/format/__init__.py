"""The model-facing format: system prompt, ChatML, tool-call parsing, the grammar, server profiles.

Pure functions, no I/O. FORMAT.md (the model card and the Nemotron chat template, distilled)
is the authority for every byte; nothing else in policy-agent builds prompt text. The values
these functions read and return — chat messages, the agent's turn — are persisted, so they are
defined in `policy_agent.records` (`ChatMessage`, `AgentTurn`, ...). A `ServerProfile` is what
one vLLM release line does differently (argument typing, tools handed to the template, history
fields); docs/servers.md lists them.
"""

from policy_agent.format._chatml import neutralise, render_conversation, render_tool_call
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
from policy_agent.format._models import CARD_MODEL_FAMILIES, is_card_model
from policy_agent.format._parse import parse_answer, parse_completion, parse_structured
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
from policy_agent.format._reasoning import SplitReasoning, split_reasoning
from policy_agent.format._values import ServerTypingError, coerce_value, cut_value
from policy_agent.format._vllm_reading import vllm_reading

__all__ = [
    "CARD_MINIMUM",
    "CARD_MODEL_FAMILIES",
    "HISTORY_REASONING_FIELD",
    "NEWEST",
    "PROFILES",
    "PROFILE_NAMES",
    "SUPPORTED_VLLM",
    "TOOL_CALL_INSTRUCTIONS",
    "FunctionSpec",
    "FunctionSpecError",
    "GrammarError",
    "GrammarSyntax",
    "PromptStyle",
    "ServerProfile",
    "ServerTypingError",
    "SplitReasoning",
    "TypingRules",
    "UnknownProfileError",
    "answer_grammar",
    "card_system_prompt",
    "coerce_value",
    "cut_value",
    "functions_from_openai",
    "grammar_request_fields",
    "is_card_model",
    "neutralise",
    "parse_answer",
    "parse_completion",
    "parse_structured",
    "policy_only_system_prompt",
    "profile_for_version",
    "profile_named",
    "render_conversation",
    "render_function",
    "render_functions",
    "render_tool_call",
    "serve_backend",
    "split_reasoning",
    "system_prompt",
    "template_system_prompt",
    "template_tools_block",
    "vllm_reading",
    "with_template_tools",
]
