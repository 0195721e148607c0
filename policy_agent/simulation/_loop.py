"""One episode: the user and the agent take turns, tools run, and the ending is decided.

```
greeting (optional) -> user -> agent -> [tool call -> result -> agent ...] -> user -> ...
```
Every record appended counts as one step towards `max_steps` (the greeting, each message, each
tool call and each tool result: tau2-bench counts every hop the same way). A task with a message
history starts from it instead of the greeting: whoever would speak after its last message goes
first, and its records count towards no limit. Steps are checked
before a participant is asked for a turn, never between a call and its result. Whatever happens
inside, `run_episode` returns an `Episode` holding everything recorded up to the end: an
exception becomes `infrastructure_error` with its traceback, so one episode never stops a run.
An episode whose time limit passes while the agent or the user is waiting for its model's
answer ends as `infrastructure_error` too (a hung server is not the agent's doing); only a
limit that passes elsewhere is the episode's own `timeout`.
"""

from __future__ import annotations

import asyncio
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, assert_never

from pydantic import JsonValue

from policy_agent.agent import AgentModelError, AgentStep, GaveUpStep, MessageStep, ToolCallStep
from policy_agent.environment import HASH_SCHEME, Database, EpisodeEnvironment
from policy_agent.errors import PolicyAgentError
from policy_agent.records import (
    AgentMessage,
    ConversationRecord,
    DatabaseState,
    Episode,
    EpisodeEvent,
    ErrorEvent,
    EventRole,
    Requestor,
    RoleTotals,
    TerminationReason,
    UserMessage,
    UserToolCall,
    ViolationEvent,
    episode_session,
    now,
)
from policy_agent.simulation._history import agent_moves_first
from policy_agent.user import (
    StopSignal,
    UserGaveUp,
    UserModelError,
    UserSimulator,
    stop_signal,
)

_STOPS: dict[StopSignal, TerminationReason] = {
    "stop": TerminationReason.USER_STOP,
    "transfer": TerminationReason.TRANSFER,
    "out_of_scope": TerminationReason.OUT_OF_SCOPE,
}


class AgentPlayer(Protocol):
    """What the loop needs of an agent: `Agent` and `OracleAgent` both are one."""

    async def act(
        self,
        history: Sequence[ConversationRecord],
        *,
        seed: int | None = None,
        session: str | None = None,
    ) -> AgentStep:
        """The agent's next turn after `history`."""
        ...


@dataclass(frozen=True, kw_only=True)
class EpisodeLimits:
    """When an episode is cut short, and how it opens."""

    max_steps: int
    """Records (messages, tool calls, tool results) before the episode ends as max_steps."""
    max_errors: int
    """Tool calls returning an error before the episode ends as too_many_errors."""
    timeout_s: float | None = None
    """Wall-clock limit of the whole episode (None: no limit)."""
    tool_timeout_s: float | None = None
    """Wall-clock limit of one Python tool call (None: no limit); see `EpisodeEnvironment.run`."""
    greeting: str | None = None
    """The agent's fixed first message; None lets the user speak first."""


class EpisodeTimeout(PolicyAgentError):
    """The episode's time limit passed while a role waited for its model's answer."""


class _End(Exception):
    """Ends the loop with a reason (raised from deep inside a turn)."""

    def __init__(self, reason: TerminationReason, error: str | None = None) -> None:
        self.reason = reason
        self.error = error
        super().__init__(reason.value)


@dataclass(kw_only=True)
class _Transcript:
    """What the episode has recorded so far; kept whole whatever ends it."""

    messages: list[ConversationRecord] = field(default_factory=list)
    events: list[EpisodeEvent] = field(default_factory=list)
    totals: dict[str, RoleTotals] = field(default_factory=dict)
    tool_errors: int = 0
    given: int = 0
    """How many of `messages` are the task's history."""

    @property
    def steps(self) -> int:
        return len(self.messages) - self.given

    def count(self, role: str, more: RoleTotals) -> None:
        old = self.totals.get(role, RoleTotals())
        costs = [c for c in (old.cost_usd, more.cost_usd) if c is not None]
        self.totals[role] = RoleTotals(
            calls=old.calls + more.calls,
            prompt_tokens=old.prompt_tokens + more.prompt_tokens,
            completion_tokens=old.completion_tokens + more.completion_tokens,
            latency_ms=old.latency_ms + more.latency_ms,
            cost_usd=sum(costs) if costs else None,
        )


