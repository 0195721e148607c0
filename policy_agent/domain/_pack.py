"""A loaded domain pack: every file read, every reference resolved, ready to run."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from policy_agent.domain._content import (
    content_hash,
    content_parts,
    python_digests,
    python_references,
)
from policy_agent.domain._models import Tables, ToolSpec
from policy_agent.domain._rules import (
    AnyRule,
    AppliedRule,
    ConfirmationRule,
    confirmations,
    rules_for,
)
from policy_agent.domain._tasks import Task
from policy_agent.domain._user_simulator import UserSimulatorSpec
from policy_agent.errors import PolicyAgentError


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with a pack, located as precisely as the loader could."""

    file: Path
    line: int | None
    """1-based line of the offending value, when known."""
    field: str
    """Dotted path of the offending value inside the pack, e.g. `tools[2].kind`."""
    message: str
    """What is wrong and what was expected."""
    column: int | None = None
    """1-based column in the file, when known (syntax errors)."""

    def __str__(self) -> str:
        return self.render()

    def render(self, cwd: Path | None = None) -> str:
        """`file:line: field: message`, the file relative to `cwd` when it is inside it."""
        where = display_path(self.file, cwd)
        if self.line is not None:
            where += f":{self.line}" + (f":{self.column}" if self.column is not None else "")
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class PackError(PolicyAgentError):
    """A pack could not be loaded; `problems` lists everything found, each with file and line."""

    def __init__(self, problems: list[Problem], *, root: Path | None = None) -> None:
        self.problems = problems
        self.root = root
        """The pack's folder (None when it could not even be found)."""
        count = len(problems)
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the domain pack:\n{lines}")

    def report(self, cwd: Path | None = None) -> str:
        """Every problem on its own line, then what to do: the text `policy-agent` prints."""
        count = len(self.problems)
        pack = display_path(self.root, cwd) if self.root is not None else "the domain pack"
        lines = [p.render(cwd) for p in self.problems]
        lines.append(
            f"{count} problem{'s' if count != 1 else ''} in {pack}; "
            f"fix {'it' if count == 1 else 'them'} and run policy-agent validate again."
        )
        return "\n".join(lines)


def display_path(path: Path, cwd: Path | None = None) -> str:
    """`path` relative to `cwd` (default: the current directory) when inside it, else absolute."""
    base = (cwd or Path.cwd()).resolve()
    absolute = path.absolute()
    if absolute.is_relative_to(base):
        return absolute.relative_to(base).as_posix() or "."
    resolved = path.resolve()
    return resolved.relative_to(base).as_posix() if resolved.is_relative_to(base) else str(absolute)


@dataclass(frozen=True, kw_only=True)
class DomainPack:
    """A domain as the framework uses it: policy text, tools, database, tasks."""

    root: Path
    """The pack's folder (the one holding `domain.yaml`)."""
    repository: Path
    """The folder Python tool paths are resolved against (see `load_pack`)."""
    name: str
    description: str
    version: str
    policy: str
    clock: str | None = None
    """The simulated current time, ISO 8601 (`now` in expressions)."""
    sync: str | None = None
    """`file.py:function` run as `function(db, user_db)` after each successful tool call."""
    tools: tuple[ToolSpec, ...]
    user_tools: tuple[ToolSpec, ...] = ()
    database: Tables = field(default_factory=dict)
    user_database: Tables = field(default_factory=dict)
    tasks: tuple[Task, ...] = ()
    user_simulator: UserSimulatorSpec = field(default_factory=UserSimulatorSpec)
    """The guidelines and prompt layout the pack gives the user simulator."""
    rules: tuple[AnyRule, ...] = ()
    """The policy rules checked over every episode (`rules.yaml`)."""

    def tool(self, name: str) -> ToolSpec:
        """The agent tool called `name`; KeyError names the tools there are."""
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(
            f"no tool {name!r} in domain {self.name!r}; it has: {self._names(self.tools)}"
        )

    def task(self, task_id: str) -> Task:
        """The task with this id; KeyError names the tasks there are."""
        for task in self.tasks:
            if task.id == task_id:
                return task
        ids = ", ".join(t.id for t in self.tasks)
        raise KeyError(f"no task {task_id!r} in domain {self.name!r}; it has: {ids}")

    def rules_for(self, task: Task) -> tuple[AppliedRule, ...]:
        """The rules checked over `task`'s episodes: the pack's, less those the task switches
        off, then the task's own."""
        return rules_for(self.rules, task.rules)

    def confirmations_for(self, task: Task) -> dict[str, tuple[ConfirmationRule, ...]]:
        """Tool name -> the `confirmation` rules of `task` that ask a yes before calling it."""
        return confirmations(self.rules_for(task), self.tools)

    @functools.cached_property
    def content_hash(self) -> str:
        """sha256 of everything that affects a run, the Python files it names included: changes
        whenever the pack's meaning does (computed once per loaded pack)."""
        return content_hash(self)

    @functools.cached_property
    def content_parts(self) -> dict[str, str]:
        """A hash per part (`the tasks`, `tools/hotel.py`, ...): what a refusal to resume names."""
        return content_parts(self)

    def __post_init__(self) -> None:
        # Read now, so that the hash describes the Python files as they were when the pack was
        # loaded, not as they are whenever it is first asked for.
        _ = self.python_digests

    @functools.cached_property
    def python_files(self) -> tuple[str, ...]:
        """The Python files the pack names, relative to `repository`, sorted."""
        return tuple(python_references(self))

    @functools.cached_property
    def python_digests(self) -> dict[str, str]:
        """sha256 of each of `python_files` as loaded (`unreadable` for one that could not be
        read: the loader has reported it already)."""
        return python_digests(self)

    @staticmethod
    def _names(tools: tuple[ToolSpec, ...]) -> str:
        return ", ".join(t.name for t in tools) or "(none)"
