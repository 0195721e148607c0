"""A scripted OpenAI-compatible server: canned model outputs, faults and latency, over real HTTP.

It stands in for vLLM in the test suite and in benchmarks, and lets users replay recorded model
outputs (for instance to regression-test a changed domain pack without a GPU).
"""

from policy_agent.scripted._responder import approximate_tokens
from policy_agent.scripted._script import (
    Answer,
    Fault,
    Rule,
    RulesRole,
    Script,
    ScriptedToolCall,
    ScriptError,
    SeedRole,
    SequenceRole,
    load_script,
)
from policy_agent.scripted._server import (
    RecordedRequest,
    RemoteHostRefused,
    ScriptedServer,
    is_loopback,
)

__all__ = [
    "Answer",
    "Fault",
    "RecordedRequest",
    "RemoteHostRefused",
    "Rule",
    "RulesRole",
    "Script",
    "ScriptError",
    "ScriptedServer",
    "ScriptedToolCall",
    "SeedRole",
    "SequenceRole",
    "approximate_tokens",
    "is_loopback",
    "load_script",
]
