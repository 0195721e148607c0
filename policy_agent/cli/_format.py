"""`policy-agent prompt`, `render` and `parse`: the model-facing format from the command line.

`prompt` and `render` write exactly the text the model sees (UTF-8, nothing added, not even a
final newline), so `policy-agent render ... | diff - expected.txt` is meaningful. Bad input
(an unreadable file, invalid JSON, a tool or message that is not in OpenAI format, a broken
pack) exits 2 with a message naming the file and field.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from policy_agent.cli import main

if TYPE_CHECKING:
    from pydantic import ValidationError

    from policy_agent.format import FunctionSpec
    from policy_agent.records import ChatMessage

# The values of policy_agent.format.PromptStyle, written out so `--help` need not import pydantic.
_STYLES = ("card", "template")
_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)
_FOLDER = click.Path(exists=True, path_type=Path)


class BadInput(click.ClickException):
    """Input the command cannot use; printed as `Error: ...` on stderr, exit status 2."""

    exit_code = 2


@main.command()
@click.option("--domain", type=_FOLDER, help="A domain pack folder: its policy and tools.")
@click.option("--policy", type=_FILE, help="The policy text (with --tools, instead of --domain).")
@click.option("--tools", type=_FILE, help="OpenAI-format tools, a JSON list (with --policy).")
@click.option(
    "--style",
    type=click.Choice(_STYLES),
    default="card",
    show_default=True,
    help="card: tools listed in the system text (the model card's layout). template: what the "
    "server's chat template shows when the request carries tools=.",
)
def prompt(domain: Path | None, policy: Path | None, tools: Path | None, style: str) -> None:
    """Print the agent's system prompt exactly as the model sees it."""
    from policy_agent.format import PromptStyle, system_prompt

    if domain is not None and (policy is not None or tools is not None):
        raise click.UsageError("give either --domain, or --policy and --tools, not both")
    if domain is not None:
        policy_text, functions = _domain_parts(domain)
    elif policy is not None and tools is not None:
        policy_text, functions = _read_text(policy), _read_tools(tools)
    else:
        raise click.UsageError("give --domain DIR, or both --policy FILE and --tools FILE")
    _write(system_prompt(policy_text, functions, PromptStyle(style)))


@main.command()
@click.option("--messages", type=_FILE, required=True, help="OpenAI-format messages, a JSON list.")
@click.option("--tools", type=_FILE, help="OpenAI-format tools passed as tools=, a JSON list.")
@click.option(
    "--instruct", is_flag=True, help="Instruct mode: no reasoning (enable_thinking=False)."
)
def render(messages: Path, tools: Path | None, instruct: bool) -> None:
    """Print the full ChatML prompt for a conversation, generation prompt included."""
    from policy_agent.format import render_conversation

    functions = _read_tools(tools) if tools is not None else None
    _write(render_conversation(_read_messages(messages), functions, thinking=not instruct))


@main.command()
@click.option("--tools", type=_FILE, help="OpenAI-format tools the completion may call.")
@click.option("--domain", type=_FOLDER, help="A domain pack folder whose tools may be called.")
@click.option(
    "--instruct", is_flag=True, help="Instruct mode: the completion has no reasoning block."
)
def parse(tools: Path | None, domain: Path | None, instruct: bool) -> None:
    """Read one raw completion on stdin; print the turn it amounts to as one JSON object.

    The turn is a message, a tool call or a violation (`kind` says which); a violation is a
    result, not an error, so the exit status is 0. The JSON ends with a newline.
    """
    from policy_agent.format import parse_completion

    if tools is not None and domain is None:
        functions = _read_tools(tools)
    elif domain is not None and tools is None:
        functions = _domain_parts(domain)[1]
    else:
        raise click.UsageError("give exactly one of --tools FILE and --domain DIR")
    try:
        completion = sys.stdin.buffer.read().decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"stdin: not UTF-8 text ({error})") from None
    turn = parse_completion(completion, functions, thinking=not instruct)
    _write(turn.model_dump_json() + "\n")


def _write(text: str) -> None:
    # Bytes, not click.echo: no newline added, no ANSI stripping, UTF-8 whatever the locale.
    sys.stdout.flush()
    sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.buffer.flush()


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise BadInput(f"{path}: not UTF-8 text ({error})") from None
    except OSError as error:
        raise BadInput(f"{path}: cannot read: {error.strerror or error}") from None


def _read_json(path: Path) -> object:
    try:
        return json.loads(_read_text(path))
    except json.JSONDecodeError as error:
        raise BadInput(
            f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}"
        ) from None


def _read_tools(path: Path) -> tuple[FunctionSpec, ...]:
    from policy_agent.format import FunctionSpecError, functions_from_openai

    try:
        return functions_from_openai(_read_json(path), where=str(path))
    except FunctionSpecError as error:
        raise BadInput(str(error)) from None


def _read_messages(path: Path) -> list[ChatMessage]:
    from pydantic import TypeAdapter, ValidationError

    from policy_agent.records import ChatMessage

    try:
        return TypeAdapter(list[ChatMessage]).validate_python(_read_json(path))
    except ValidationError as error:
        raise BadInput(_validation_report(path, error)) from None


def _validation_report(path: Path, error: ValidationError) -> str:
    """One line per problem: `messages.json: [2].content: Input should be a valid string`."""
    lines = []
    for problem in error.errors():
        # In a list of role-tagged messages the location is (index, role, field...); the role
        # is the tag pydantic matched, not a field, so it is left out.
        location = list(problem["loc"])
        if len(location) > 1 and location[1] in ("system", "user", "assistant", "tool"):
            del location[1]
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in location)
        lines.append(f"{path}: {where.lstrip('.') or 'messages'}: {problem['msg']}")
    return "\n".join(lines)


def _domain_parts(folder: Path) -> tuple[str, tuple[FunctionSpec, ...]]:
    from policy_agent.domain import PackError, load_pack
    from policy_agent.format import FunctionSpec

    try:
        pack = load_pack(folder)
    except PackError as error:
        raise BadInput(error.report()) from None
    return pack.policy, tuple(FunctionSpec.from_openai(t.openai_schema()) for t in pack.tools)