async def run_episode(
    *,
    task_id: str,
    trial: int,
    seed: int,
    agent: AgentPlayer,
    user: UserSimulator,
    environment: EpisodeEnvironment,
    limits: EpisodeLimits,
    history: Sequence[ConversationRecord] = (),
    on_agent_tokens: Callable[[int], None] | None = None,
) -> Episode:
    """Play one episode to its end and return it (never raises, except on cancellation).

    `seed` goes with every model call of the episode, and its session id (`episode_session`).
    `history` is the task's message history (see `history_records`), with `environment`
    already at the task's initial state.
    `on_agent_tokens` is told the completion tokens of each agent turn as it happens (for a
    live tokens-per-second display).
    """
    started_at, start = now(), time.perf_counter()
    # The history is there when the episode starts: stamped with its start, not before it.
    given = [record.model_copy(update={"timestamp": started_at}) for record in history]
    transcript = _Transcript(messages=given, given=len(given))
    loop = _Loop(
        transcript=transcript,
        seed=seed,
        session=episode_session(task_id, trial, seed),
        agent=agent,
        user=user,
        environment=environment,
        limits=limits,
        on_agent_tokens=on_agent_tokens,
    )
    reason, error = TerminationReason.INFRASTRUCTURE_ERROR, None
    deadline = asyncio.timeout(limits.timeout_s)
    try:
        async with deadline:
            await loop.play()
    except _End as end:
        reason, error = end.reason, end.error
    except Exception as raised:
        # A TimeoutError is the episode's own limit only if that deadline passed.
        if isinstance(raised, TimeoutError) and deadline.expired():
            reason, error = loop.out_of_time(deadline.when())
        else:
            reason, error = _failure(raised, transcript)
    return Episode(
        task_id=task_id,
        trial=trial,
        seed=seed,
        termination_reason=reason,
        started_at=started_at,
        ended_at=now(),
        duration_s=time.perf_counter() - start,
        messages=transcript.messages,
        initial_messages=transcript.given,
        events=transcript.events,
        totals=transcript.totals,
        steps=transcript.steps,
        tool_errors=transcript.tool_errors,
        database=database_state(environment.database, environment.initial_database),
        user_database=(
            database_state(environment.user_database, environment.initial_user_database)
            if environment.user_database.tables()
            else None
        ),
        error=error,
    )


def _failure(raised: Exception, transcript: _Transcript) -> tuple[TerminationReason, str]:
    """The ending for an exception out of a turn, with its events kept in the transcript."""
    match raised:
        case AgentModelError():
            transcript.events += raised.events
            transcript.events.append(error_event("agent", raised.error))
            return TerminationReason.INFRASTRUCTURE_ERROR, str(raised).splitlines()[0]
        case UserModelError():
            transcript.events += raised.events
            transcript.count("user", raised.totals)
            transcript.events.append(error_event("user", raised.error))
            return TerminationReason.INFRASTRUCTURE_ERROR, str(raised).splitlines()[0]
        case UserGaveUp():
            transcript.events += raised.events
            transcript.count("user", raised.totals)
            transcript.events.append(error_event("user", raised))
            return TerminationReason.USER_ERROR, str(raised)
    # Anything else is a bug (ours or a plug-in's): keep the traceback for the report.
    transcript.events.append(error_event("runner", raised, with_traceback=True))
    return TerminationReason.INFRASTRUCTURE_ERROR, f"{type(raised).__name__}: {raised}"


def error_event(role: EventRole, error: Exception, *, with_traceback: bool = False) -> ErrorEvent:
    """The event recording `error` (call `with_traceback` inside the `except` that caught it)."""
    detail = traceback.format_exc() if with_traceback else None
    return ErrorEvent(role=role, error_type=type(error).__name__, message=str(error), detail=detail)


def database_state(database: Database, initial: Database | None = None) -> DatabaseState:
    """The hashes of `initial` (default: the pack's tables) and of `database`, and the records
    that differ between them."""
    start = initial if initial is not None else database.fresh()
    return DatabaseState(
        initial_hash=start.content_hash(),
        final_hash=database.content_hash(),
        hash_scheme=HASH_SCHEME,
        diff=[change.recorded() for change in database.diff(start)],
    )


