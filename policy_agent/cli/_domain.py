"""`policy-agent validate` and `policy-agent schema`: checking packs and describing their files."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from policy_agent.domain import DomainPack, Tables, ToolSpec

# policy_agent.domain.SCHEMA_KINDS, kept light
_KINDS = ("domain", "tools", "database", "tasks", "rules")


def load_pack_or_exit(path: Path) -> DomainPack:
    """Load a pack for a command; on problems print them (to stderr) and exit 1, no traceback."""
    from policy_agent.domain import PackError, load_pack

    try:
        return load_pack(path)
    except PackError as error:
        click.echo(error.report(), err=True)
        raise SystemExit(1) from None


@main.command()
@click.argument("pack", type=click.Path(path_type=Path))
def validate(pack: Path) -> None:
    """Load the pack in folder PACK and check it through.

    Checks every file against its schema, every reference (tables, tools, Python functions,
    expressions) and the tools and arguments that tasks expect. Prints a summary and exits 0,
    or prints every problem as file:line and exits 1.
    """
    from policy_agent.domain import (
        PackError,
        load_pack,
        passed_by_doing_nothing,
        slow_yaml_databases,
        undescribed_tools,
    )
    from policy_agent.yamlsource import load_yaml

    try:
        loaded = load_pack(pack)
    except PackError as error:
        click.echo(error.report())
        raise SystemExit(1) from None
    header = load_yaml(pack if pack.suffix in (".yaml", ".yml") else pack / "domain.yaml").data
    warnings = [
        *undescribed_tools((*loaded.tools, *loaded.user_tools)),
        *passed_by_doing_nothing(loaded.tools, loaded.tasks),
        *slow_yaml_databases(loaded.root, header if isinstance(header, dict) else {}),
    ]
    for warning in warnings:
        click.echo(f"warning: {warning}")
    click.echo(summary(loaded))


def summary(pack: DomainPack) -> str:
    """`hotel 1.0.0: 12 tools (8 read, 3 write, 1 transfer), 4 tables (...), 16 tasks — OK`,
    with how many tasks start from an initial state and the sync hook, when there are."""
    parts = [_tools(pack.tools, "tool"), _tables(pack.database, "table")]
    if pack.user_tools:
        parts.append(_tools(pack.user_tools, "user tool"))
    if pack.user_database:
        parts.append(_tables(pack.user_database, "user table"))
    starting = sum(task.initial_state is not None for task in pack.tasks)
    tasks = _count(len(pack.tasks), "task")
    parts.append(tasks + (f" ({starting} from an initial state)" if starting else ""))
    if pack.rules:
        from policy_agent.records import RuleSeverity

        severities = Counter(rule.severity for rule in pack.rules)
        # Worst first, as in RuleSeverity.
        detail = ", ".join(f"{severities[s]} {s.value}" for s in RuleSeverity if severities[s])
        parts.append(f"{_count(len(pack.rules), 'rule')} ({detail})")
    if pack.sync is not None:
        parts.append(f"sync hook {pack.sync}")
    return f"{pack.name} {pack.version}: {', '.join(parts)} — OK"


def _tools(tools: tuple[ToolSpec, ...], noun: str) -> str:
    from policy_agent.domain import ToolKind

    kinds = Counter(tool.kind for tool in tools)
    # In ToolKind's order (read, write, think, transfer, generic), not by count.
    detail = ", ".join(f"{kinds[kind]} {kind.value}" for kind in ToolKind if kinds[kind])
    return _count(len(tools), noun) + (f" ({detail})" if tools else "")


def _tables(tables: Tables, noun: str) -> str:
    detail = ", ".join(f"{name} {len(records)}" for name, records in tables.items())
    return _count(len(tables), noun) + (f" ({detail})" if tables else "")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


@main.command()
@click.argument("name", required=False, type=click.Choice((*_KINDS, "trajectory")))
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("schemas"),
    show_default=True,
    help="The folder to write the schema files into.",
)
@click.option(
    "--print",
    "kind",
    type=click.Choice(_KINDS),
    help="Print this one schema to stdout instead of writing files.",
)
def schema(name: str | None, out: Path, kind: str | None) -> None:
    """Write the JSON Schemas of the pack files (domain, tools, database, tasks).

    Editors validate pack files as they are typed when a file's first line names its schema:
    `# yaml-language-server: $schema=../../schemas/domain.schema.json`. With NAME, print that
    one schema instead; `schema trajectory` prints the schema of one line of a run's
    episodes.jsonl.
    """
    from policy_agent.domain import SCHEMA_KINDS, pack_schema_text

    if name == "trajectory":
        import json

        from policy_agent.records import Episode
        from policy_agent.trajectory import json_schema_of_line

        text = json.dumps(json_schema_of_line(Episode), indent=2, ensure_ascii=False)
        click.echo(text)
        return
    kind = kind or name
    if kind is not None:
        click.echo(pack_schema_text(kind), nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    for name in SCHEMA_KINDS:
        file = out / f"{name}.schema.json"
        file.write_text(pack_schema_text(name), encoding="utf-8")
        click.echo(f"wrote {file}")
