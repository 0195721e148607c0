"""The environment: a pack's tools, compiled once, and the episodes that call them.

`Environment.from_pack(pack)` checks and compiles every tool (expressions, argument schemas,
Python files) and wraps the pack's tables; `new_episode()` is then O(1) and an episode's memory
is only what it writes. Agent tools act on `database`, user tools on `user_database`; the pack's
`sync` hook, if any, runs after every call that succeeds. `new_episode(task)` starts from the
task's initial state, set once per task and copied for each episode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import queue
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from pydantic import JsonValue

from policy_agent.domain import (
    DomainPack,
    EnvAssertion,
    PythonImplementation,
    StepsImplementation,
    Task,
    ToolSpec,
)
from policy_agent.environment._arguments import ArgumentChecker
from policy_agent.environment._database import Database
from policy_agent.environment._errors import (
    AssertionCheckError,
    InitialStateError,
    ToolDefinitionError,
    ToolError,
)
from policy_agent.environment._initial import apply_initial_state
from policy_agent.environment._ops import DeclarativeTool, StepsTool
from policy_agent.environment._python_tools import PythonTool, load_function
from policy_agent.environment._records import Change
from policy_agent.expressions import (
    Expression,
    ExpressionError,
    ExpressionEvaluationError,
    Scope,
    compile_expression,
)
from policy_agent.records import Requestor, ToolResult

T = TypeVar("T")

TOOL_ERROR_PREFIX = "Error: "
"""What a failed call's result starts with, before the refusal's (or the crash's) message."""


@dataclass(frozen=True, kw_only=True)
class ToolOutcome:
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

    def record(self, call_id: str, name: str, *, requestor: Requestor = "assistant") -> ToolResult:
        """The conversation's record of this outcome of call `call_id` of tool `name`."""
        return ToolResult(
            call_id=call_id,
            name=name,
            content=self.content,
            error=self.error,
            requestor=requestor,
            changes=[change.recorded() for change in self.changes],
            crashed=self.crashed,
            detail=self.detail,
            duration_ms=self.duration_ms,
        )


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


SyncHook = Callable[[Database, Database], object]
"""A pack's `sync` hook: `function(db, user_db)`, run after every call that succeeds."""


@dataclass(frozen=True, kw_only=True)
class PreparedTool:
    """One tool of a pack, compiled: its argument checker and its implementation."""

    checker: ArgumentChecker
    implementation: DeclarativeTool | StepsTool | PythonTool

    def run(self, database: Database, arguments: Mapping[str, JsonValue]) -> JsonValue:
        """Check the arguments, fill in their defaults and run the tool on `database`.

        ToolError for bad arguments or a refusal; anything else the tool raises is a crash.
        """
        self.checker.check(arguments)
        return self.implementation.run(database, self.checker.with_defaults(arguments))


@dataclass(frozen=True, kw_only=True)
class _Start:
    """A task's initial state, set once; each episode of the task starts from copies of it."""

    database: Database
    user_database: Database
    history: tuple[ToolOutcome, ...]


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
        self._functions: dict[str, Callable[..., object]] = {}
        self._sync = load_function(pack.sync, pack.repository, owner="sync") if pack.sync else None
        self._starts: dict[str, _Start] = {}

    @classmethod
    def from_pack(cls, pack: DomainPack) -> Environment:
        """Compile every tool of the pack once; ToolDefinitionError names a tool that cannot run."""
        return cls(pack)

    @property
    def now(self) -> datetime | None:
        """The pack's clock (`clock:` in domain.yaml), or None."""
        return self._now

    @property
    def sync_hook(self) -> SyncHook | None:
        """The pack's sync hook, loaded, or None when it has none."""
        return self._sync

    def tool(self, name: str, requestor: Requestor = "assistant") -> PreparedTool:
        """The agent's (or, for `user`, the simulated user's) tool `name`; ToolError, naming the
        tools there are, when there is none (the model reads it as the call's result)."""
        tools = self._tools if requestor == "assistant" else self._user_tools
        tool = tools.get(name)
        if tool is None:
            raise ToolError(f"Tool '{name}' not found; the tools are: {', '.join(tools)}")
        return tool

    def function(self, reference: str) -> Callable[..., object]:
        """A Python function of the pack (`file.py:function`: env assertions, initial actions),
        loaded once; ToolDefinitionError when it cannot be."""
        if reference not in self._functions:
            function = load_function(reference, self.pack.repository, owner=reference)
            self._functions[reference] = function
        return self._functions[reference]

    def assertion_check(self, source: str) -> Expression:
        """An env assertion's `check`, compiled once (it may use `now`); ExpressionError if bad."""
        if source not in self._assertions:
            self._assertions[source] = compile_expression(source, names=("now",))
        return self._assertions[source]

    def new_episode(self, task: Task | None = None) -> EpisodeEnvironment:
        """A fresh episode at the pack's initial state, or at `task`'s when it has one.

        O(1) at the pack's state (everything compiled and the tables are shared); a task's
        initial state is set on its first episode and copied for the next ones.
        InitialStateError names the step of the task's initial state that failed.
        """
        if task is None or task.initial_state is None:
            return EpisodeEnvironment(
                self, database=self._database.fresh(), user_database=self._user_database.fresh()
            )
        start = self._starts.get(task.id)
        if start is None:
            episode = self.new_episode()
            history = apply_initial_state(episode, task, function=self.function)
            start = _Start(
                database=episode.database, user_database=episode.user_database, history=history
            )
            self._starts[task.id] = start
        return EpisodeEnvironment(
            self,
            database=start.database.copy(),
            user_database=start.user_database.copy(),
            history=start.history,
        )

    def replay(self, calls: Iterable[RecordedCall], task: Task | None = None) -> EpisodeEnvironment:
        """A fresh episode (at `task`'s initial state) on which `calls` were made in order,
        failing calls included."""
        episode = self.new_episode(task)
        for call in calls:
            if call.requestor not in ("assistant", "user"):
                raise ValueError(
                    f"call {call.name}: requestor {call.requestor!r} is not assistant or user"
                )
            requestor: Requestor = "user" if call.requestor == "user" else "assistant"
            episode.call(call.name, call.arguments, requestor=requestor)
        return episode

    def _prepare(self, spec: ToolSpec) -> PreparedTool:
        implementation = spec.implementation
        compiled: DeclarativeTool | StepsTool | PythonTool
        if isinstance(implementation, PythonImplementation):
            compiled = PythonTool(spec, implementation, self.pack.repository)
        elif isinstance(implementation, StepsImplementation):
            compiled = StepsTool(spec, implementation, now=self._now)
        else:
            compiled = DeclarativeTool(spec, implementation, now=self._now)
        return PreparedTool(checker=ArgumentChecker(spec), implementation=compiled)


class EpisodeEnvironment:
    """One episode's databases and the tool calls made on them."""

    def __init__(
        self,
        environment: Environment,
        *,
        database: Database,
        user_database: Database,
        history: tuple[ToolOutcome, ...] = (),
    ) -> None:
        """Made by `Environment.new_episode`."""
        self.environment = environment
        self.database = database
        """The agent's database."""
        self.user_database = user_database
        """The simulated user's database (dual control)."""
        self.history = history
        """The results of the tool calls in the task's message history, made at the start."""
        self.initial_database = database.copy()
        """The agent's database as the episode started (the task's initial state)."""
        self.initial_user_database = user_database.copy()

    async def run(
        self,
        name: str,
        arguments: Mapping[str, JsonValue],
        *,
        requestor: Requestor = "assistant",
        timeout_s: float | None = None,
    ) -> ToolOutcome:
        """Run one tool call as `call` does, without blocking the event loop on Python code.

        A declarative tool runs here (it is a few dict lookups). A Python tool runs in a worker
        thread on copies of the databases, so that one which blocks (a `time.sleep`, a slow
        database of its own) stalls neither the other episodes nor this episode's deadline:
        past `timeout_s` it is abandoned, its copies with it, and the call is a crashed tool
        error naming the tool and the limit; the episode's databases stay as they were. A tool
        that returns in time has its writes taken over (`Database.absorb`).
        """
        try:
            implementation = self.environment.tool(name, requestor).implementation
        except ToolError:
            implementation = None
        if not isinstance(implementation, PythonTool):
            return self.call(name, arguments, requestor=requestor)
        detached = EpisodeEnvironment.__new__(EpisodeEnvironment)
        detached.environment = self.environment
        detached.database = self.database.copy()
        detached.user_database = self.user_database.copy()
        detached.history = self.history
        start = time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for can swallow a cancellation (Ctrl-C)
            # that arrives as the work finishes.
            async with asyncio.timeout(timeout_s):
                outcome = await _off_the_loop(
                    lambda: detached.call(name, arguments, requestor=requestor)
                )
        except TimeoutError:
            limit = f"{timeout_s:g} s"
            return ToolOutcome(
                content=f"{TOOL_ERROR_PREFIX}the tool {name} did not return within {limit}",
                error=True,
                crashed=True,
                detail=(
                    f"The Python tool {name} ({implementation.reference}) was still running "
                    f"after {limit} (tool_timeout_s) and was abandoned; its writes were dropped. "
                    "A tool must not block: give it its own timeouts, or raise tool_timeout_s "
                    "in the run config."
                ),
                duration_ms=_since(start),
            )
        self.database.absorb(detached.database)
        self.user_database.absorb(detached.user_database)
        return outcome

    def call(
        self,
        name: str,
        arguments: Mapping[str, JsonValue],
        *,
        requestor: Requestor = "assistant",
    ) -> ToolOutcome:
        """Run one tool call; never raises: failures are error results the model can read."""
        start = time.perf_counter()
        database = self.database if requestor == "assistant" else self.user_database
        savepoint = database.savepoint()
        other = self.user_database if requestor == "assistant" else self.database
        other_savepoint = other.savepoint()
        try:
            tool = self.environment.tool(name, requestor)
            if not isinstance(arguments, Mapping):
                raise ToolError(f"the arguments of {name} must be a JSON object")
            value = tool.run(database, arguments)
            content = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            sync = self.environment.sync_hook
            if sync is not None:
                sync(self.database, self.user_database)
        except ToolError as error:
            message, detail = error.message, None
        except ExpressionEvaluationError as error:
            message, detail = error.message, str(error)
        except Exception as error:
            message, detail = str(error) or type(error).__name__, traceback.format_exc()
        else:
            return ToolOutcome(
                content=content,
                value=value,
                changes=database.changes[savepoint:],
                duration_ms=_since(start),
            )
        database.rollback(savepoint)
        other.rollback(other_savepoint)
        return ToolOutcome(
            content=f"{TOOL_ERROR_PREFIX}{message}",
            error=True,
            crashed=detail is not None,
            detail=detail,
            duration_ms=_since(start),
        )

    def sync(self, where: str = "sync") -> None:
        """Run the pack's sync hook (if any) on the two databases; InitialStateError if it fails
        (it is run this way only while a task's initial state is set)."""
        sync = self.environment.sync_hook
        if sync is None:
            return
        try:
            sync(self.database, self.user_database)
        except Exception as error:
            raise InitialStateError(
                f"{where}: the sync hook {self.environment.pack.sync} raised "
                f"{type(error).__name__}: {error}"
            ) from error

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
            check = self.environment.assertion_check(assertion.check)
            scope = Scope(variables={}, tables=database.reader, now=self.environment.now)
            return check.holds(scope)
        except ExpressionError as error:
            raise AssertionCheckError(f"env assertion {assertion.check!r}: {error}") from None

    def _python_assertion(
        self, assertion: EnvAssertion, reference: str, database: Database
    ) -> bool:
        """tau2-bench's kind: `function(db, **arguments) == assert_value`; it may not write."""
        try:
            function = self.environment.function(reference)
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


class _PackCodeWorkers:
    """Daemon threads that run pack code (Python tools) off the event loop.

    Not the loop's default executor: a tool that never returns would hold one of its few
    workers for good (delaying the run's appends, which go there) and hold up the process's
    exit, as `concurrent.futures` joins its threads at exit. Here a worker is started only when
    none is idle, so a hung tool costs one thread and nothing else waits behind it.
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            start = self._idle == 0
            if not start:
                self._idle -= 1  # that worker is this job's
        if start:
            threading.Thread(target=self._work, name="policy-agent-tool", daemon=True).start()
        self._jobs.put(job)

    def _work(self) -> None:
        while True:
            self._jobs.get()()
            with self._lock:
                self._idle += 1


_WORKERS = _PackCodeWorkers()


async def _off_the_loop(work: Callable[[], T]) -> T:
    """`work()` on a pack-code worker thread, awaited. Abandoning the await (a deadline, a
    cancellation) leaves the work to finish on its own; its result is dropped."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: tuple[T] | BaseException) -> None:
        if future.done():  # abandoned
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result[0])

    def job() -> None:
        result: tuple[T] | BaseException
        try:
            result = (work(),)
        except BaseException as raised:  # handed to the awaiting task, not lost in the thread
            result = raised
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile: nobody waits
            loop.call_soon_threadsafe(settle, result)

    _WORKERS.submit(job)
    return await future
