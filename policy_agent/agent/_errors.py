"""The agent's model could not answer: the LLM error, with everything the turn recorded so far."""

from __future__ import annotations

from collections.abc import Sequence

from policy_agent.errors import PolicyAgentError
from policy_agent.llm import LLMError
from policy_agent.records import AgentEvent


class AgentModelError(PolicyAgentError):
    """The agent's model call failed after the configured retries (an infrastructure error).

    `error` is the typed `LLMError` (which names the role, the model and the server and says what
    to do); `events` are the turn's events up to the failure, each retried attempt included (the
    last, failed one is `error` itself), so the episode loses nothing it recorded.
    """

    def __init__(self, error: LLMError, events: Sequence[AgentEvent]) -> None:
        self.error = error
        self.events = list(events)
        super().__init__(str(error))

    @property
    def role(self) -> str:
        """The role whose model failed (`agent`)."""
        return self.error.role

    @property
    def model(self) -> str:
        """The litellm model string of that role."""
        return self.error.model
