"""The runner: a run's episodes on a bounded pool of asyncio workers, appended as each finishes.

```python
simulation = Simulation(config, pack)               # environment, one client per role, evaluator
store = RunStore.create(config.out, simulation.manifest())
tally = await simulation.run(store)                  # or after RunStore.resume: only what is left
```
`concurrency` workers take (task, trial) pairs from one shared iterator, so a run of 10,000
episodes never holds more than `concurrency` of them. One `LLMClient` per role serves every
episode; the per-episode state is the conversation and the copy-on-write database. Each episode
is evaluated and appended (fsynced, in a worker thread) the moment it ends: nothing is rewritten,
and a run stopped at any point keeps every episode that finished.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from pydantic import JsonValue

from policy_agent.agent import Agent
from policy_agent.domain import DomainPack, Task
from policy_agent.environment import Environment
from policy_agent.evaluation import Evaluator, JudgeRequired
from policy_agent.format import profile_named
from policy_agent.llm import LLMClient, ModelClient, ModelConfig, close_connections
from policy_agent.records import Episode, RoleTotals, TerminationReason
from policy_agent.simulation._config import (
    HASH_EXCLUDES,
    ConfigError,
    ModelAgentConfig,
    SimulationConfig,
)
from policy_agent.simulation._failures import RunStopped
from policy_agent.simulation._history import history_records
from policy_agent.simulation._loop import (
    AgentPlayer,
    EpisodeLimits,
    database_state,
    error_event,
    run_episode,
)
from policy_agent.simulation._oracle import BriefUser, OracleAgent
from policy_agent.simulation._processes import start_process_server
from policy_agent.simulation._progress import RunObserver, RunTally
from policy_agent.simulation._ray import RayStart
from policy_agent.simulation._seeds import episode_seed
from policy_agent.trajectory import (
    AgentServer,
    Resumption,
    RunManifest,
    RunStore,
    plan_resumption,
)
from policy_agent.user import UserSimulator, make_user

RecordEpisode = Callable[[Episode], Awaitable[None]]
"""What the runner does with each finished episode (append it, count it, show it)."""


@dataclass(frozen=True, kw_only=True)
class PlannedEpisode:
    """One (task, trial) of a run and its seed."""

    task: Task
    trial: int
    seed: int

    @property
    def key(self) -> tuple[str, int]:
        """What identifies it in the run (`Episode.key`)."""
        return (self.task.id, self.trial)


def plan(config: SimulationConfig, pack: DomainPack) -> list[PlannedEpisode]:
    """Every episode of the run, trial by trial (so early results cover every task).

    `ConfigError` for a task id the pack does not have, or a task without the script that a
    scripted user needs.
    """
    if config.tasks is None:
        tasks = list(pack.tasks)
    else:
        known = {task.id: task for task in pack.tasks}
        unknown = [task_id for task_id in config.tasks if task_id not in known]
        if unknown:
            raise ConfigError(
                f"tasks: {', '.join(unknown)} not in domain {pack.name!r}; its tasks are: "
                f"{', '.join(known)}"
            )
        tasks = [known[task_id] for task_id in config.tasks]
    if config.user.kind == "scripted" and not config.is_oracle:
        unscripted = [task.id for task in tasks if not task.user_scenario.script]
        if unscripted:
            raise ConfigError(
                f"user: the scripted user says each task's user_scenario.script, and "
                f"{', '.join(unscripted)} {'has' if len(unscripted) == 1 else 'have'} none; add "
                "scripts, leave those tasks out (tasks:), or use an llm user"
            )
    return [
        PlannedEpisode(task=task, trial=trial, seed=episode_seed(config.seed, task.id, trial))
        for trial in range(config.trials)
        for task in tasks
    ]


class Simulation:
    """One run's shared parts: the pack's environment, one model client per role, the evaluator.

    With the oracle agent, a task without a script gets the brief user (`BriefUser`) even when
    the config asks for a scripted one, so `check` and the demo run every task of any pack.
    """

    def __init__(
        self,
        config: SimulationConfig,
        pack: DomainPack,
        *,
        clients: Mapping[str, ModelClient] | None = None,
        agent_server: AgentServer | None = None,
    ) -> None:
        """Compile the pack and make the clients (litellm is loaded only if a role has a model).

        `clients` replaces the client of a role (`agent`, `user`, `judge`) by the caller's own,
        e.g. a `ScriptedModelClient` in a test; the others are `LLMClient`s of the config.
        `agent_server` is the agent's server profile (`detect_agent_server`), recorded in the
        manifest; without it the config's named profile, else the card minimum, is used.
        `ConfigError` when a task needs the judge and none is configured, or the plan is invalid.
        The executor's workers begin to start here, beside this loading: the fork server of
        `processes: N`, or Ray's join and actors (`RayStart`, ended by `aclose` if unplayed).
        """
        if clients and (config.processes > 1 or config.executor == "ray"):
            raise ConfigError(
                f"clients given to Simulation ({', '.join(sorted(clients))}) live in this "
                f"process and cannot serve {config.processes} worker processes; set "
                "`processes: 1` to use them"
            )
        if config.processes > 1 and config.executor == "local":
            start_process_server()  # its litellm import overlaps ours, below
        self.config = config
        self.pack = pack
        self.agent_server = agent_server
        self.episodes = plan(config, pack)
        self._ray_start: RayStart | None = None
        if config.executor == "ray":
            # Joining and the actors' loading overlap ours, below; `aclose` ends them unplayed.
            self._ray_start = self._new_ray_start()
        try:
            self._load(clients)
        except BaseException:
            if self._ray_start is not None:
                self._ray_start.end()
            raise

    def _load(self, clients: Mapping[str, ModelClient] | None) -> None:
        config, pack, agent_server = self.config, self.pack, self.agent_server
        self.environment = Environment.from_pack(pack)
        self._given = dict(clients or {})
        self._clients: list[ModelClient] = []
        self._agent: Agent | None = None
        if isinstance(config.agent, ModelAgentConfig):
            client = self._client(config.agent.model, "agent")
            profile = profile_named(agent_server.profile) if agent_server is not None else None
            self._agent = Agent.from_pack(pack, config.agent, client, profile)
        user_model = config.user.model
        self._user_client = self._client(user_model, "user") if user_model is not None else None
        judge = self._client(config.judge, "judge") if config.judge is not None else None
        try:
            self.evaluator = Evaluator(
                pack,
                environment=self.environment,
                judge=judge,
                task_ids=sorted({planned.task.id for planned in self.episodes}),
            )
        except JudgeRequired as error:
            raise ConfigError(str(error)) from None
        self.limits = EpisodeLimits(
            max_steps=config.max_steps,
            max_errors=config.max_errors,
            timeout_s=config.episode_timeout_s,
            tool_timeout_s=config.tool_timeout_s,
            greeting=config.greeting,
        )

    def _client(self, model: ModelConfig, role: str) -> ModelClient:
        given = self._given.get(role)
        client = given if given is not None else LLMClient(model, role=role)
        self._clients.append(client)
        return client

    def manifest(self) -> RunManifest:
        """The manifest of a new run of this simulation."""
        return RunManifest.start(
            config=self.config.as_json(),
            exclude=HASH_EXCLUDES,
            domain_name=self.pack.name,
            domain_hash=self.pack.content_hash,
            domain_parts=self.pack.content_parts,
            episodes_planned=len(self.episodes),
            agent_server=self.agent_server,
            constrain="none" if self._agent is None else self._agent.config.constrain,
            grammar_sha256=None if self._agent is None else self._agent.grammar_sha256,
        )

    def _new_ray_start(self) -> RayStart:
        return RayStart(self.config, self.worker_config(), self.pack, episodes=len(self.episodes))

    def take_ray_start(self) -> RayStart:
        """The Ray start made with this simulation, for its first play on Ray (a later play
        gets a new one); its actors end when that play does."""
        start, self._ray_start = self._ray_start, None
        return start if start is not None else self._new_ray_start()

    def worker_config(self) -> dict[str, JsonValue]:
        """The config runner processes and Ray actors play: with the profile this process
        detected named, so that no worker asks the server again or decides otherwise."""
        config = self.config.as_json()
        agent = config.get("agent")
        if self.agent_server is not None and isinstance(agent, dict):
            config["agent"] = {**agent, "server_profile": self.agent_server.profile}
        return config

    async def run(
        self,
        store: RunStore,
        observer: RunObserver | None = None,
        *,
        resumption: Resumption | None = None,
    ) -> RunTally:
        """Run the episodes `store` does not have yet and append each; finish the manifest.

        A resumed run also runs again the episodes lost to infrastructure, each appended as the
        next attempt of its (task, trial) (`resumption`, by default `plan_resumption`'s; give
        one made with `retry=False` to keep them). Returns the tally. Cancellation (Ctrl-C)
        stops the workers; every episode appended so far is on disk and `--resume` runs the
        rest. The config's executor plays the episodes (`executor_for`: here, in `processes`
        children, or on Ray actors) and they are appended here alone; `WorkerProcessFailed`
        when a child or an actor stopped for good (the manifest is then not finished). When
        one role fails `stop_after_infrastructure_failures` episodes in
        a row, no more are started and those still playing are dropped (they run again on
        resume): the tally's `stopped` says why, and the manifest is not finished.
        """
        resumption = resumption or plan_resumption(store.episodes_path)
        todo = [planned for planned in self.episodes if planned.key not in resumption.done]
        tally = RunTally(planned=len(self.episodes), already_done=len(self.episodes) - len(todo))
        streak_limit = self.config.stop_after_infrastructure_failures

        async def record(played: Episode) -> None:
            episode = resumption.next_attempt(played)
            # fsync in a thread: the event loop keeps serving the other episodes meanwhile.
            await asyncio.to_thread(store.append, episode)
            tally.add(episode)
            if observer is not None:
                observer.finished(episode)
            tally.failures.check_streak(streak_limit)

        from policy_agent.simulation._executor import executor_for

        if observer is not None:
            observer.started(tally)
        try:
            await executor_for(self, todo).play(todo, tally, record)
        except RunStopped as stopped:
            tally.stopped = stopped
        finally:
            if observer is not None:
                observer.stopped()
        if tally.stopped is None:
            store.finish()
        return tally

    async def play_all(
        self, todo: Sequence[PlannedEpisode], tally: RunTally, record: RecordEpisode
    ) -> None:
        """Play `todo` on `concurrency` workers, handing each finished episode to `record`."""
        pending = iter(todo)

        async def worker() -> None:
            # The iterator is shared: each worker takes the next episode when it is free.
            for planned in pending:
                await record(await self.play(planned, tally))

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(self.config.concurrency, len(todo))):
                    group.create_task(worker())
        except BaseExceptionGroup as failed:
            # Only recording can fail (episodes never raise): report the first reason plainly.
            raise failed.exceptions[0] from None

    async def play(
        self,
        planned: PlannedEpisode,
        tally: RunTally | None = None,
        *,
        agent: AgentPlayer | None = None,
    ) -> Episode:
        """Play and evaluate one episode; never raises (except on cancellation).

        `agent` plays instead of the run's own (`policy_agent.rl`: an agent whose completions
        come from a trainer); everything else is the run's.
        """
        task = planned.task

        def count_tokens(tokens: int) -> None:
            if tally is not None:
                tally.agent_tokens += tokens

        try:
            environment = self.environment.new_episode(task)
            episode = await run_episode(
                task_id=task.id,
                trial=planned.trial,
                seed=planned.seed,
                agent=agent if agent is not None else self._agent_for(task),
                user=self._user_for(task),
                environment=environment,
                limits=self.limits,
                history=history_records(task, environment.history),
                on_agent_tokens=count_tokens,
            )
        except Exception as error:
            episode = self._crashed(planned, error)
        return await self._evaluated(episode)

    def _agent_for(self, task: Task) -> AgentPlayer:
        if self._agent is not None:
            return self._agent
        return OracleAgent(
            task,
            confirmations=self.pack.confirmations_for(task),
            kinds={tool.name: tool.kind for tool in self.pack.tools},
        )

    def _user_for(self, task: Task) -> UserSimulator:
        if self.config.is_oracle and not task.user_scenario.script:
            return BriefUser(task)
        return make_user(self.config.user, task, self.pack, client=self._user_client)

    def _crashed(self, planned: PlannedEpisode, error: Exception) -> Episode:
        """The episode of one that could not even start (a user that cannot be made, a bug)."""
        from policy_agent.records import now

        moment = now()
        event = error_event("runner", error, with_traceback=True)
        return Episode(
            task_id=planned.task.id,
            trial=planned.trial,
            seed=planned.seed,
            termination_reason=TerminationReason.INFRASTRUCTURE_ERROR,
            started_at=moment,
            ended_at=moment,
            duration_s=0.0,
            messages=[],
            events=[event],
            database=database_state(self.environment.new_episode().database),
            error=f"{type(error).__name__}: {error}",
        )

    async def _evaluated(self, episode: Episode) -> Episode:
        try:
            reward = await self.evaluator.evaluate(episode)
        except Exception as error:
            event = error_event("evaluator", error, with_traceback=True)
            return episode.model_copy(update={"events": [*episode.events, event]})
        totals = episode.totals
        # The judge's calls (one for NL assertions, one per write for rules that ask it) go
        # into the per-role totals beside the agent and the user.
        judge, ruled = reward.judge, reward.rules_judge
        usages = [usage for usage in (judge, ruled) if usage is not None]
        if usages:
            costs = [usage.cost_usd for usage in usages]
            answered = judge is not None and judge.error is None
            used = RoleTotals(
                calls=int(answered) + (ruled.calls if ruled is not None else 0),
                prompt_tokens=sum(usage.prompt_tokens for usage in usages),
                completion_tokens=sum(usage.completion_tokens for usage in usages),
                latency_ms=sum(usage.latency_ms for usage in usages),
                cost_usd=None if None in costs else sum(c for c in costs if c is not None),
            )
            totals = {**totals, "judge": used}
        return episode.model_copy(update={"reward": reward, "totals": totals})

    async def aclose(self) -> None:
        """Close the clients' connections and end Ray's actors if they never played (call
        once, at the end of the run)."""
        if self._ray_start is not None:
            start, self._ray_start = self._ray_start, None
            await start.close()
        for client in self._clients:
            await client.aclose()
        if any(isinstance(client, LLMClient) for client in self._clients):
            await close_connections()
