"""The building blocks of a grammar, and how each grammar syntax writes them.

A grammar here is a list of named definitions whose bodies are small expressions: literal
text, character classes, sequences, alternatives, repetitions, references to other
definitions, and (Lark only) an inline JSON Schema. Both syntaxes are written from the same
expressions, so the Lark grammar (llguidance's dialect, vLLM's `guidance` backend) and the
EBNF grammar (GBNF as xgrammar reads it, vLLM's default backend) define the same text.

Definitions are either terminals (regular: Lark makes them single lexemes, which llguidance
needs for speed) or rules. Names are written in snake case; Lark terminals are upper-cased.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import assert_never

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError


class GrammarError(PolicyAgentError, ValueError):
    """A pack whose tools cannot be called under the one-action grammar; the message names
    the tool and parameter and says what to change."""


class GrammarSyntax(StrEnum):
    """The grammar dialect vLLM's structured-outputs backends read."""

    LARK = "lark"
    """llguidance's Lark dialect: vLLM's `guidance` backend."""
    EBNF = "ebnf"
    """GBNF as xgrammar reads it: vLLM's `xgrammar` backend (the default under `auto`)."""


@dataclass(frozen=True)
class Lit:
    """Literal text."""

    text: str


@dataclass(frozen=True)
class Chars:
    """One character from `ranges` (inclusive code-point ranges), or from outside them."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool = False


@dataclass(frozen=True)
class Seq:
    """The items one after the other."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Alt:
    """One of the options."""

    options: tuple[Expr, ...]


@dataclass(frozen=True)
class Repeat:
    """`item` between `low` and `high` times (`None`: no upper bound)."""

    item: Expr
    low: int
    high: int | None


@dataclass(frozen=True)
class Ref:
    """Another definition, by name."""

    name: str


@dataclass(frozen=True)
class JsonSchema:
    """A JSON text valid against `schema` (llguidance's `%json`; Lark only)."""

    schema: Mapping[str, JsonValue]


Expr = Lit | Chars | Seq | Alt | Repeat | Ref | JsonSchema


@dataclass(frozen=True)
class Definition:
    """A named expression; `terminal` ones must be regular (no `JsonSchema`, no rule refs)."""

    name: str
    body: Expr
    terminal: bool


def chars(
    text: str = "", *, negated: bool = False, ranges: Iterable[tuple[int, int]] = ()
) -> Chars:
    """The class of the characters of `text` plus `ranges`, merged into sorted ranges."""
    points = sorted({ord(c) for c in text} | {p for lo, hi in ranges for p in range(lo, hi + 1)})
    merged: list[tuple[int, int]] = []
    for point in points:
        if merged and merged[-1][1] == point - 1:
            merged[-1] = (merged[-1][0], point)
        else:
            merged.append((point, point))
    return Chars(tuple(merged), negated)


def seq(*items: Expr) -> Expr:
    """A sequence, flattened; literal neighbours are joined and empty literals dropped."""
    flat: list[Expr] = []
    for item in items:
        for part in item.items if isinstance(item, Seq) else (item,):
            if isinstance(part, Lit) and flat and isinstance(flat[-1], Lit):
                flat[-1] = Lit(flat[-1].text + part.text)
            elif not (isinstance(part, Lit) and not part.text):
                flat.append(part)
    if len(flat) == 1:
        return flat[0]
    return Seq(tuple(flat)) if flat else Lit("")


def alt(*options: Expr) -> Expr:
    """An alternative; an empty-literal option makes the rest optional."""
    empty = any(isinstance(o, Lit) and not o.text for o in options)
    rest = tuple(o for o in options if not (isinstance(o, Lit) and not o.text))
    body = rest[0] if len(rest) == 1 else Alt(rest)
    return Repeat(body, 0, 1) if empty else body


def star(item: Expr) -> Repeat:
    """Zero or more of `item`."""
    return Repeat(item, 0, None)


def plus(item: Expr) -> Repeat:
    """One or more of `item`."""
    return Repeat(item, 1, None)


def opt(item: Expr) -> Repeat:
    """`item` or nothing."""
    return Repeat(item, 0, 1)


def write_grammar(
    syntax: GrammarSyntax, definitions: Sequence[Definition], header: Sequence[str]
) -> str:
    """The grammar text; the first definition is the start rule, `header` lines are comments."""
    match syntax:
        case GrammarSyntax.LARK:
            writer: _Writer = _LarkWriter(definitions)
            lines = ["%llguidance {}", *(f"// {line}" for line in header)]
        case GrammarSyntax.EBNF:
            writer = _EbnfWriter(definitions)
            lines = [f"# {line}" for line in header]
        case _:
            assert_never(syntax)
    for index, definition in enumerate(definitions):
        lines.append(writer.definition(definition, start=index == 0))
    return "\n".join(lines) + "\n"


