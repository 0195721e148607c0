"""Model calls: the only part of policy-agent that talks to litellm.

The rest of the framework sees `ModelConfig` (data, in run configs), the `ModelClient` protocol
(one per role: `chat` and `complete`), `Completion` (what came back) and the `LLMError` family
(what went wrong, named by role and model). `LLMClient` is the client over litellm; litellm
itself is imported when the first one is made. `with_retries` is the retry rule every client
follows (the in-process `policy_agent.scripted.ScriptedModelClient` too); `longest_call_s` is
the most time one call may take under that rule; `home_replica` the replica an episode's
calls go to when a role has several `api_bases`. `check_role` asks a role's servers, before a
run, whether they answer, serve the configured model and accept the key; `served_model` and
`thinking_switch` which model a server loaded and whether its chat template reads
`enable_thinking`.
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
    ModelNotServed,
    NoModelList,
    RateLimited,
    RequestRejected,
    ServerError,
    ServerUnreachable,
)
from policy_agent.llm._preflight import (
    ServerVersion,
    check_role,
    is_other_model,
    served_name,
    server_version,
)
from policy_agent.llm._protocol import ModelClient
from policy_agent.llm._replicas import home_replica
from policy_agent.llm._retries import Backoff, longest_call_s, with_retries
from policy_agent.llm._template import ServedModel, ThinkingSwitch, served_model, thinking_switch
from policy_agent.llm._tokens import (
    TokensNotReturned,
    cached_tokens,
    server_timing,
    token_trace,
    warn_missing,
)

__all__ = [
    "AttemptRecord",
    "Backoff",
    "Completion",
    "ContextLengthExceeded",
    "LLMClient",
    "LLMError",
    "LLMTimeout",
    "MalformedResponse",
    "MissingAPIKey",
    "ModelClient",
    "ModelConfig",
    "ModelNotServed",
    "NoModelList",
    "RateLimited",
    "RequestRejected",
    "ServedModel",
    "ServerError",
    "ServerUnreachable",
    "ServerVersion",
    "StructuredToolCall",
    "ThinkingSwitch",
    "TokensNotReturned",
    "Usage",
    "cached_tokens",
    "check_role",
    "close_connections",
    "home_replica",
    "is_other_model",
    "longest_call_s",
    "served_model",
    "served_name",
    "server_timing",
    "server_version",
    "thinking_switch",
    "token_trace",
    "warn_missing",
    "with_retries",
]
