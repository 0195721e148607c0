"""Model calls: the only part of policy-agent that talks to litellm.

The rest of the framework sees `ModelConfig` (data, in run configs), `LLMClient` (one per role:
`chat` and `complete`), `Completion` (what came back) and the `LLMError` family (what went
wrong, named by role and model). litellm itself is imported when the first client is made.
"""

from policy_agent.llm._client import LLMClient, close_connections
from policy_agent.llm._completion import AttemptRecord, Completion, StructuredToolCall, Usage
from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import (
    ContextLengthExceeded,
    LLMError,
    LLMTimeout,
    MalformedResponse,
    MissingAPIKey,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)

__all__ = [
    "AttemptRecord",
    "Completion",
    "ContextLengthExceeded",
    "LLMClient",
    "LLMError",
    "LLMTimeout",
    "MalformedResponse",
    "MissingAPIKey",
    "ModelConfig",
    "RateLimited",
    "RequestRejected",
    "ServerError",
    "ServerUnreachable",
    "StructuredToolCall",
    "Usage",
    "close_connections",
]
