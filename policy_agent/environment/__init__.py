"""Where tools run: a per-episode copy-on-write database, declarative ops and Python tools."""

from policy_agent.environment._database import Database, DatabaseReader, Tables
from policy_agent.environment._errors import AssertionCheckError, ToolDefinitionError, ToolError
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
    "AssertionCheckError",
    "Change",
    "Database",
    "DatabaseReader",
    "FieldDiff",
    "JsonRecord",
    "Tables",
    "ToolDefinitionError",
    "ToolError",
    "canonical_json",
    "field_diff",
]
