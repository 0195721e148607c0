"""Where tools run: per-episode copy-on-write databases, declarative ops and Python tools.

```python
environment = Environment.from_pack(pack)        # compiles every tool once
episode = environment.new_episode()              # O(1): shares the pack's tables
result = episode.call("request_cribs", {"booking_id": "B11246", "count": 1})
result.content, result.error, result.changes     # what the model reads, and what changed
episode.content_hash()                           # agent and user DB hashes (the DB reward)
environment.new_episode(task)                    # at the task's initial state, if it has one
```
"""

from policy_agent.domain import expression_names
from policy_agent.environment._arguments import ArgumentChecker
from policy_agent.environment._database import Database, DatabaseReader, Tables
from policy_agent.environment._environment import (
    DatabaseHashes,
    Environment,
    EpisodeEnvironment,
    RecordedCall,
    ToolOutcome,
)
from policy_agent.environment._errors import (
    AssertionCheckError,
    InitialStateError,
    ToolDefinitionError,
    ToolError,
)
from policy_agent.environment._initial import merge_json, same_result
from policy_agent.environment._ops import DeclarativeTool, next_id
from policy_agent.environment._python_tools import PythonTool
from policy_agent.environment._records import (
    ABSENT,
    Absent,
    Change,
    FieldDiff,
    JsonRecord,
    canonical_json,
    field_diff,
)

__all__ = [
    "ABSENT",
    "Absent",
    "ArgumentChecker",
    "AssertionCheckError",
    "Change",
    "Database",
    "DatabaseHashes",
    "DatabaseReader",
    "DeclarativeTool",
    "Environment",
    "EpisodeEnvironment",
    "FieldDiff",
    "InitialStateError",
    "JsonRecord",
    "PythonTool",
    "RecordedCall",
    "Tables",
    "ToolDefinitionError",
    "ToolError",
    "ToolOutcome",
    "canonical_json",
    "expression_names",
    "field_diff",
    "merge_json",
    "next_id",
    "same_result",
]
