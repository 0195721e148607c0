"""Writing `by_seed` scripts as YAML a person can read and that reads back unchanged.

Texts with line breaks become literal blocks, so reasoning and tool-call markup read as the
model wrote them, and a comment above each seed says where its answers come from. The text reads
back the same with `load_script` (YAML 1.2) and with PyYAML's own loaders (YAML 1.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import yaml
from pydantic import JsonValue

from policy_agent.scripted._script import Answer, SeedRole
from policy_agent.yamlsource import CoreSchemaLoader


def seed_script_yaml(
    header: Sequence[str], roles: Mapping[str, SeedRole], labels: Mapping[str, Mapping[int, str]]
) -> str:
    """The script of `roles` as YAML: `header` as comment lines, then each seed's answers under
    a comment with its label from `labels[role][seed]`."""
    lines = [f"# {_printable(line)}" for line in header]
    lines.append("roles:")
    for role, spec in roles.items():
        lines.append(_indent(_dump({role: {"mode": spec.mode}}), 2))
        lines.append("    answers:")
        for seed, answers in spec.answers.items():
            lines.append(f"      # {_printable(labels[role][seed])}")
            lines.append(f"      {seed}:")
            lines.append(_indent(_dump([_readable(answer) for answer in answers]), 8))
    return "\n".join(lines) + "\n"


def _readable(answer: Answer) -> dict[str, JsonValue]:
    """The answer's fields that differ from the defaults, reasoning first as the model wrote it."""
    fields = answer.model_dump(mode="json", exclude_defaults=True)
    reasoning = {"reasoning": fields.pop("reasoning")} if "reasoning" in fields else {}
    return reasoning | fields


_EXTRA_BREAKS = frozenset("\x85\u2028\u2029")
"""The line breaks YAML 1.1 has besides \\n and \\r."""


class _Dumper(yaml.SafeDumper):
    """Writes text with line breaks as literal blocks, so reasoning reads as it was written."""


# PyYAML quotes a text only when its own (YAML 1.1) resolvers would read it as something else,
# so `1e5` and `0o17` come out plain, and load_script's YAML 1.2 would read numbers: quoting
# whatever either schema would not read as text keeps every text a text.
for _first, _resolvers in CoreSchemaLoader.yaml_implicit_resolvers.items():
    for _tag, _pattern in _resolvers:
        _Dumper.add_implicit_resolver(_tag, _pattern, [_first])


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML falls back to a quoted scalar when a block cannot hold the text exactly, except for
    # the line breaks YAML 1.1 adds to "\n": it writes a NEL (U+0085) unescaped in quotes, where
    # it reads back as a space. Double quotes escape them.
    style = '"' if _EXTRA_BREAKS.intersection(value) else "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _text)


def _dump(data: object) -> str:
    """YAML lines to nest in the document, without the last line's line break.

    A text kept with its trailing line breaks (`|+`) makes PyYAML end the document with `...`;
    the less indented line that follows ends the text just as well, and the blank lines before
    it are the text's own.
    """
    text = yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=100)
    return text.removesuffix("...\n").removesuffix("\n")


def _printable(text: str) -> str:
    """`text` with what a YAML comment cannot hold (line breaks, control characters) escaped:
    a task id may hold anything."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    # Split on "\n" alone: other characters splitlines() breaks at may stand in the text.
    return "\n".join(pad + line if line else line for line in text.split("\n"))
