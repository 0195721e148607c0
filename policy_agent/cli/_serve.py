"""`policy-agent serve-script`: serve canned model outputs as an OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from policy_agent.scripted import ScriptedServer


@main.command("serve-script")
@click.argument("script", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=8000,
    show_default=True,
    help="TCP port; vLLM's default, so run configs work unchanged. 0 picks a free port.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--allow-remote",
    is_flag=True,
    help="Allow a non-loopback --host. The server has no authentication unless the script "
    "sets require_api_key.",
)
def serve_script(script: Path, port: int, host: str, allow_remote: bool) -> None:
    """Serve SCRIPT (YAML of canned answers per role) on /v1/chat/completions and /v1/completions.

    A stand-in for vLLM: replay recorded model outputs, inject faults, test without a GPU.
    Point a role at it with `model: hosted_vllm/<role>` and `api_base: <the printed URL>`.
    Runs until Ctrl-C. Streaming is not supported.
    """
    from policy_agent.scripted import ScriptedServer, ScriptError, is_loopback, load_script

    if not allow_remote and not is_loopback(host):
        raise click.UsageError(
            f"--host {host} would expose the server beyond this machine; "
            "add --allow-remote if you mean it"
        )
    try:
        loaded = load_script(script)
    except ScriptError as error:
        raise click.ClickException(str(error)) from None
    server = ScriptedServer(loaded, host=host, port=port, allow_remote=allow_remote)
    try:
        asyncio.run(_serve(server, script))
    except KeyboardInterrupt:
        click.echo("Stopped.")
    except OSError as error:
        raise click.ClickException(
            f"cannot listen on {host}:{port}: {error.strerror or error}; "
            "choose another --port (0 picks a free one)"
        ) from None


async def _serve(server: ScriptedServer, script: Path) -> None:
    async with server:
        roles = ", ".join(f"hosted_vllm/{role}" for role in server.script.roles)
        click.echo(f"Serving {script} at {server.base_url}")
        click.echo(f"Models: {roles}. Press Ctrl-C to stop.")
        await asyncio.Event().wait()
