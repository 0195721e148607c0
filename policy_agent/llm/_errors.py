"""Typed errors of model calls. Each names the role, the model and the server, and says what to do.

`retryable` tells the client whether another attempt may pass; `attempts` lists every failed
attempt of the call (the last one is this error), so the episode can log them.
"""

from __future__ import annotations

from typing import ClassVar

from policy_agent.errors import PolicyAgentError
from policy_agent.llm._completion import AttemptRecord


class LLMError(PolicyAgentError):
    """A model call failed; the message names the role, the model and the server."""

    retryable: ClassVar[bool] = False
    summary: ClassVar[str] = "the call failed"

    def __init__(
        self,
        *,
        role: str,
        model: str,
        detail: str,
        api_base: str | None = None,
        status: int | None = None,
        timeout: float | None = None,
        attempts: tuple[AttemptRecord, ...] = (),
    ) -> None:
        self.role = role
        self.model = model
        self.detail = detail
        self.api_base = api_base
        self.status = status
        self.timeout = timeout
        self.attempts = attempts
        super().__init__(self._message())

    def with_attempts(self, attempts: tuple[AttemptRecord, ...]) -> LLMError:
        """The same error, carrying the record of every attempt (its message says how many)."""
        return type(self)(
            role=self.role,
            model=self.model,
            detail=self.detail,
            api_base=self.api_base,
            status=self.status,
            timeout=self.timeout,
            attempts=attempts,
        )

    def advice(self) -> str:
        """What the user can do about it."""
        return "See the detail above; run with a debugger or check the server's log."

    def _message(self) -> str:
        where = f" at {self.api_base}" if self.api_base else ""
        tries = f" (after {len(self.attempts)} attempts)" if len(self.attempts) > 1 else ""
        return (
            f"{self.role} model {self.model}{where}: {self.summary}{tries}: "
            f"{self.detail.strip()}\n{self.advice()}"
        )


class ServerUnreachable(LLMError):
    """No connection to the server (refused, unknown host, dropped)."""

    retryable = True
    summary = "cannot reach the server"

    def advice(self) -> str:
        """Start the server or fix api_base."""
        return (
            f"Is the vLLM server running at {self.api_base or 'the configured api_base'}? Start it "
            "with `vllm serve <model> --port 8000 ...` (see the README), or fix `api_base` in "
            "the run config."
        )


class ServerError(LLMError):
    """The server answered HTTP 5xx."""

    retryable = True
    summary = "the server failed"

    def advice(self) -> str:
        """Look at the server."""
        return f"The server answered HTTP {self.status}; check the vLLM server's log."


class RateLimited(LLMError):
    """The server answered HTTP 429."""

    retryable = True
    summary = "too many requests (HTTP 429)"

    def advice(self) -> str:
        """Lower the load."""
        return "Lower the run's concurrency, or add replicas with `api_bases`."


class RequestRejected(LLMError):
    """The server refused the request (HTTP 4xx other than 429 and context length)."""

    summary = "the server rejected the request"

    def advice(self) -> str:
        """Status-specific hints: key, model name, or the request itself."""
        if self.status in (401, 403):
            return (
                "Check the API key: set the environment variable named by `api_key_env` "
                "to the server's --api-key."
            )
        if self.status == 404:
            return (
                "Check the model name: litellm wants `hosted_vllm/<served name>`, where the "
                "served name is vLLM's --served-model-name (by default the model path); "
                "GET <api_base>/models lists it."
            )
        return f"HTTP {self.status}: the request is invalid for this server; see the detail."


class LLMTimeout(LLMError):
    """No answer within the configured timeout."""

    retryable = True
    summary = "no answer in time"

    def advice(self) -> str:
        """Raise the timeout or relieve the server."""
        return (
            f"No answer within {self.timeout} s: raise `timeout` in the run config, or check "
            "that the server is not overloaded."
        )


class ContextLengthExceeded(LLMError):
    """The prompt plus max_tokens does not fit the model's context window."""

    summary = "the conversation does not fit the context window"

    def advice(self) -> str:
        """Make room."""
        return (
            "Serve the model with a larger --max-model-len, lower `max_tokens`, or end "
            "episodes earlier (fewer turns)."
        )


class MalformedResponse(LLMError):
    """The server answered, but not with a usable OpenAI completion."""

    retryable = True
    summary = "the response is not a valid completion"

    def advice(self) -> str:
        """Check that api_base is an OpenAI-compatible server."""
        return "Is `api_base` an OpenAI-compatible server? Its URL usually ends in /v1."


class MissingAPIKey(LLMError):
    """`api_key_env` names an environment variable that is not set."""

    summary = "the API key is missing"

    def advice(self) -> str:
        """Export the variable."""
        return "Export that variable, or remove `api_key_env` if the server needs no key."
