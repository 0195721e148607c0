"""The environment: a pack's tools, compiled once, and the episodes that call them.

`Environment.from_pack(pack)` checks and compiles every tool (expressions, argument schemas,
Python files) and wraps the pack's tables; `new_episode()` is then O(1) and an episode's memory
is only what it writes. Agent tools act on `database`, user tools on `user_database`.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pydantic import JsonValue

from policy_agent.domain import DomainPack, EnvAssertion, PythonImplementation, ToolSpec
from policy_agent.environment._arguments import ArgumentChecker
from policy_agent.environment._database import Database
from policy_agent.environment._errors import AssertionCheckError, ToolDefinitionError, ToolError
from policy_agent.environment._ops import DeclarativeTool
from policy_agent.environment._python_tools import PythonTool, load_function
from policy_agent.environment._records import Change
from policy_agent.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    Scope,
    compile_expression,
)

Requestor = Literal["assistant", "user"]
"""Who calls a tool: the agent (on the agent database) or the simulated user (on the user's)."""


@dataclass(frozen=True, kw_only=True)
class ToolResult:
    """What one tool call gave."""

    content: str
    """What the model reads. A string result as it is (as in tau2-bench), any other result as
    `json.dumps(value, ensure_ascii=False)`, an error as `Error: {message}`."""
    value: JsonValue = None
    """The result as JSON values (None for an error)."""
    error: bool = False
    """The call failed; it changed nothing (its writes, if any, were undone)."""
    crashed: bool = False
    """The failure was not a refusal (`ToolError`) but a bug to fix: an exception in a Python
    tool, an expression that failed, a result that is not JSON."""
    detail: str | None = None
    """For a crash, the traceback or the failing expression; for logs, never shown to the model."""
    changes: tuple[Change, ...] = ()
    """The writes the call made, in order."""
    duration_ms: float = 0.0


@dataclass(frozen=True, kw_only=True)
class DatabaseHashes:
    """The content hashes of both databases; equal hashes mean equal states (the DB reward)."""

    agent: str
    user: str


class RecordedCall(Protocol):
    """A tool call to replay: a trajectory's tool calls and the task's actions have this shape."""

    @property
    def name(self) -> str: ...

    @property
    def arguments(self) -> Mapping[str, JsonValue]: ...

    @property
    def requestor(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class _Tool:
    checker: ArgumentChecker
    implementation: DeclarativeTool | PythonTool


class Environment:
    """A domain pack's tools, compiled, with its initial databases; makes episodes."""

    def __init__(self, pack: DomainPack) -> None:
        """Prefer `Environment.from_pack`."""
        self.pack = pack
        self._now = _clock(pack.clock)
        self._tools = {t.name: self._prepare(t) for t in pack.tools}
        self._user_tools = {t.name: self._prepare(t) for t in pack.user_tools}
        self._database = Database(pack.database, now=self._now)
        self._user_database = Database(pack.user_database, now=self._now)
        self._assertions: dict[str, Expression] = {}
        self._assertion_functions: dict[str, Callable[..., object]] = {}

    @classmethod
    def from_pack(cls, pack: DomainPack) -> Environment:
        """Compile every tool of the pack once; ToolDefinitionError names a tool that cannot run."""
        return cls(pack)

    def new_episode(self) -> EpisodeEnvironment:
        """A fresh episode at the pack's initial state, sharing everything compiled: O(1)."""
        return EpisodeEnvironment(
            self, database=self._database.fresh(), user_database=self._user_database.fresh()
        )

    def replay(self, calls: Iterable[RecordedCall]) -> EpisodeEnvironment:
        """A fresh episode on which `calls` were made in order (failing calls included)."""
        episode = self.new_episode()
        for call in calls:
            if call.requestor not in ("assistant", "user"):
                raise ValueError(
                    f"call {call.name}: requestor {call.requestor!r} is not assistant or user"
                )
            requestor: Requestor = "user" if call.requestor == "user" else "assistant"
            episode.call(call.name, call.arguments, requestor=requestor)
        return episode

    def _prepare(self, spec: ToolSpec) -> _Tool:
        implementation = spec.implementation
        compiled = (
            PythonTool(spec, implementation, self.pack.repository)
            if isinstance(implementation, PythonImplementation)
            else DeclarativeTool(spec, implementation, now=self._now)
        )
        return _Tool(checker=ArgumentChecker(spec), implementation=compiled)

    def _assertion_function(self, reference: str) -> Callable[..., object]:
        if reference not in self._assertion_functions:
            function = load_function(reference, self.pack.repository, owner="env assertion")
            self._assertion_functions[reference] = function
        return self._assertion_functions[reference]

    def _assertion(self, source: str) -> Expression:
        if source not in self._assertions:
            self._assertions[source] = compile_expression(source, names=("now",))
        return self._assertions[source]


class EpisodeEnvironment:
    """One episode's databases and the tool calls made on them."""

    def __init__(
        self, environment: Environment, *, database: Database, user_database: Database
    ) -> None:
        """Made by `Environment.new_episode`."""
        self.environment = environment
        self.database = database
        """The agent's database."""
        self.user_database = user_database
        """The simulated user's database (dual control)."""

    def call(
        self,
        name: str,
        arguments: Mapping[str, JsonValue],
        *,
        requestor: Requestor = "assistant",
    ) -> ToolResult:
        """Run one tool call; never raises: failures are error results the model can read."""
        start = time.perf_counter()
        environment = self.environment
        tools = environment._tools if requestor == "assistant" else environment._user_tools
        database = self.database if requestor == "assistant" else self.user_database
        savepoint = database.savepoint()
        try:
            tool = tools.get(name)
            if tool is None:
                raise ToolError(f"Tool '{name}' not found; the tools are: {', '.join(tools)}")
            if not isinstance(arguments, Mapping):
                raise ToolError(f"the arguments of {name} must be a JSON object")
            tool.checker.check(arguments)
            value = tool.implementation.run(database, tool.checker.with_defaults(arguments))
            content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        except ToolError as error:
            message, detail = error.message, None
        except EvaluationError as error:
            message, detail = error.message, str(error)
        except Exception as error:
            message, detail = str(error) or type(error).__name__, traceback.format_exc()
        else:
            return ToolResult(
                content=content,
                value=value,
                changes=database.changes[savepoint:],
                duration_ms=_since(start),
            )
        database.rollback(savepoint)
        return ToolResult(
            content=f"Error: {message}",
            error=True,
            crashed=detail is not None,
            detail=detail,
            duration_ms=_since(start),
        )

    def content_hash(self) -> DatabaseHashes:
        """The hashes of the agent and user databases (see `Database.content_hash`)."""
        return DatabaseHashes(
            agent=self.database.content_hash(), user=self.user_database.content_hash()
        )

    def evaluate_assertion(self, assertion: EnvAssertion) -> bool:
        """Whether the assertion holds on its database now (`env_type`: assistant or user).

        The check sees the tables (`lookup`, `find`, ...) and `now`. AssertionCheckError when it
        cannot be decided: a syntax error, or an evaluation that fails.
        """
        database = self.database if assertion.env_type == "assistant" else self.user_database
        if assertion.python is not None:
            return self._python_assertion(assertion, assertion.python, database)
        assert assertion.check is not None  # EnvAssertion holds exactly one of the two
        try:
            check = self.environment._assertion(assertion.check)
            scope = Scope(variables={}, tables=database.reader, now=self.environment._now)
            return check.holds(scope)
        except ExpressionError as error:
            raise AssertionCheckError(f"env assertion {assertion.check!r}: {error}") from None

    def _python_assertion(
        self, assertion: EnvAssertion, reference: str, database: Database
    ) -> bool:
        """tau2-bench's kind: `function(db, **arguments) == assert_value`; it may not write."""
        try:
            function = self.environment._assertion_function(reference)
            savepoint = database.savepoint()
            try:
                result = function(database, **assertion.arguments)
            finally:
                database.rollback(savepoint)
        except Exception as error:
            raise AssertionCheckError(
                f"env assertion {assertion.source}: {type(error).__name__}: {error}"
            ) from None
        if not isinstance(result, bool):
            raise AssertionCheckError(
                f"env assertion {assertion.source}: returned {type(result).__name__} "
                f"{result!r}; an assertion function returns True or False"
            )
        return result == assertion.assert_value


def _since(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _clock(clock: str | None) -> datetime | None:
    if clock is None:
        return None
    try:
        return datetime.fromisoformat(clock)
    except ValueError:
        raise ToolDefinitionError(
            f"clock: {clock!r} is not an ISO 8601 time; write it like 2025-06-04T09:00:00"
        ) from None
