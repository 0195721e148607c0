"""`policy-agent grammar`: the one-action grammar of a pack, as vLLM's structured outputs take it.

stdout is exactly the grammar (UTF-8, ending with one newline), so it can be saved and diffed;
a pack that cannot be loaded, or whose tools no answer could call, exits 2 with the reason.
"""

from __future__ import annotations

from pathlib import Path

import click

from policy_agent.cli import main
from policy_agent.cli._format import _STYLES, BadInput, _domain_parts, _write

# The values of policy_agent.format.GrammarSyntax, written out so `--help` need not import it.
_SYNTAXES = ("lark", "ebnf")


@main.command()
@click.option(
    "--domain",
    type=click.Path(exists=True, path_type=Path),
    required=True,
    help="A domain pack folder: the grammar allows calls of its tools.",
)
@click.option(
    "--style",
    type=click.Choice(_STYLES),
    default="card",
    show_default=True,
    help="card: text before a call is allowed (the parser reads it as reasoning). template: "
    "only whitespace before a call (the server would return that text as content).",
)
@click.option(
    "--instruct",
    is_flag=True,
    help="Instruct mode: the grammar covers the whole completion (the prompt ends with "
    "<think></think>); default: the text after </think>.",
)
@click.option(
    "--syntax",
    type=click.Choice(_SYNTAXES),
    default="lark",
    show_default=True,
    help="lark: for vLLM's guidance backend (llguidance). ebnf: for its xgrammar backend.",
)
def grammar(domain: Path, style: str, instruct: bool, syntax: str) -> None:
    """Print the grammar of one answer: one message, or exactly one call of one of the tools.

    Send it as `structured_outputs: {"grammar": ...}`; docs/grammar.md says which vLLM flags
    it needs (a reasoning parser, so the thinking stays free, and the backend).
    """
    from policy_agent.format import GrammarError, GrammarSyntax, PromptStyle, answer_grammar

    functions = _domain_parts(domain)[1]
    try:
        text = answer_grammar(
            functions,
            style=PromptStyle(style),
            thinking=not instruct,
            syntax=GrammarSyntax(syntax),
        )
    except GrammarError as error:
        raise BadInput(f"{domain}: {error}") from None
    _write(text)
