"""`policy-agent run` and `policy-agent check`: simulations of a pack's tasks, and its oracle test.

Exit codes: 0 when a run finishes (whatever its scores), 1 when `check` finds a task the oracle
cannot solve (or a run cannot write its episodes), 2 for a usage or configuration problem (said
in one clear message, never a traceback) or a model server that fails the check before the run,
3 when episodes failed on infrastructure or the run stopped after too many in a row (the
summary names the causes), 130 when interrupted (finished episodes are kept).
"""

from __future__ import annotations

import asyncio
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main
from policy_agent.cli._resume import describe_plan, plan
from policy_agent.cli._resume import summary as resume_summary

if TYPE_CHECKING:
    from policy_agent.domain import DomainPack
    from policy_agent.llm import ModelConfig
    from policy_agent.simulation import (
        Overrides,
        RunObserver,
        RunTally,
        Simulation,
        SimulationConfig,
    )
    from policy_agent.trajectory import AgentServer, Resumption, RunStore


_INFRASTRUCTURE_FAILED = 3
"""The exit code of a run whose episodes failed on infrastructure (or that stopped early)."""


class _ConfigProblem(click.ClickException):
    """A usage or configuration problem: the message, then exit 2."""

    exit_code = 2

    def show(self, file: object = None) -> None:
        click.echo(f"Error: {self.message}", err=True)