class _Writer:
    def __init__(self, definitions: Sequence[Definition]) -> None:
        self.terminals = {d.name for d in definitions if d.terminal}

    def definition(self, definition: Definition, *, start: bool) -> str:
        raise NotImplementedError

    def expr(self, expr: Expr, *, atom: bool = False) -> str:
        match expr:
            case Lit(text):
                return self.literal(text)
            case Chars():
                return self.char_class(expr)
            case Seq(items):
                text = " ".join(self.expr(item, atom=True) for item in items)
                return f"({text})" if atom else text
            case Alt(options):
                text = " | ".join(self.expr(option) for option in options)
                return f"({text})" if atom else text
            case Repeat(item, low, high):
                return self.expr(item, atom=True) + _quantifier(low, high)
            case Ref(name):
                return self.name(name)
            case JsonSchema(schema):
                return self.json_schema(schema)
            case _:
                assert_never(expr)

    def literal(self, text: str) -> str:
        raise NotImplementedError

    def char_class(self, expr: Chars) -> str:
        raise NotImplementedError

    def name(self, name: str) -> str:
        raise NotImplementedError

    def json_schema(self, schema: Mapping[str, JsonValue]) -> str:
        raise NotImplementedError


class _LarkWriter(_Writer):
    def definition(self, definition: Definition, *, start: bool) -> str:
        name = "start" if start else self.name(definition.name)
        return f"{name}: {self.expr(definition.body)}"

    def literal(self, text: str) -> str:
        # JSON string escapes are what llguidance's Lark reads in "..." literals.
        return json.dumps(text, ensure_ascii=False)

    def char_class(self, expr: Chars) -> str:
        # A regex in /.../: Rust `regex` syntax, with `/` escaped.
        return "/" + _class_text(expr, _rust_class_char) + "/"

    def name(self, name: str) -> str:
        return name.upper() if name in self.terminals else name.lower()

    def json_schema(self, schema: Mapping[str, JsonValue]) -> str:
        return "%json " + json.dumps(schema, ensure_ascii=False, sort_keys=False)


class _EbnfWriter(_Writer):
    def definition(self, definition: Definition, *, start: bool) -> str:
        name = "root" if start else definition.name.lower()
        return f"{name} ::= {self.expr(definition.body)}"

    def literal(self, text: str) -> str:
        return '"' + "".join(_gbnf_char(c, '"') for c in text) + '"'

    def char_class(self, expr: Chars) -> str:
        return _class_text(expr, _gbnf_class_char)

    def name(self, name: str) -> str:
        return name.lower()

    def json_schema(self, schema: Mapping[str, JsonValue]) -> str:
        raise ValueError("an EBNF grammar cannot inline a JSON Schema; use the JSON rules")


def regex(expr: Expr, definitions: Mapping[str, Expr]) -> str:
    """`expr` as one Rust-syntax regex (JSON Schema `pattern`), references inlined."""
    match expr:
        case Lit(text):
            return "".join(_rust_char(c) for c in text)
        case Chars():
            return _class_text(expr, _rust_class_char)
        case Seq(items):
            return "".join(regex(item, definitions) for item in items)
        case Alt(options):
            return "(?:" + "|".join(regex(option, definitions) for option in options) + ")"
        case Repeat(item, low, high):
            return f"(?:{regex(item, definitions)})" + _quantifier(low, high)
        case Ref(name):
            return f"(?:{regex(definitions[name], definitions)})"
        case JsonSchema():
            raise ValueError("a JSON Schema is not a regex")
        case _:
            assert_never(expr)


def _rust_char(char: str) -> str:
    if not char.isalnum() and char.isascii() and char not in " _<>=/":
        return "\\" + char
    return _rust_class_char(char) if not char.isprintable() else char


def _quantifier(low: int, high: int | None) -> str:
    match (low, high):
        case (0, None):
            return "*"
        case (1, None):
            return "+"
        case (0, 1):
            return "?"
        case (_, None):
            return f"{{{low},}}"
        case _ if low == high:
            return f"{{{low}}}"
        case _:
            return f"{{{low},{high}}}"


def _class_text(expr: Chars, write: Callable[[str], str]) -> str:
    parts = []
    for lo, hi in expr.ranges:
        parts.append(write(chr(lo)) if lo == hi else f"{write(chr(lo))}-{write(chr(hi))}")
    return "[" + ("^" if expr.negated else "") + "".join(parts) + "]"


# Rust regex: escaping any ASCII punctuation is allowed; inside a class `[`, `]`, `\`, `^`,
# `-`, `&`, `~` are special (set operations), and `/` ends llguidance's /.../.
_RUST_ESCAPE = frozenset("[]\\^-&~/")


def _rust_class_char(char: str) -> str:
    if char in _RUST_ESCAPE:
        return "\\" + char
    if char.isprintable():
        return char
    return f"\\x{{{ord(char):x}}}"


def _gbnf_class_char(char: str) -> str:
    # gbnf_to_lark (vLLM's guidance backend on EBNF) refuses `\-`; xgrammar reads both.
    return {"-": "\\x2d", "^": "\\x5e"}.get(char) or _gbnf_char(char, "]")


def _gbnf_char(char: str, special: str) -> str:
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
    if char in named:
        return named[char]
    if char in special:
        return "\\" + char
    point = ord(char)
    if point < 0x20 or point == 0x7F:
        return f"\\x{point:02x}"
    # Other characters as they are (UTF-8): llguidance's gbnf_to_lark, which vLLM's guidance
    # backend runs on an EBNF grammar, mangles \\u escapes (U+0085 becomes `\\u85`).
    return char
