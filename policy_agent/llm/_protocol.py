"""What the agent, the user simulator and the judge need of a model: two calls and a close.

`LLMClient` (litellm, over HTTP) is one; `policy_agent.scripted.ScriptedModelClient` (the same
scripts as the scripted server, in process) is another, for tests that are not about HTTP.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from policy_agent.llm._completion import Completion
from policy_agent.llm._config import ModelConfig


@runtime_checkable
class ModelClient(Protocol):
    """One role's model: `chat` and `complete` return a `Completion` or raise an `LLMError`
    (after the config's retries), naming the role and the model."""

    config: ModelConfig
    """The role's model configuration: what was asked for, and how often to retry."""
    role: str
    """`agent`, `user` or `judge`: named in every error and event."""

    async def chat(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tools: Sequence[dict[str, Any]] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """A chat completion of OpenAI-format `messages` (the server renders the prompt).

        `extra_body`: request fields for this call only, merged over the config's (a key given
        here replaces the config's), e.g. the agent's grammar (`structured_outputs`).
        `session` names the episode: every call of one session goes to the same replica."""
        ...

    async def complete(
        self,
        prompt: str,
        *,
        stop: Sequence[str] = ("<|im_end|>",),
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
        session: str | None = None,
    ) -> Completion:
        """A completion of `prompt` as given (the caller rendered it), its raw text back
        (`extra_body` and `session` as for `chat`)."""
        ...

    async def aclose(self) -> None:
        """Release what the client holds (connections); it may not be used afterwards."""
        ...