@main.command()
@click.argument(
    "config_file",
    metavar="[CONFIG.yaml]",
    required=False,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
)
@click.option(
    "--domain",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Run this pack without a config file (needs --agent-model; the user is scripted "
    "unless --user-model is given).",
)
@click.option("--agent-model", help="The agent's litellm model, e.g. hosted_vllm/<served name>.")
@click.option("--agent-api-base", help="The agent's server, e.g. http://127.0.0.1:8000/v1.")
@click.option("--user-model", help="An LLM user simulator's litellm model.")
@click.option("--user-api-base", help="The user model's server.")
@click.option(
    "--transport",
    type=click.Choice(["chat", "completions"]),
    help="chat: the server renders the prompt; completions: rendered here (exact format).",
)
@click.option(
    "--style",
    type=click.Choice(["card", "template"]),
    help="card: functions in the system prompt; template: tools= through the chat template.",
)
@click.option(
    "--server-profile",
    metavar="auto|vllm-0.NN",
    help="The vLLM release line serving the agent (docs/servers.md: vllm-0.17 ... vllm-0.33); "
    "auto: ask its server (GET /version) when the run starts.",
)
@click.option("--instruct", is_flag=True, help="The agent model without thinking (instruct mode).")
@click.option(
    "--constrain",
    type=click.Choice(["none", "grammar"]),
    help="grammar: every agent call carries the one-answer grammar (vLLM structured outputs).",
)
@click.option("--tasks", help="Comma-separated task ids (default: the config's, or all).")
@click.option("--trials", type=click.IntRange(min=1), help="Episodes per task.")
@click.option("--concurrency", type=click.IntRange(min=1), help="Episodes running at once.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    help="Runner processes sharing the episodes (more model calls per second than one CPU); "
    "with --executor ray, the number of Ray workers.",
)
@click.option(
    "--executor",
    type=click.Choice(["local", "ray"]),
    help="local: this machine (default); ray: Ray actors over a cluster (the ray extra).",
)
@click.option(
    "--ray-address",
    help="With --executor ray: the cluster's HOST:PORT (default: a local Ray for the run).",
)
@click.option("--max-steps", type=click.IntRange(min=1), help="Records per episode at most.")
@click.option("--seed", type=int, help="The run seed (episode seeds derive from it).")
@click.option(
    "--out", type=click.Path(file_okay=False, path_type=Path), help="Folder for run folders."
)
@click.option(
    "--resume",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Finish this interrupted run (runs/<run-id>); refused if the config or the pack changed.",
)
@click.option(
    "--keep-failed",
    is_flag=True,
    help="With --resume: keep the episodes lost to infrastructure as they are (by default they "
    "run again, the failed attempt kept in episodes.jsonl, superseded).",
)
@click.option("--quiet", is_flag=True, help="No progress display; only the final summary line.")
@click.option(
    "--no-preflight",
    is_flag=True,
    help="Do not check the model servers (GET /v1/models) before the first episode: for "
    "servers without a model list.",
)
def run(
    config_file: Path | None,
    domain: Path | None,
    agent_model: str | None,
    agent_api_base: str | None,
    user_model: str | None,
    user_api_base: str | None,
    transport: str | None,
    style: str | None,
    server_profile: str | None,
    instruct: bool,
    constrain: str | None,
    tasks: str | None,
    trials: int | None,
    concurrency: int | None,
    processes: int | None,
    executor: str | None,
    ray_address: str | None,
    max_steps: int | None,
    seed: int | None,
    out: Path | None,
    resume: Path | None,
    keep_failed: bool,
    quiet: bool,
    no_preflight: bool,
) -> None:
    """Simulate a pack's tasks: episodes run concurrently and are appended to runs/<run-id>/.

    Give a config file (see simulations/) or --domain; flags override the config's fields.
    With --resume alone, the run's own config (from its run.json) is used; the episodes lost
    to infrastructure run again unless --keep-failed. Before the first episode each model
    role's server is asked for its models (--no-preflight skips it): a dead server, a model it
    does not serve or a refused key stops the run at once.
    """
    from policy_agent.simulation import Overrides

    if keep_failed and resume is None:
        raise click.UsageError("--keep-failed goes with --resume")

    flags = Overrides(
        agent_model=agent_model,
        agent_api_base=agent_api_base,
        user_model=user_model,
        user_api_base=user_api_base,
        transport=transport,
        style=style,
        server_profile=server_profile,
        instruct=instruct,
        constrain=constrain,
        tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks is not None else None,
        trials=trials,
        concurrency=concurrency,
        processes=processes,
        executor=executor,
        ray_address=ray_address,
        max_steps=max_steps,
        seed=seed,
        out=out,
    )
    config = _config(config_file, domain, resume, flags)
    pack = _pack(config.domain)
    _warn_about_limits(config)
    if not no_preflight:
        # Before the clients are made: a dead server is said before litellm has even loaded.
        _preflight(config)
    simulation = _simulation(config, pack, _agent_server(config, resume, check=not no_preflight))
    store = _store(simulation, resume)
    resumption = _resumption(store, keep_failed=keep_failed) if resume else None
    planned = len(simulation.episodes)
    agent = "oracle" if config.is_oracle else config.agent.model.model  # type: ignore[union-attr]
    user = config.user.model.model if config.user.model is not None else config.user.kind
    click.echo(
        f"{'Resuming' if resume else 'Run'} {store.directory}: {pack.name}, {planned} episodes "
        f"({config.trials} trial{'s' if config.trials != 1 else ''} per task); agent {agent}; "
        f"user {user}; concurrency {config.concurrency}" + _where(config),
        err=True,
    )
    if resumption is not None:
        click.echo(describe_plan(resumption, planned, keep_failed=keep_failed), err=True)
    observer = _observer(store, quiet)
    try:
        tally = asyncio.run(_play(simulation, store, observer, resumption))
    except KeyboardInterrupt:
        store.close()
        _interrupted(store.directory, planned)
    except Exception as error:
        from policy_agent.simulation import RayUnavailable, WorkerProcessFailed
        from policy_agent.trajectory import RunStoreError

        store.close()
        if isinstance(error, RayUnavailable):
            raise click.ClickException(
                f"the run could not start: {error}. Its folder is {store.directory}; once Ray "
                f"is there, run it with: policy-agent run --resume {store.directory}"
            ) from None
        if isinstance(error, WorkerProcessFailed):
            # Like a store failure: the run is incomplete, every finished episode is kept.
            raise click.ClickException(
                f"the run stopped: {error}. The finished episodes are in {store.directory}; "
                f"run the rest with: policy-agent run --resume {store.directory}"
            ) from None
        if isinstance(error, RunStoreError | OSError):
            raise click.ClickException(f"the run stopped: {error}") from None
        raise
    store.close()
    if resume is not None:
        click.echo(resume_summary(store, tally))
    else:
        click.echo(f"{store.directory}: {tally.summary()}")
    _report_failures(tally, store.directory)
    if not quiet and "replay" in main.commands:
        click.echo(f"Replay it with: policy-agent replay {store.directory}", err=True)
    if tally.stopped is not None or tally.infrastructure:
        raise SystemExit(_INFRASTRUCTURE_FAILED)


def _config(
    config_file: Path | None, domain: Path | None, resume: Path | None, flags: Overrides
) -> SimulationConfig:
    from pydantic import ValidationError

    from policy_agent.simulation import (
        ConfigError,
        SimulationConfig,
        apply_overrides,
        config_for_domain,
        load_config,
    )
    from policy_agent.trajectory import (
        MANIFEST_NAME,
        RunStore,
        RunStoreError,
        describe_validation_error,
    )

    try:
        if config_file is not None and domain is not None:
            raise ConfigError("give a config file or --domain, not both")
        if config_file is not None:
            return apply_overrides(load_config(config_file), flags)
        if domain is not None:
            return config_for_domain(domain, flags)
        if resume is None:
            raise ConfigError(
                "give a config file (e.g. simulations/hotel-demo.yaml) or --domain DIR"
            )
        try:
            manifest = RunStore.open(resume).manifest
            stored = SimulationConfig.model_validate(manifest.config)
        except RunStoreError as error:
            raise ConfigError(str(error)) from None
        except ValidationError as error:
            raise ConfigError(
                f"{resume / MANIFEST_NAME}: its config is not one this version of policy-agent "
                f"reads ({describe_validation_error(error)}); policy-agent "
                f"{manifest.versions.policy_agent} wrote it: resume the run with that version, "
                "or start a new run"
            ) from None
        return apply_overrides(stored, flags)
    except ConfigError as error:
        raise _ConfigProblem(str(error)) from None


def _pack(path: Path) -> DomainPack:
    from policy_agent.domain import PackError, load_pack

    try:
        return load_pack(path)
    except PackError as error:
        raise _ConfigProblem(error.report()) from None


def _simulation(
    config: SimulationConfig, pack: DomainPack, agent_server: AgentServer | None
) -> Simulation:
    from policy_agent.format import GrammarError
    from policy_agent.llm import LLMError
    from policy_agent.simulation import ConfigError, Simulation

    try:
        return Simulation(config, pack, agent_server=agent_server)
    except (ConfigError, LLMError, GrammarError) as error:
        raise _ConfigProblem(str(error)) from None


def _agent_server(
    config: SimulationConfig, resume: Path | None, *, check: bool
) -> AgentServer | None:
    """The agent's server profile (asked of its server for `auto`), said on stderr; a resumed
    run whose server now reports another profile than run.json's is warned about. With `check`
    (no --no-preflight) the server's model and chat template are checked too: each doubt is
    said once and kept in the profile's `warnings`."""
    from policy_agent.simulation import agent_model_warnings, detect_agent_server
    from policy_agent.trajectory import RunStore, RunStoreError

    agent_server, warning = asyncio.run(detect_agent_server(config.agent))
    if warning is not None:
        click.echo(f"warning: {warning}", err=True)
    if agent_server is None:
        return None
    doubts = asyncio.run(agent_model_warnings(config.agent)) if check else ()
    for doubt in doubts:
        click.echo(f"warning: {doubt}", err=True)
    if doubts:
        agent_server = agent_server.model_copy(update={"warnings": doubts})
    said = f" {agent_server.version}" if agent_server.version is not None else ""
    click.echo(
        f"Agent server: {agent_server.profile}{said} ({agent_server.detected_from})", err=True
    )
    if resume is not None:
        try:
            before = RunStore.open(resume).manifest.agent_server
        except RunStoreError:
            before = None
        if before is not None and before.profile != agent_server.profile:
            click.echo(
                f"warning: the run began with server profile {before.profile}, and its "
                f"episodes from now on use {agent_server.profile}",
                err=True,
            )
    return agent_server


def _where(config: SimulationConfig) -> str:
    """Where the episodes play, for the run's first line (nothing for this process alone)."""
    if config.executor == "ray":
        cluster = config.ray_address or "a local Ray"
        return f" on {config.processes} Ray worker{'s' if config.processes > 1 else ''} ({cluster})"
    return f" on {config.processes} processes" if config.processes > 1 else ""


def _warn_about_limits(config: SimulationConfig) -> None:
    from policy_agent.simulation import budget_warnings

    for warning in budget_warnings(config):
        click.echo(f"warning: {warning}", err=True)


def _model_roles(config: SimulationConfig) -> list[tuple[str, ModelConfig, bool]]:
    """Each role played by a model: its name, its model, and whether it makes chat calls."""
    from policy_agent.simulation import ModelAgentConfig

    roles = []
    if isinstance(config.agent, ModelAgentConfig):
        roles.append(("agent", config.agent.model, config.agent.transport == "chat"))
    if config.user.model is not None:
        roles.append(("user", config.user.model, True))
    if config.judge is not None:
        roles.append(("judge", config.judge, True))
    return roles


def _preflight(config: SimulationConfig) -> None:
    """Stop (exit 2) unless every model role's server answers, serves its model, takes its key."""
    from policy_agent.llm import LLMError, check_role

    async def check_all() -> None:
        await asyncio.gather(
            *(check_role(model, role=role, chat=chat) for role, model, chat in _model_roles(config))
        )

    try:
        asyncio.run(check_all())
    except LLMError as error:
        raise _ConfigProblem(
            f"the check before the run failed, so no episode was started:\n{error}"
        ) from None


def _report_failures(tally: RunTally, directory: Path) -> None:
    """Say on stderr what failed outside the agent, and what a stopped run needs next."""
    if tally.infrastructure:
        click.echo(
            f"{tally.infrastructure} episode{'s' if tally.infrastructure != 1 else ''} failed on "
            "infrastructure (not scored against the agent); the most common causes:",
            err=True,
        )
        for line in tally.failures.report():
            click.echo(f"  {line}", err=True)
        shown = f"policy-agent show {directory} --episode TASK#TRIAL"
        click.echo(f"Each one's events: {shown}", err=True)
    for warning in tally.served.warnings():
        click.echo(f"warning: {warning}", err=True)
    if tally.stopped is not None:
        click.echo(
            f"The run stopped: {tally.stopped}\n{tally.done} of {tally.planned} episodes are in "
            f"{directory}; fix the cause, then run the rest with: "
            f"policy-agent run --resume {directory}",
            err=True,
        )


def _store(simulation: Simulation, resume: Path | None) -> RunStore:
    from policy_agent.simulation import HASH_EXCLUDES
    from policy_agent.trajectory import RunStore, RunStoreError, config_hash

    config = simulation.config.as_json()
    try:
        if resume is None:
            return RunStore.create(simulation.config.out, simulation.manifest())
        # The run's own excludes, and today's: a field added since (processes) was not in the
        # config the run hashed, so leaving it out gives the same hash.
        stored = RunStore.open(resume).manifest.config_hash_excludes
        excludes = tuple(sorted({*stored, *HASH_EXCLUDES}))
        return RunStore.resume(
            resume,
            config_hash=config_hash(config, exclude=excludes),
            domain_hash=simulation.pack.content_hash,
            config=config,
            domain_parts=simulation.pack.content_parts,
            agent_server=simulation.agent_server,
        )
    except RunStoreError as error:
        raise _ConfigProblem(str(error)) from None


def _resumption(store: RunStore, *, keep_failed: bool) -> Resumption:
    from policy_agent.trajectory import RunStoreError

    try:
        return plan(store, keep_failed=keep_failed)
    except RunStoreError as error:
        store.close()
        raise _ConfigProblem(str(error)) from None


def _observer(store: RunStore, quiet: bool) -> RunObserver | None:
    from policy_agent.simulation import ProgressDisplay

    if quiet or not sys.stderr.isatty():
        return None
    return ProgressDisplay(store.directory.name)


async def _play(
    simulation: Simulation,
    store: RunStore,
    observer: RunObserver | None,
    resumption: Resumption | None,
) -> RunTally:
    # Everything loaded by now (litellm's large heap above all) lives as long as the run does.
    # Frozen, the collector stops walking it on every full collection (~140 ms each with
    # litellm loaded): measured 58% -> 66% of ideal throughput at 64 episodes (benchmarks/).
    gc.collect()
    gc.freeze()
    try:
        return await simulation.run(store, observer, resumption=resumption)
    finally:
        await simulation.aclose()


def _interrupted(directory: Path, planned: int) -> None:
    from policy_agent.trajectory import EPISODES_NAME, index_attempts

    done = len(index_attempts(directory / EPISODES_NAME).latest)
    click.echo(
        f"\nInterrupted: {done} of {planned} episodes are in {directory}. "
        f"Finish the run with: policy-agent run --resume {directory}",
        err=True,
    )
    raise SystemExit(130)


@main.command()
@click.argument("pack", type=click.Path(path_type=Path))
@click.option(
    "--concurrency", type=click.IntRange(min=1), default=8, show_default=True, help="Tasks at once."
)
def check(pack: Path, concurrency: int) -> None:
    """Play every task of the pack in folder PACK with the oracle; each must reach reward 1.

    The oracle makes each task's expected actions and then tells the user the outcome; the
    user says the task's script (or, without one, the reason for calling and then stops).
    NL assertions need a judge model and are not checked. Exits 1 if a task fails.
    """
    from policy_agent.cli._domain import load_pack_or_exit
    from policy_agent.simulation import check_pack

    loaded = load_pack_or_exit(pack)
    results = asyncio.run(check_pack(loaded, concurrency=concurrency))
    failed = [result for result in results if not result.passed]
    for result in results:
        mark = "ok  " if result.passed else "FAIL"
        note = " (NL assertions not judged)" if result.unjudged else ""
        click.echo(f"{mark} {result.task_id}{note}")
        for problem in result.problems:
            click.echo(f"       {problem}")
    count = len(results)
    if failed:
        click.echo(
            f"{loaded.name}: {len(failed)} of {count} tasks cannot reach reward 1 with the oracle"
        )
        raise SystemExit(1)
    click.echo(f"{loaded.name}: all {count} tasks reach reward 1 with the oracle")
