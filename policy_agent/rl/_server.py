"""`serve-env`: a `TrainerSimulation` over HTTP, many episodes at once, each with its own id.

The bodies are `policy_agent.rl._schemas`' models. An episode that ends is freed with its last
step's answer; one whose client stops stepping is closed after `idle_timeout_s` without a
request, so an abandoned episode does not hold its user simulator or database forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from policy_agent.records import TokenTrace
from policy_agent.rl._episode import (
    AgentCompletion,
    EnvError,
    LiveEpisode,
    StepOutcome,
    TrainerSimulation,
)
from policy_agent.rl._info import observation, step_info
from policy_agent.rl._schemas import (
    CloseRequest,
    CompletionBody,
    ErrorResponse,
    ObservationBody,
    ResetRequest,
    ResetResponse,
    StepRequest,
    StepResponse,
    TasksResponse,
)

_Body = TypeVar("_Body", bound=BaseModel)

SCHEMAS: tuple[type[BaseModel], ...] = (
    ResetRequest,
    StepRequest,
    CloseRequest,
    CompletionBody,
    ResetResponse,
    StepResponse,
    ObservationBody,
    TasksResponse,
    ErrorResponse,
)
"""The bodies `GET /v1/schemas` describes (JSON Schema, by model name)."""


@dataclass(kw_only=True)
class _Held:
    episode: LiveEpisode
    used: float


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class EnvServer:
    """The HTTP routes over one simulation, and the episodes in play."""

    def __init__(
        self,
        simulation: TrainerSimulation,
        *,
        idle_timeout_s: float = 600.0,
        max_episodes: int = 4096,
    ) -> None:
        self.simulation = simulation
        self.idle_timeout_s = idle_timeout_s
        self.max_episodes = max_episodes
        self._held: dict[str, _Held] = {}

    @property
    def episodes(self) -> int:
        """Episodes in play."""
        return len(self._held)

    def app(self) -> web.Application:
        """The aiohttp application (the reaper of idle episodes runs while it does)."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_get("/v1/tasks", self._tasks)
        app.router.add_get("/v1/schemas", self._schemas)
        app.router.add_post("/v1/reset", self._reset)
        app.router.add_post("/v1/step", self._step)
        app.router.add_post("/v1/close", self._close)
        app.router.add_get("/health", self._health)
        app.cleanup_ctx.append(self._reaper)
        return app

    async def _reaper(self, app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(self._reap_forever())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for held in list(self._held.values()):
            await held.episode.aclose()
        self._held.clear()
        await self.simulation.aclose()

    async def _reap_forever(self) -> None:
        pause = max(0.05, min(self.idle_timeout_s / 4, 5.0))
        while True:
            await asyncio.sleep(pause)
            await self.reap()

    async def reap(self) -> int:
        """Close the episodes idle for longer than `idle_timeout_s`; how many."""
        now = time.monotonic()
        idle = [k for k, h in self._held.items() if now - h.used > self.idle_timeout_s]
        for key in idle:
            held = self._held.pop(key)
            await held.episode.aclose()
        return len(idle)

    async def _tasks(self, request: web.Request) -> web.Response:
        return _json(TasksResponse(tasks=list(self.simulation.tasks)))

    async def _schemas(self, request: web.Request) -> web.Response:
        return web.json_response({kind.__name__: kind.model_json_schema() for kind in SCHEMAS})

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "episodes": self.episodes})

    async def _reset(self, request: web.Request) -> web.Response:
        try:
            body = await _read(request, ResetRequest)
            if len(self._held) >= self.max_episodes:
                raise _Refused(
                    503,
                    f"the server holds its maximum of {self.max_episodes} episodes; close or "
                    "finish some (or start it with a larger --max-episodes)",
                )
            task = body.task
            if task is None:
                task = random.Random(body.seed).choice(list(self.simulation.tasks))
            try:
                episode, outcome = await self.simulation.start(task, body.trial)
            except EnvError as error:
                raise _Refused(404, str(error)) from None
        except _Refused as refused:
            return _error(refused.status, str(refused))
        key = uuid.uuid4().hex
        if episode.waiting:
            self._held[key] = _Held(episode=episode, used=time.monotonic())
        fields = _step_fields(outcome)
        return _json(ResetResponse(episode_id=key, **fields.model_dump()))

    async def _step(self, request: web.Request) -> web.Response:
        try:
            body = await _read(request, StepRequest)
            held = self._found(body.episode_id)
            held.used = time.monotonic()
            try:
                outcome = await held.episode.step(_completion(body.completion))
            except EnvError as error:
                raise _Refused(409, str(error)) from None
        except _Refused as refused:
            return _error(refused.status, str(refused))
        held.used = time.monotonic()
        if not held.episode.waiting:
            self._held.pop(body.episode_id, None)
        return _json(_step_fields(outcome))

    async def _close(self, request: web.Request) -> web.Response:
        try:
            body = await _read(request, CloseRequest)
            held = self._found(body.episode_id)
        except _Refused as refused:
            return _error(refused.status, str(refused))
        self._held.pop(body.episode_id, None)
        await held.episode.aclose()
        return web.json_response({"closed": True})

    def _found(self, key: str) -> _Held:
        held = self._held.get(key)
        if held is None:
            raise _Refused(
                404,
                f"no episode {key!r} in play: it ended, was closed, was idle longer than "
                f"{self.idle_timeout_s:g} s, or never existed; POST /v1/reset starts one",
            )
        return held


def env_app(simulation: TrainerSimulation, *, idle_timeout_s: float = 600.0) -> web.Application:
    """The `serve-env` application of `simulation`."""
    return EnvServer(simulation, idle_timeout_s=idle_timeout_s).app()


async def _read(request: web.Request, kind: type[_Body]) -> _Body:
    raw = await request.read()
    try:
        return kind.model_validate_json(raw or b"{}")
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}"
            for e in error.errors(include_url=False)
        )
        raise _Refused(400, f"{request.path}: not a {kind.__name__}: {problems}") from None


def _completion(given: str | CompletionBody) -> AgentCompletion:
    if isinstance(given, str):
        return AgentCompletion(text=given)
    tokens = None
    if given.completion_token_ids is not None or given.prompt_token_ids is not None:
        tokens = TokenTrace(
            prompt_token_ids=given.prompt_token_ids,
            completion_token_ids=given.completion_token_ids,
            completion_logprobs=given.completion_logprobs,
        )
    return AgentCompletion(text=given.text, finish_reason=given.finish_reason, tokens=tokens)


def _step_fields(outcome: StepOutcome) -> StepResponse:
    seen = observation(outcome)
    return StepResponse(
        observation=None if outcome.prompt is None else ObservationBody.model_validate(seen),
        reward=outcome.reward,
        terminated=outcome.terminated,
        truncated=outcome.truncated,
        info=step_info(outcome, as_json=True),
    )


def _json(body: BaseModel) -> web.Response:
    return web.Response(text=body.model_dump_json(), content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        text=ErrorResponse(error=message).model_dump_json(),
        content_type="application/json",
    )
