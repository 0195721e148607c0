"""The oracle: an agent that needs no model, and the brief user `check` pairs it with.

The oracle performs a task's expected actions, one per turn, then tells the user the outcome;
before a write that a `confirmation` rule of the pack covers, it describes the write and waits
for a reply that agrees, as the rule asks.
It shows a newcomer a whole run without a GPU, and it is the pack author's test: a task the
oracle cannot solve with reward 1 is a broken task (`policy-agent check`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from policy_agent.agent import AgentStep, MessageStep, ToolCallStep
from policy_agent.domain import (
    Action,
    ConfirmationRule,
    StructuredInstructions,
    Task,
    ToolKind,
    last_exchange,
)
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
POLITE_REPLY = "Is there anything else I can help you with?"
"""What the oracle says once the task is done, to whatever the user says (after a recap of the
changes it made, if any: a user may say yes to a change already made)."""
HANDOVER = "Please do this on your side:"
"""How the oracle asks the user for the user's next expected action (the tool's name follows)."""
DONE = "Done."
"""What the brief user says after its own calls, to hand the turn back."""
CONFIRM = "Before I go ahead, please confirm. I will"
"""How the oracle asks for a yes before writes (each write's tool words and arguments follow)."""
AGREE = "Yes, please go ahead."
"""What the brief user answers to the oracle's request for a yes."""


class OracleAgent:
    """Plays the agent of one task perfectly, by the book: its expected actions, then the outcome.

    Same shape as `Agent.act`, and like `Agent` it keeps no state between turns: what it has
    done is read from the history. After the user's first message (or the task's history) it
    follows the task's expected actions in order, one per turn: its own it makes; at one of the
    user's (dual control) it asks the user to do it and waits. Then one message telling the
    outcome (every `communicate_info` string and the last result); then it answers politely.
    No model, so the usage is zero.
    """

    def __init__(
        self,
        task: Task,
        *,
        confirmations: Mapping[str, Sequence[ConfirmationRule]] | None = None,
        kinds: Mapping[str, ToolKind] | None = None,
    ) -> None:
        """The oracle of `task`: its `evaluation_criteria.actions`, both sides' in order.

        `confirmations` (`DomainPack.confirmations_for(task)`) are the rules that ask a yes
        before a tool's calls: the oracle asks first, and again until the user agrees.
        `kinds` are the tools' kinds: the oracle tells the user what it changed (writes, and
        Python tools, which may write), that it transferred the call, and what it looked up.
        """
        self.task = task
        self.kinds = dict(kinds or {})
        self.given = task.history_length
        self.actions: tuple[Action, ...] = tuple(task.evaluation_criteria.actions)
        self.confirmations = dict(confirmations or {})

    async def act(
        self,
        history: Sequence[ConversationRecord],
        *,
        seed: int | None = None,
        session: str | None = None,
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
                return _say(self.polite_reply(after))
            return _say(self.outcome(after))
        if action.requestor == "user":
            return _say(f"{HANDOVER} {action.name}.")
        if not self.confirmed(action, history):
            return _say(self.confirmation(after))
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

    def confirmed(self, action: Action, history: Sequence[ConversationRecord]) -> bool:
        """Whether the rules covering `action` (if any) are met by the user's last message and
        the agent's message before it."""
        rules = self.confirmations.get(action.name, ())
        if not rules:
            return True
        asked, reply = last_exchange(history, len(history))
        if reply is None or asked is None:
            return False
        said, answer = history[asked], history[reply]
        assert isinstance(said, AgentMessage) and isinstance(answer, UserMessage)
        return all(
            rule.confirms(said.content, answer.content, action.name, action.arguments)
            for rule in rules
        )

    def confirmation(self, played: Sequence[ConversationRecord]) -> str:
        """The request for a yes: the next write and those right after it that need one too."""
        made = sum(isinstance(record, AgentToolCall | UserToolCall) for record in played)
        writes = []
        for action in self.actions[made:]:
            if action.requestor == "user" or action.name not in self.confirmations:
                break
            writes.append(_in_words(action.name, action.arguments))
        return f"{CONFIRM} {'; then '.join(writes)}. Shall I go ahead?"

    def outcome(self, played: Sequence[ConversationRecord]) -> str:
        """The message that tells the user how the task ended, in words: what was changed,
        what was refused, what was only looked up; then every `communicate_info` string."""
        done, refused, looked = self.calls(played)
        parts = []
        if any(self.kinds.get(r.name) is ToolKind.TRANSFER for r in _calls(played)):
            parts.append("I have passed your call to a colleague, who will take it from here.")
        if done:
            parts.append(f"All done: I made these changes: {'; '.join(done)}.")
        if refused:
            parts.append(f"I could not {'; nor '.join(refused)}.")
        if not parts:
            checked = f" I checked {'; '.join(looked)}." if looked else ""
            parts.append(f"I have looked into your request.{checked} I have made no change.")
        info = self.task.evaluation_criteria.communicate_info
        if info:
            parts.append(f"Please note: {'; '.join(info)}.")
        return " ".join(parts)

    def polite_reply(self, played: Sequence[ConversationRecord]) -> str:
        """After the outcome: a recap of the changes made, then the offer of more help."""
        done, _, _ = self.calls(played)
        recap = f"That is all in place: {'; '.join(done)}. " if done else ""
        return recap + POLITE_REPLY

    def calls(self, played: Sequence[ConversationRecord]) -> tuple[list[str], list[str], list[str]]:
        """The agent's calls in words: the changes made, the calls refused (with why), the
        look-ups."""
        results = {r.call_id: r for r in played if isinstance(r, ToolResult)}
        done, refused, looked = [], [], []
        for record in _calls(played):
            kind = self.kinds.get(record.name, ToolKind.GENERIC)
            if record.call_id not in results or kind in (ToolKind.THINK, ToolKind.TRANSFER):
                continue
            result = results[record.call_id]
            said = _in_words(record.name, record.arguments)
            if result.error:
                refused.append(f"{said} ({result.content.removeprefix('Error: ')})")
            elif kind in (ToolKind.WRITE, ToolKind.GENERIC):
                done.append(said)
            else:
                looked.append(said)
        return done, refused, looked


def _calls(played: Sequence[ConversationRecord]) -> list[AgentToolCall]:
    return [record for record in played if isinstance(record, AgentToolCall)]


def _in_words(name: str, arguments: Mapping[str, object]) -> str:
    """`request cribs (booking_id B11246, count 3)`."""
    listed = ", ".join(f"{k} {_value(v)}" for k, v in arguments.items())
    return f"{name.replace('_', ' ')} ({listed})" if listed else name.replace("_", " ")


def _value(value: object) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


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
    makes that call, and after its own calls it says `Done.`; to the oracle's request for a yes
    it says `Yes, please go ahead.`; to anything else (the oracle's outcome message, once every
    action is made) it thanks the agent and ends the call with `###STOP###`.
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

    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
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
        if isinstance(last, AgentMessage) and last.content.startswith(CONFIRM):
            return UserStep(record=UserMessage(content=AGREE))
        return UserStep(record=UserMessage(content="Thank you. ###STOP###"), stop="stop")


def next_action(actions: Sequence[Action], played: Sequence[ConversationRecord]) -> Action | None:
    """The expected action after the tool calls `played` holds (both sides'), None when all are
    made: the oracle and the brief user take turns through the same list."""
    made = sum(isinstance(record, AgentToolCall | UserToolCall) for record in played)
    return actions[made] if made < len(actions) else None
