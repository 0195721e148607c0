"""The oracle: an agent that needs no model, and the brief user `check` pairs it with.

The oracle performs a task's expected actions, one per turn, then tells the user the outcome.
It shows a newcomer a whole run without a GPU, and it is the pack author's test: a task the
oracle cannot solve with reward 1 is a broken task (`policy-agent check`).
"""

from __future__ import annotations

from collections.abc import Sequence

from policy_agent.agent import AgentStep, MessageStep, ToolCallStep
from policy_agent.domain import Action, StructuredInstructions, Task
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Message,
    TokenUsage,
    ToolCall,
    ToolResult,
    UserMessage,
    UserToolCall,
)
from policy_agent.user import UserStep

OPENING = "How can I help you today?"
"""What the oracle says if it is asked before the user has said anything."""
POLITE_REPLY = "You're welcome. Is there anything else I can help you with?"
"""What the oracle says once the task is done, to whatever the user says."""
HANDOVER = "Please do this on your side:"
"""How the oracle asks the user for the user's next expected action (the tool's name follows)."""
DONE = "Done."
"""What the brief user says after its own calls, to hand the turn back."""
_SHOWN_RESULT_LENGTH = 200
"""The last tool result is quoted up to this many characters in the outcome message."""


class OracleAgent:
    """Plays the agent of one task perfectly, by the book: its expected actions, then the outcome.

    Same shape as `Agent.act`, and like `Agent` it keeps no state between turns: what it has
    done is read from the history. After the user's first message (or the task's history) it
    follows the task's expected actions in order, one per turn: its own it makes; at one of the
    user's (dual control) it asks the user to do it and waits. Then one message telling the
    outcome (every `communicate_info` string and the last result); then it answers politely.
    No model, so the usage is zero.
    """

    def __init__(self, task: Task) -> None:
        """The oracle of `task`: its `evaluation_criteria.actions`, both sides' in order."""
        self.task = task
        self.given = task.history_length
        self.actions: tuple[Action, ...] = tuple(task.evaluation_criteria.actions)

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
        action = next_action(self.actions, after)
        if action is None:
            calls = [i for i, r in enumerate(after) if isinstance(r, AgentToolCall | UserToolCall)]
            told = [i for i, r in enumerate(after) if isinstance(r, AgentMessage)]
            if told and (not calls or told[-1] > calls[-1]):
                return _say(POLITE_REPLY)
            return _say(self.outcome(history))
        if action.requestor == "user":
            return _say(f"{HANDOVER} {action.name}.")
        number = 1 + sum(isinstance(record, AgentToolCall) for record in history)
        call = AgentToolCall(
            call_id=f"call_{number}", name=action.name, arguments=dict(action.arguments)
        )
        return ToolCallStep(
            turn=ToolCall(name=action.name, arguments=dict(action.arguments)),
            record=call,
            usage=TokenUsage(),
            latency_ms=0.0,
        )

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


def _say(text: str) -> MessageStep:
    return MessageStep(
        turn=Message(content=text),
        record=AgentMessage(content=text),
        usage=TokenUsage(),
        latency_ms=0.0,
    )


class BriefUser:
    """A user for tasks without a script, as `check` needs one: the reason for the call, the
    user's own expected actions when asked, then stop.

    Its first turn is the scenario's reason for calling (or its free-text instructions). Then it
    follows the task's expected actions as the oracle does: when the next one is the user's, it
    makes that call, and after its own calls it says `Done.`; to anything else (the oracle's
    outcome message, once every action is made) it thanks the agent and ends the call with
    `###STOP###`.
    """

    def __init__(self, task: Task) -> None:
        """The brief user of `task`."""
        instructions = task.user_scenario.instructions
        self.given = task.history_length
        self.actions: tuple[Action, ...] = tuple(task.evaluation_criteria.actions)
        self.opening = (
            instructions.reason_for_call
            if isinstance(instructions, StructuredInstructions)
            else instructions
        )

    async def respond(self, history: Sequence[ConversationRecord], *, seed: int | None) -> UserStep:
        """The opening line first (after the task's history, if any), then the user's actions,
        then thanks and `###STOP###`."""
        after = history[self.given :]
        if not any(isinstance(record, UserMessage) for record in after):
            return UserStep(record=UserMessage(content=self.opening))
        action = next_action(self.actions, after)
        if action is not None and action.requestor == "user":
            number = 1 + sum(isinstance(record, UserToolCall) for record in history)
            call = UserToolCall(
                call_id=f"user_call_{number}", name=action.name, arguments=dict(action.arguments)
            )
            return UserStep(record=call)
        last = after[-1] if after else None
        if isinstance(last, ToolResult) and last.requestor == "user":
            return UserStep(record=UserMessage(content=DONE))
        return UserStep(record=UserMessage(content="Thank you. ###STOP###"), stop="stop")


def next_action(actions: Sequence[Action], played: Sequence[ConversationRecord]) -> Action | None:
    """The expected action after the tool calls `played` holds (both sides'), None when all are
    made: the oracle and the brief user take turns through the same list."""
    made = sum(isinstance(record, AgentToolCall | UserToolCall) for record in played)
    return actions[made] if made < len(actions) else None
