"""The oracle: an agent that needs no model, and the brief user `check` pairs it with.

The oracle performs a task's expected actions, one per turn, then tells the user the outcome.
It shows a newcomer a whole run without a GPU, and it is the pack author's test: a task the
oracle cannot solve with reward 1 is a broken task (`policy-agent check`).
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_agent.agent import AgentStep
from policy_agent.conversation import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    TokenUsage,
    ToolResult,
    UserMessage,
)
from policy_agent.domain import Action, StructuredInstructions, Task
from policy_agent.format import Message, ToolCall
from policy_agent.user import UserStep

OPENING = "How can I help you today?"
"""What the oracle says if it is asked before the user has said anything."""
POLITE_REPLY = "You're welcome. Is there anything else I can help you with?"
"""What the oracle says once the task is done, to whatever the user says."""
_SHOWN_RESULT_LENGTH = 200
"""The last tool result is quoted up to this many characters in the outcome message."""


class OracleAgent:
    """Plays the agent of one task perfectly, by the book: its expected actions, then the outcome.

    Same shape as `Agent.act`, and like `Agent` it keeps no state between turns: what it has
    done is read from the history. After the user's first message it makes the task's
    `assistant` actions in order, one per turn; then one message telling the outcome (every
    `communicate_info` string and the last result); then it answers politely. No model, so the
    usage is zero.
    """

    def __init__(self, task: Task) -> None:
        """The oracle of `task`: its `evaluation_criteria.actions` by the assistant."""
        self.task = task
        self.given = task.history_length
        self.actions: tuple[Action, ...] = tuple(
            action for action in task.evaluation_criteria.actions if action.requestor == "assistant"
        )

    async def act(
        self, history: Sequence[ConversationRecord], *, seed: int | None = None
    ) -> AgentStep:
        """The next turn after `history` (`seed` is accepted for the agent's shape; unused)."""
        if self.given:
            # The task's history opened the call; the oracle acts on what follows it.
            after = history[self.given :]
        else:
            first_user = next(
                (i for i, record in enumerate(history) if isinstance(record, UserMessage)), None
            )
            if first_user is None:
                return _say(OPENING)
            after = history[first_user:]
        if any(isinstance(record, AgentMessage) for record in after):
            return _say(POLITE_REPLY)
        done = sum(isinstance(record, AgentToolCall) for record in after)
        if done < len(self.actions):
            action = self.actions[done]
            call = AgentToolCall(
                call_id=f"call_{done + 1}", name=action.name, arguments=dict(action.arguments)
            )
            return AgentStep(
                turn=ToolCall(name=action.name, arguments=dict(action.arguments)),
                record=call,
                usage=TokenUsage(),
                latency_ms=0.0,
            )
        return _say(self.outcome(history))

    def outcome(self, history: Sequence[ConversationRecord]) -> str:
        """The message that tells the user how the task ended."""
        parts = ["That is taken care of."]
        results = [r for r in history if isinstance(r, ToolResult) and r.requestor == "assistant"]
        if results:
            last = results[-1]
            shown = last.content
            if len(shown) > _SHOWN_RESULT_LENGTH:
                shown = shown[:_SHOWN_RESULT_LENGTH] + "..."
            parts.append(f"The last step, {last.name}, gave: {shown}")
        info = self.task.evaluation_criteria.communicate_info
        if info:
            parts.append(f"Please note: {'; '.join(info)}.")
        return " ".join(parts)


def _say(text: str) -> AgentStep:
    return AgentStep(
        turn=Message(content=text),
        record=AgentMessage(content=text),
        usage=TokenUsage(),
        latency_ms=0.0,
    )


class BriefUser:
    """A user for tasks without a script, as `check` needs one: the reason for the call, then stop.

    Its first turn is the scenario's reason for calling (or its free-text instructions); every
    later turn thanks the agent and ends the call with `###STOP###`, so the oracle's outcome
    message is the last thing the agent says.
    """

    def __init__(self, task: Task) -> None:
        """The brief user of `task`."""
        instructions = task.user_scenario.instructions
        self.given = task.history_length
        self.opening = (
            instructions.reason_for_call
            if isinstance(instructions, StructuredInstructions)
            else instructions
        )

    async def respond(self, history: Sequence[ConversationRecord], *, seed: int | None) -> UserStep:
        """The opening line first (after the task's history, if any), then thanks and
        `###STOP###`."""
        if not any(isinstance(record, UserMessage) for record in history[self.given :]):
            return UserStep(record=UserMessage(content=self.opening))
        return UserStep(record=UserMessage(content="Thank you. ###STOP###"), stop="stop")
