"""Where tools run: per-episode copy-on-write databases, declarative ops and Python tools.

```python
environment = Environment.from_pack(pack)        # compiles every tool once
episode = environment.new_episode()              # O(1): shares the pack's tables
result = episode.call("request_cribs", {"booking_id": "B11246", "count": 1})
result.content, result.error, result.changes     # what the model reads, and what changed
episode.content_hash()                           # agent and user DB hashes (the DB reward)
environment.new_episode(task)                    # at the task's initial state, if it has one
episode.database.find("bookings", guest_id="G90920")   # indexed; read-only records, no copies
```
"""

from policy_agent.domain import expression_names
from policy_agent.environment._arguments import ArgumentChecker
from policy_agent.environment._database import Database, DatabaseReader
from policy_agent.environment._environment import (
    TOOL_ERROR_PREFIX,
    DatabaseHashes,
    Environment,
    EpisodeEnvironment,
    PreparedTool,
    RecordedCall,
    SyncHook,
    ToolOutcome,
)
from policy_agent.environment._errors import (
    AssertionCheckError,
    InitialStateError,
    ToolDefinitionError,
    ToolError,
)
from policy_agent.environment._frozen import FrozenList, FrozenRecord
from policy_agent.environment._hash import SCHEME as HASH_SCHEME
from policy_agent.environment._hash import database_hash
from policy_agent.environment._initial import merge_json, same_result
from policy_agent.environment._ops import DeclarativeTool, next_id
from policy_agent.environment._python_tools import PythonTool
from policy_agent.environment._records import (
    ABSENT,
    Absent,
    Change,
    FieldDiff,
    JsonRecord,
    field_diff,
)
from policy_agent.environment._tables import Tables
from policy_agent.records import canonical_json

__all__ = [
    "ABSENT",
    "HASH_SCHEME",
    "TOOL_ERROR_PREFIX",
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
    "FrozenList",
    "FrozenRecord",
    "InitialStateError",
    "JsonRecord",
    "PreparedTool",
    "PythonTool",
    "RecordedCall",
    "SyncHook",
    "Tables",
    "ToolDefinitionError",
    "ToolError",
    "ToolOutcome",
    "canonical_json",
    "database_hash",
    "expression_names",
    "field_diff",
    "merge_json",
    "next_id",
    "same_result",
]
