"""`--format sft`: one line per episode, the conversation as OpenAI-format messages.

The messages are the agent's view, as its model saw it: the system prompt of the run's style,
user text and tool results neutralised (`policy_agent.format.neutralise`), the user simulator's
own tool calls left out. Reasoning is kept in full on every assistant message as
`reasoning_content`, the field the Nemotron chat template (and many SFT stacks) read; the
template drops it from turns before the last user message when it renders, as it did for the
model. Tool-call arguments are JSON strings, as OpenAI sends them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.agent import Agent
from policy_agent.conversation import to_openai_messages
from policy_agent.format import PromptStyle
from policy_agent.trajectory._episode import Episode


class SFTRecord(BaseModel):
    """One line of the SFT export."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    messages: list[dict[str, Any]] = Field(
        description="system, user, assistant (with tool_calls, reasoning_content) and tool."
    )
    tools: list[dict[str, Any]] = Field(description="The agent's tools as OpenAI schemas.")
    tools_in_system_prompt: bool = Field(
        description="Card style: the system message already lists the functions, so render it "
        "WITHOUT passing `tools` to the chat template (they would appear twice). Template style "
        "(false): pass `tools` to the chat template, which appends the functions itself."
    )
    task_id: str
    trial: int
    reward: float | None = Field(description="Null when the episode has no reward.")


def sft_record(episode: Episode, agent: Agent) -> SFTRecord:
    """The SFT line of one episode, in the format of `agent` (see `prompt_agent`)."""
    return SFTRecord(
        messages=to_openai_messages(agent.messages(episode.messages)),
        tools=agent.openai_tools,
        tools_in_system_prompt=agent.config.style is PromptStyle.CARD,
        task_id=episode.task_id,
        trial=episode.trial,
        reward=None if episode.reward is None else episode.reward.reward,
    )