@dataclass(kw_only=True)
class _Loop:
    """The turn-taking itself; the limits are checked in `_check_limits`, before every turn."""

    transcript: _Transcript
    seed: int
    session: str
    """Every model call of the episode carries it, so that one replica serves them all."""
    agent: AgentPlayer
    user: UserSimulator
    environment: EpisodeEnvironment
    limits: EpisodeLimits
    on_agent_tokens: Callable[[int], None] | None
    waiting: EventRole | None = None
    """The role whose model the episode is waiting for (None between turns)."""
    waiting_since: float = 0.0
    """When that wait began (event-loop time)."""

    def out_of_time(self, limit_at: float | None) -> tuple[TerminationReason, str]:
        """The ending when the episode's time limit (at loop time `limit_at`) passed, and why."""
        limit = self.limits.timeout_s
        role = self.waiting
        # A limit that had passed before the wait began (a tool that blocked the loop) is
        # the episode's own.
        if role is None or limit_at is None or self.waiting_since >= limit_at:
            return TerminationReason.TIMEOUT, f"the episode took longer than its limit of {limit} s"
        waited = asyncio.get_running_loop().time() - self.waiting_since
        error = (
            f"the episode reached its limit of {limit} s while waiting {waited:.1f} s for the "
            f"{role} model's answer: a call that outlasts the episode is the server's failure "
            "(hung, or far too slow), not the agent's"
        )
        self.transcript.events.append(
            ErrorEvent(role=role, error_type=EpisodeTimeout.__name__, message=error)
        )
        return TerminationReason.INFRASTRUCTURE_ERROR, error

    def _ask(self, role: EventRole) -> None:
        self.waiting, self.waiting_since = role, asyncio.get_running_loop().time()

    async def play(self) -> None:
        messages = self.transcript.messages
        if not messages and self.limits.greeting is not None:
            messages.append(AgentMessage(content=self.limits.greeting))
        last = messages[-1] if messages else None
        if isinstance(last, UserMessage):
            stop = stop_signal(last.content)
            if stop is not None:
                raise _End(_STOPS[stop])
        if agent_moves_first(messages):
            await self._agent_turns()
        while True:
            await self._user_turn()
            await self._agent_turns()

    async def _user_turn(self) -> None:
        """Ask the user until it says something to the agent (its own tool calls run between)."""
        while True:
            self._check_limits()
            self._ask("user")
            step = await self.user.respond(
                self.transcript.messages, seed=self.seed, session=self.session
            )
            self.waiting = None
            self.transcript.events += step.events
            self.transcript.count("user", step.totals)
            record = step.record
            self.transcript.messages.append(record)
            if isinstance(record, UserToolCall):
                await self._run_tool(record.call_id, record.name, record.arguments, "user")
            elif step.stop is not None:
                raise _End(_STOPS[step.stop])
            else:
                return

    async def _agent_turns(self) -> None:
        """Ask the agent until it says something to the user (its tool calls run between)."""
        while True:
            self._check_limits()
            self._ask("agent")
            step = await self.agent.act(
                self.transcript.messages, seed=self.seed, session=self.session
            )
            self.waiting = None
            self.transcript.events += step.events
            self._count_agent(step)
            match step:
                case MessageStep():
                    self.transcript.messages.append(step.record)
                    return
                case ToolCallStep():
                    record = step.record
                    self.transcript.messages.append(record)
                    await self._run_tool(record.call_id, record.name, record.arguments, "assistant")
                case GaveUpStep():
                    raise _End(
                        TerminationReason.AGENT_ERROR,
                        "the agent did not give one action and its violation strategy gave up: "
                        f"{step.turn.detail}",
                    )
                case _:
                    assert_never(step)

    async def _run_tool(
        self, call_id: str, name: str, arguments: Mapping[str, JsonValue], requestor: Requestor
    ) -> None:
        result = await self.environment.run(
            name, arguments, requestor=requestor, timeout_s=self.limits.tool_timeout_s
        )
        self.transcript.messages.append(result.record(call_id, name, requestor=requestor))
        if result.error:
            self.transcript.tool_errors += 1

    def _check_limits(self) -> None:
        limits, transcript = self.limits, self.transcript
        if transcript.tool_errors >= limits.max_errors:
            raise _End(
                TerminationReason.TOO_MANY_ERRORS,
                f"{transcript.tool_errors} tool calls returned errors (max_errors: "
                f"{limits.max_errors})",
            )
        if transcript.steps >= limits.max_steps:
            raise _End(
                TerminationReason.MAX_STEPS,
                f"the episode reached max_steps ({limits.max_steps} records)",
            )

    def _count_agent(self, step: AgentStep) -> None:
        # One call per attempt that came back: the kept one and any rejected ones (a kept
        # first call shares its attempt with its violation event).
        attempts = {e.generation.attempt for e in step.events if isinstance(e, ViolationEvent)}
        kept = None if isinstance(step, GaveUpStep) else step.record.generation
        if kept is not None:
            attempts.add(kept.attempt)
        usage = step.usage
        self.transcript.count(
            "agent",
            RoleTotals(
                calls=len(attempts),
                prompt_tokens=usage.prompt_tokens,
                completion_tokens=usage.completion_tokens,
                latency_ms=step.latency_ms,
            ),
        )
        if self.on_agent_tokens is not None:
            self.on_agent_tokens(usage.completion_tokens)
