"""Message templates: text with `{expression}` placeholders and `{{`/`}}` for braces."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from policy_agent.expressions._ast import Node
from policy_agent.expressions._errors import ExpressionSyntaxError
from policy_agent.expressions._evaluate import evaluate
from policy_agent.expressions._expression import FieldRead, fields_read, usage
from policy_agent.expressions._parser import parse
from policy_agent.expressions._scope import Scope
from policy_agent.expressions._values import to_text


@dataclass(frozen=True, kw_only=True)
class Template:
    """A compiled message template; make one with `compile_template`."""

    source: str
    parts: tuple[str | Node, ...]
    """Literal text and placeholder expressions, in order."""
    names_used: frozenset[str]
    tables_used: frozenset[str]
    fields_read: frozenset[FieldRead] = frozenset()
    """As `Expression.fields_read`, over every placeholder."""

    def render(self, scope: Scope) -> str:
        """The text with every placeholder replaced: strings as they are, other values as JSON.

        Raises ExpressionEvaluationError, with its offset inside the template, if a placeholder
        fails.
        """
        return "".join(
            part if isinstance(part, str) else to_text(evaluate(part, scope, self.source))
            for part in self.parts
        )


def compile_template(source: str, *, names: Collection[str]) -> Template:
    """Parse a template once; errors point into `source` (the placeholder's expression)."""
    names = frozenset(names)
    parts: list[str | Node] = []
    text: list[str] = []
    at = 0
    while at < len(source):
        char = source[at]
        if source.startswith(("{{", "}}"), at):
            text.append(char)
            at += 2
        elif char == "{":
            parts.extend(["".join(text)] if text else [])
            text = []
            node, end = parse(source, names=names, start=at + 1, in_template=True)
            parts.append(node)
            at = end + 1
        elif char == "}":
            raise ExpressionSyntaxError("a single `}`; write `}}` for a brace", source, at)
        else:
            text.append(char)
            at += 1
    parts.extend(["".join(text)] if text else [])
    nodes = [part for part in parts if not isinstance(part, str)]
    names_used, tables_used = usage(nodes)
    return Template(
        source=source,
        parts=tuple(parts),
        names_used=names_used,
        tables_used=tables_used,
        fields_read=fields_read(nodes),
    )
