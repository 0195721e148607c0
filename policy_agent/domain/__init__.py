"""Domain packs: YAML files describing a policy, its tools, a database and tasks."""

from policy_agent.domain._checks import undescribed_tools
from policy_agent.domain._explain import explain as explain_pack_error
from policy_agent.domain._file import DomainFile
from policy_agent.domain._loader import find_repository, load_pack
from policy_agent.domain._models import (
    CreateOp,
    DeclarativeOp,
    DeleteOp,
    FindOp,
    GetOp,
    ListOp,
    Precondition,
    PythonImplementation,
    RespondOp,
    Table,
    Tables,
    ToolKind,
    ToolSpec,
    UpdateOp,
    expression_names,
)
from policy_agent.domain._pack import DomainPack, PackError, Problem, display_path
from policy_agent.domain._schema import SCHEMA_KINDS, pack_schema, pack_schema_text
from policy_agent.domain._tasks import (
    Action,
    EnvAssertion,
    EvaluationCriteria,
    HistoryMessage,
    HistoryToolCall,
    InitialAction,
    InitialState,
    StructuredInstructions,
    Task,
    TaskDescription,
    UserScenario,
)
from policy_agent.domain._user_simulator import UserPromptFormat, UserSimulatorSpec

__all__ = [
    "SCHEMA_KINDS",
    "Action",
    "CreateOp",
    "DeclarativeOp",
    "DeleteOp",
    "DomainFile",
    "DomainPack",
    "EnvAssertion",
    "EvaluationCriteria",
    "FindOp",
    "GetOp",
    "HistoryMessage",
    "HistoryToolCall",
    "InitialAction",
    "InitialState",
    "ListOp",
    "PackError",
    "Precondition",
    "Problem",
    "PythonImplementation",
    "RespondOp",
    "StructuredInstructions",
    "Table",
    "Tables",
    "Task",
    "TaskDescription",
    "ToolKind",
    "ToolSpec",
    "UpdateOp",
    "UserPromptFormat",
    "UserScenario",
    "UserSimulatorSpec",
    "display_path",
    "explain_pack_error",
    "expression_names",
    "find_repository",
    "load_pack",
    "pack_schema",
    "pack_schema_text",
    "undescribed_tools",
]
