"""What the user model reads: guidelines, the scenario, and the conversation with roles flipped.

The user model is a generic chat model (gpt-4.1, or any vLLM model with a tool parser), so the
conversation goes as OpenAI chat messages: the agent's messages are its `user` turns, its own
earlier messages are `assistant` turns, and its own tool calls and their results are OpenAI
`tool_calls` and `tool` messages. The agent's tool calls and results never reach it.

The guidelines are the run config's, else the pack's, else ours (`guidelines.md`); the layout
is the pack's `user_simulator.format`: ours (below) or tau2-bench's (`_tau2`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, assert_never

from policy_agent.domain import (
    DomainPack,
    StructuredInstructions,
    Task,
    UserPromptFormat,
    UserScenario,
)
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)
from policy_agent.user._tau2 import tau2_system_prompt, tau2_user_view


@dataclass(frozen=True, kw_only=True)
class UserPrompt:
    """What one task's user model reads: the system prompt, and the conversation's layout."""

    system: str
    """The system message: guidelines, then the scenario in `<scenario>` tags."""
    format: UserPromptFormat

    def messages(self, history: Sequence[ConversationRecord]) -> list[dict[str, Any]]:
        """The messages of the next request: the system prompt, then the conversation."""
        match self.format:
            case UserPromptFormat.POLICY_AGENT:
                view = user_view(history)
            case UserPromptFormat.TAU2:
                view = tau2_user_view(history)
            case unreachable:
                assert_never(unreachable)
        return [{"role": "system", "content": self.system}, *view]


def user_prompt(task: Task, pack: DomainPack, *, guidelines: str | None = None) -> UserPrompt:
    """The prompt of `task`'s user model, in the pack's layout (`guidelines`: the run config's)."""
    text = user_guidelines(pack, guidelines)
    layout = pack.user_simulator.format
    match layout:
        case UserPromptFormat.POLICY_AGENT:
            system = system_prompt(text, task.user_scenario)
        case UserPromptFormat.TAU2:
            system = tau2_system_prompt(text, task.user_scenario)
        case unreachable:
            assert_never(unreachable)
    return UserPrompt(system=system, format=layout)


def user_guidelines(pack: DomainPack, override: str | None = None) -> str:
    """The guidelines the user model reads: `override` (a run config's), else the pack's, else
    ours (with the part on user tools when the pack has them)."""
    return (
        override
        or pack.user_simulator.guidelines
        or default_guidelines(tools=bool(pack.user_tools))
    )


@cache
def default_guidelines(*, tools: bool) -> str:
    """The built-in simulation guidelines; with `tools`, the part on the user's own tools too."""
    package = resources.files("policy_agent.user")
    text = package.joinpath("guidelines.md").read_text(encoding="utf-8").strip()
    if tools:
        extra = package.joinpath("guidelines_tools.md").read_text(encoding="utf-8").strip()
        text = f"{text}\n\n{extra}"
    return text


def render_scenario(scenario: UserScenario) -> str:
    """The scenario as the user model reads it: the persona, then the instructions."""
    parts = []
    if scenario.persona:
        parts.append(f"Persona:\n{scenario.persona.strip()}")
    instructions = scenario.instructions
    if isinstance(instructions, StructuredInstructions):
        fields = [
            ("Domain", instructions.domain),
            ("Reason for call", instructions.reason_for_call),
            ("Known info", instructions.known_info),
            ("Unknown info", instructions.unknown_info),
            ("Task instructions", instructions.task_instructions),
        ]
        body = "\n\n".join(f"{label}:\n{value.strip()}" for label, value in fields if value)
    else:
        body = instructions.strip()
    parts.append(f"Instructions:\n{body}")
    return "\n\n".join(parts)


def system_prompt(guidelines: str, scenario: UserScenario) -> str:
    """The user model's system message: the guidelines, then the scenario in `<scenario>` tags."""
    return f"{guidelines.strip()}\n\n<scenario>\n{render_scenario(scenario)}\n</scenario>"


def user_view(history: Sequence[ConversationRecord]) -> list[dict[str, Any]]:
    """The conversation as the user model sees it (without the system prompt), roles flipped."""
    messages: list[dict[str, Any]] = []
    for record in history:
        match record:
            case AgentMessage():
                messages.append({"role": "user", "content": record.content})
            case UserMessage():
                messages.append({"role": "assistant", "content": record.content})
            case UserToolCall():
                call = {
                    "id": record.call_id,
                    "type": "function",
                    "function": {
                        "name": record.name,
                        "arguments": json.dumps(record.arguments, ensure_ascii=False),
                    },
                }
                messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            case ToolResult():
                if record.requestor == "user":
                    messages.append(
                        {"role": "tool", "content": record.content, "tool_call_id": record.call_id}
                    )
            case AgentToolCall():
                pass  # what the agent does behind the scenes is not the customer's to see
            case _:
                assert_never(record)
    return messages
