"""The model of `domain.yaml` itself: the pack's sections, inline or in files beside it."""

from __future__ import annotations

from typing import Annotated

from pydantic import Discriminator, Field, Tag

from policy_agent.domain._models import (
    Identifier,
    PythonReference,
    Tables,
    ToolSpec,
    _Strict,
    _text_or,
)
from policy_agent.domain._rules import Rule
from policy_agent.domain._tasks import Task
from policy_agent.domain._user_simulator import UserSimulatorSection


class PolicyFile(_Strict):
    """A policy kept in its own (Markdown) file next to `domain.yaml`."""

    file: str = Field(description="The file's path, relative to the pack's folder.")


def _inline_or_file(value: object) -> str:
    return "file" if isinstance(value, str) else "inline"


_FILE = Discriminator(_inline_or_file)
# A string in place of a section is a file path; tagging the union keeps pydantic's errors about
# the branch that was meant (the loader drops the tag from the error's location).
ToolsOrFile = Annotated[
    Annotated[list[ToolSpec], Tag("inline")] | Annotated[str, Tag("file")], _FILE
]
TablesOrFile = Annotated[Annotated[Tables, Tag("inline")] | Annotated[str, Tag("file")], _FILE]
TasksOrFile = Annotated[Annotated[list[Task], Tag("inline")] | Annotated[str, Tag("file")], _FILE]
RulesOrFile = Annotated[Annotated[list[Rule], Tag("inline")] | Annotated[str, Tag("file")], _FILE]


class DomainFile(_Strict):
    """The contents of `domain.yaml`. Strings in place of tools, database or tasks are file paths.

    File paths are relative to the pack's folder and must stay inside it (no absolute paths, no
    `..`). A tools, tasks or rules file holds a list; a database file holds a mapping of tables.
    YAML (`.yaml`, `.yml`) or JSON (`.json`). Without `rules`, a `rules.yaml` beside
    `domain.yaml` is read when there is one.
    """

    name: Identifier = Field(description="The domain's name, e.g. `hotel`.")
    description: str = Field(default="", description="One line about the domain, for people.")
    version: str = Field(default="0.1.0", description="The pack's version, e.g. `1.0.0`.")
    policy: Annotated[
        Annotated[str, Tag("text")] | Annotated[PolicyFile, Tag("file")],
        Discriminator(_text_or("file")),
    ] = Field(description="The policy text, or `{file: policy.md}` to keep it in a Markdown file.")
    clock: str | None = Field(
        default=None,
        description=(
            "The simulated current time (ISO 8601, e.g. `2025-06-04T09:00:00`), "
            "seen by expressions as `now`; keeps time rules deterministic."
        ),
    )
    tools: ToolsOrFile = Field(
        description="The agent's tools, or the path of a YAML file holding a list of them."
    )
    user_tools: ToolsOrFile = Field(
        default_factory=list,
        description="Tools the simulated user may call (dual control, as telecom in tau2-bench).",
    )
    database: TablesOrFile = Field(
        description="Tables of records keyed by id, or the path of a YAML/JSON file holding them."
    )
    user_database: TablesOrFile = Field(
        default_factory=dict, description="The user-side state that user tools act on."
    )
    sync: PythonReference | None = Field(
        default=None,
        description=(
            "`path/to/file.py:function`, called as `function(db, user_db)` after every tool "
            "call that succeeds and once an episode's initial state is set: carries state "
            "between the agent's and the user's databases (tau2-bench's `sync_tools`)."
        ),
    )
    tasks: TasksOrFile = Field(
        default_factory=list,
        description="The tasks, or the path of a YAML/JSON file holding a list of them.",
    )
    rules: RulesOrFile = Field(
        default_factory=list,
        description=(
            "Policy rules checked over every episode (docs/rules.md), or the path of a YAML "
            "file holding a list of them (default: `rules.yaml` when the pack has one)."
        ),
    )
    user_simulator: UserSimulatorSection = Field(
        default_factory=UserSimulatorSection,
        description=(
            "How the simulated customer is prompted: its guidelines and the layout of its "
            "prompt (`format: tau2` for tau2-bench's, byte for byte)."
        ),
    )
