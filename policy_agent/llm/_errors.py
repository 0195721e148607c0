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
        self.moved_to: str | None = None
        """The replica the episode moved to after this failure (several api_bases only)."""
        super().__init__(self._message())

    def with_attempts(self, attempts: tuple[AttemptRecord, ...]) -> LLMError:
        """The same error, carrying the record of every attempt (its message says how many)."""
        copy = type(self)(
            role=self.role,
            model=self.model,
            detail=self.detail,
            api_base=self.api_base,
            status=self.status,
            timeout=self.timeout,
            attempts=attempts,
        )
        copy.moved_to = self.moved_to
        return copy

    @property
    def retried(self) -> tuple[AttemptRecord, ...]:
        """The failed attempts that were tried again: all but the last, which is this error."""
        return self.attempts[:-1]

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
            "with `vllm serve <model> --port 8000 ...` (see the README), or fix `api_base` (the "
            "run config's; `--agent-api-base` for `policy-agent chat`)."
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
            f"No answer within {self.timeout} s: raise `timeout` (the run config's; `--timeout` "
            "for `policy-agent chat`), or check that the server is not overloaded."
        )


class ContextLengthExceeded(LLMError):
    """The prompt plus max_tokens does not fit the model's context window."""

    summary = "the conversation does not fit the context window"

    def advice(self) -> str:
        """Make room: on the server in use, or in the run."""
        return (
            f"{self._larger_window()}, lower `max_tokens`, or end episodes earlier (fewer turns)."
        )

    def _larger_window(self) -> str:
        """What gives the server a larger window; the server is told by its message, the model
        string, or the absence of an api_base (a hosted API)."""
        # llama.cpp's message (tools/server: "request (N tokens) exceeds the available context
        # size (M tokens), try increasing it", type exceed_context_size_error).
        if "available context size" in self.detail or "exceed_context_size" in self.detail:
            return (
                "Start llama.cpp's server with a larger --ctx-size (-c; with --parallel N each "
                "request gets 1/N of it)"
            )
        if self.model.startswith("hosted_vllm/"):
            return "Serve the model with a larger --max-model-len (vLLM)"
        if self.api_base is None:
            return "Use a model with a larger context window"
        return (
            "Give the server a larger context window (vLLM: --max-model-len; SGLang: "
            "--context-length; llama.cpp: --ctx-size)"
        )


class MalformedResponse(LLMError):
    """The server answered, but not with a usable OpenAI completion."""

    retryable = True
    summary = "the response is not a valid completion"

    def advice(self) -> str:
        """Check that api_base is an OpenAI-compatible server."""
        return "Is `api_base` an OpenAI-compatible server? Its URL usually ends in /v1."


class MissingAPIKey(LLMError):
    """No API key where one is needed: `api_key_env` names an environment variable that is not
    set, or the provider (an `openai/` model) sends nothing without a key and none is named."""

    summary = "the API key is missing"

    def advice(self) -> str:
        """Export the variable, or name one."""
        return (
            "Export that variable (give the role `api_key_env: NAME` if it names none), or "
            "remove `api_key_env` if the server needs no key; an `openai/` model still needs "
            "some key (any value, for a server started without one)."
        )


class ModelNotServed(LLMError):
    """The server answers, but its model list (GET /v1/models) lacks the configured model."""

    summary = "the server does not serve this model"

    def advice(self) -> str:
        """Name a model the server serves, or point at the right server."""
        return (
            "Name one of the models it lists (a `hosted_vllm/` or `openai/` model string is "
            "the provider, a slash, then that name), or fix `api_base` if this is the wrong "
            "server; otherwise its answers would be filed under the configured model's name."
        )


class NoModelList(LLMError):
    """The server does not answer GET /v1/models with a model list."""

    summary = "the server does not list its models (GET /v1/models)"

    def advice(self) -> str:
        """Fix api_base, or skip the check."""
        return (
            "Check `api_base` (an OpenAI-compatible URL usually ends in /v1); for a server "
            "without /v1/models, run with --no-preflight."
        )
