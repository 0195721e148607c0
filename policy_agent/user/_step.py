"""What one user turn gives the runner, how it can fail, and the stop tokens that end a call."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Literal, Protocol

from pydantic import Field

from policy_agent.errors import PolicyAgentError
from policy_agent.llm import LLMError
from policy_agent.records import (
    ConversationRecord,
    RetryEvent,
    RoleTotals,
    UserMessage,
    UserRetryEvent,
    UserToolCall,
)

StopSignal = Literal["stop", "transfer", "out_of_scope"]
"""How the user ended the conversation; the runner's TerminationReason of the same name."""

STOP_TOKENS: dict[str, StopSignal] = {
    "###STOP###": "stop",
    "###TRANSFER###": "transfer",
    "###OUT-OF-SCOPE###": "out_of_scope",
}
"""The tokens the simulation guidelines tell the user to end with, and what each one means."""

UserEvent = Annotated[UserRetryEvent | RetryEvent, Field(discriminator="kind")]
"""One event of a user turn: an unusable turn asked again, or a failed model call retried."""


def stop_signal(text: str) -> StopSignal | None:
    """The stop token in `text`, wherever it is; the earliest wins if there are several."""
    found = [(text.find(token), signal) for token, signal in STOP_TOKENS.items() if token in text]
    return min(found)[1] if found else None


@dataclass(frozen=True, kw_only=True)
class UserStep:
    """One user turn: the record to append, whether it ends the call, what happened on the way."""

    record: UserMessage | UserToolCall
    """What to append: a message for the agent, or a call of a user tool (run it with
    `episode.call(name, arguments, requestor="user")` and append its `ToolResult` with
    requestor `user`; the user speaks again next)."""
    stop: StopSignal | None = None
    """Set when the message carries a stop token (the text keeps it: the agent sees it)."""
    events: tuple[UserEvent, ...] = ()
    """Unusable turns asked again and failed model calls retried, in order."""
    totals: RoleTotals = field(default_factory=RoleTotals)
    """The turn's model use, rejected attempts included (zero for the scripted user)."""


class UserSimulator(Protocol):
    """Plays the customer of one task; holds no conversation state (the history is passed in)."""

    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        """The user's next turn after `history`; attempt n of the turn sends seed + n - 1."""
        ...


class UserModelError(PolicyAgentError):
    """The user model could not be reached or failed after its retries (infrastructure_error).

    `error` is the typed `LLMError` (naming the role, model and server, and what to do);
    `events` and `totals` are what the turn recorded before the failure.
    """

    def __init__(self, error: LLMError, events: Sequence[UserEvent], totals: RoleTotals) -> None:
        self.error = error
        self.events = list(events)
        self.totals = totals
        super().__init__(str(error))


class UserGaveUp(PolicyAgentError):
    """The user produced no usable turn (user_error): the model after `max_retries`, or a script
    with no line left. `events` and `totals` are what the turn recorded, every rejected answer
    included."""

    def __init__(
        self, message: str, events: Sequence[UserEvent] = (), totals: RoleTotals | None = None
    ) -> None:
        self.events = list(events)
        self.totals = totals or RoleTotals()
        super().__init__(message)
