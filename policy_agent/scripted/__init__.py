"""A scripted OpenAI-compatible server: canned model outputs, faults and latency, over real HTTP;
and `ScriptedModelClient`, the same scripts answered in process (a `ModelClient` double).

It stands in for vLLM in the test suite and in benchmarks, and lets users replay recorded model
outputs (for instance to regression-test a changed domain pack without a GPU): `script_from_run`
turns a run's episodes into a script answering by seed (docs/regression.md).
"""

from policy_agent.scripted._client import ScriptedModelClient
from policy_agent.scripted._from_run import (
    RecordedScript,
    ScriptFromRunError,
    SelectionError,
    script_from_run,
    served_model,
)
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
    "RecordedScript",
    "RemoteHostRefused",
    "Rule",
    "RulesRole",
    "Script",
    "ScriptError",
    "ScriptFromRunError",
    "ScriptedModelClient",
    "ScriptedServer",
    "ScriptedToolCall",
    "SeedRole",
    "SelectionError",
    "SequenceRole",
    "approximate_tokens",
    "is_loopback",
    "load_script",
    "script_from_run",
    "served_model",
]
