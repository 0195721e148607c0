"""`policy-agent serve-script`: serve canned model outputs as an OpenAI-compatible server."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from policy_agent.scripted import ScriptedServer
    from policy_agent.trajectory import EpisodeRef


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


def _episode_keys(
    context: click.Context, parameter: click.Parameter, values: tuple[str, ...]
) -> list[EpisodeRef] | None:
    """Parse each --episode before the run is read (None: every episode)."""
    from policy_agent.trajectory import parse_episode_id

    try:
        return [parse_episode_id(value) for value in values] or None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None


def _role_names(
    context: click.Context, parameter: click.Parameter, value: str | None
) -> list[str] | None:
    if value is None:
        return None
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise click.BadParameter("name at least one role: agent, user or agent,user")
    return names


@main.command("script-from-run")
@click.argument("run", metavar="RUN")
@click.option(
    "--episode",
    "-e",
    "episodes",
    multiple=True,
    metavar="TASK#TRIAL|LINE",
    callback=_episode_keys,
    help=(
        "Replay only this episode: TASK#TRIAL (e.g. cancel_free_window#0) or its line in "
        "episodes.jsonl (1 for the first); repeat for more. Default: all."
    ),
)
@click.option(
    "--roles",
    metavar="ROLES",
    callback=_role_names,
    help="Comma-separated: agent, user. Default: the roles that called a model.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The script file to write (replaced if it exists).",
)
def script_from_run(
    run: str, episodes: list[EpisodeRef] | None, roles: list[str] | None, output: Path
) -> None:
    """Write what the models said in RUN as a script that `serve-script` replays.

    RUN is a run directory or a run id under runs/. Each model's answers are kept apart by the
    request's seed, so re-running the same config (same seed, tasks and trials) against
    `policy-agent serve-script SCRIPT` repeats every conversation exactly, rejected answers
    included, without a GPU: a changed domain pack then shows up as different tool results and
    rewards. See docs/regression.md.
    """
    import warnings

    from policy_agent.scripted import ScriptFromRunError, SelectionError
    from policy_agent.scripted import script_from_run as convert
    from policy_agent.trajectory import RunStoreError
    from policy_agent.tui import resolve_run

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            recorded = convert(resolve_run(run), episodes=episodes, roles=roles)
        except RunStoreError as error:
            raise click.BadParameter(str(error), param_hint="RUN") from None
        except SelectionError as error:
            raise click.UsageError(str(error)) from None
        except ScriptFromRunError as error:
            raise click.ClickException(str(error)) from None
    for warning in caught:
        click.echo(f"warning: {warning.message}", err=True)
    for note in recorded.notes:
        click.echo(f"note: {note}", err=True)
    try:
        output.write_text(recorded.to_yaml(), encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {output}: {error.strerror}") from None
    counts = "; ".join(
        f"model {role}: {sum(len(a) for a in spec.answers.values())} answers for "
        f"{len(spec.answers)} seeds"
        for role, spec in recorded.roles.items()
    )
    episodes_count = len(recorded.episodes)
    click.echo(f"Wrote {output}: {episodes_count} episode(s) of run {recorded.run_id}; {counts}.")
    click.echo(f"Serve it with: policy-agent serve-script {output} --port 8000")
    click.echo(
        f"Then re-run the run's config with the same seed ({recorded.run_seed}), tasks and trials, "
        "its models' api_base at http://127.0.0.1:8000/v1."
    )
