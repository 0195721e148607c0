"""`policy-agent serve-env`: a domain pack as an RL environment over HTTP (docs/rl.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from policy_agent.rl import EnvServer
    from policy_agent.simulation import SimulationConfig

DEFAULT_AGENT_MODEL = "hosted_vllm/policy"
"""The agent's model name when no --config gives one: the trainer's policy, never called."""


@main.command("serve-env")
@click.argument("pack", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A run config for the user simulator, the agent's format and violation strategy, "
    "max_steps, the judge and the seed (its domain is replaced by PACK). Default: the scripted "
    "user, card style, thinking on, the default violation strategy.",
)
@click.option("--port", type=click.IntRange(0, 65535), default=8100, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host (for a trainer on another machine). There is no "
    "authentication: expose it only on a network you trust.",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=600.0,
    show_default=True,
    help="Seconds without a request after which an episode is closed and freed.",
)
@click.option(
    "--max-episodes",
    type=click.IntRange(min=1),
    default=4096,
    show_default=True,
    help="Episodes in play at once; a reset beyond it is answered 503.",
)
def serve_env(
    pack: Path,
    config_path: Path | None,
    port: int,
    host: str,
    allow_remote: bool,
    idle_timeout: float,
    max_episodes: int,
) -> None:
    """Serve PACK's tasks as an RL environment: POST /v1/reset, /v1/step, /v1/close (JSON).

    A trainer resets an episode of a task, gets the agent's prompt, steps it with its policy's
    completion, and gets the next prompt, the reward at the end and what happened. Runs until
    Ctrl-C.
    """
    from policy_agent.domain import load_pack
    from policy_agent.rl import EnvServer, TrainerSimulation
    from policy_agent.scripted import is_loopback
    from policy_agent.simulation import ConfigError

    if not allow_remote and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} would expose the environment beyond this machine; add "
            "--allow-remote if you mean it"
        )
    config = _config(pack, config_path)
    try:
        simulation = TrainerSimulation(config, load_pack(pack))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    server = EnvServer(simulation, idle_timeout_s=idle_timeout, max_episodes=max_episodes)
    try:
        asyncio.run(_serve(server, host, port, pack))
    except KeyboardInterrupt:
        click.echo("Stopped.")
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "choose another --port (0 picks a free one)"
        ) from None


def _config(pack: Path, config_path: Path | None) -> SimulationConfig:
    from policy_agent.simulation import ConfigError, SimulationConfig, load_config

    if config_path is None:
        return SimulationConfig.model_validate(
            {
                "domain": str(pack.resolve()),
                "agent": {"model": {"model": DEFAULT_AGENT_MODEL}, "transport": "completions"},
                "user": {"kind": "scripted"},
            }
        )
    try:
        loaded = load_config(config_path)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    return loaded.model_copy(update={"domain": pack.resolve()})


async def _serve(server: EnvServer, host: str, port: int, pack: Path) -> None:
    from aiohttp import web

    runner = web.AppRunner(server.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    shown = f"[{host}]" if ":" in host else host
    click.echo(f"Serving {pack} as an RL environment at http://{shown}:{site.port}/v1")
    click.echo(
        f"{len(server.simulation.tasks)} tasks (GET /v1/tasks); POST /v1/reset, /v1/step, "
        "/v1/close. Press Ctrl-C to stop."
    )
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
