"""Split expression source into tokens, each remembering where it starts."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from policy_agent.expressions._errors import ExpressionSyntaxError
from policy_agent.expressions._values import LIMIT

TokenKind = Literal["number", "string", "name", "op", "end"]

KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}

# [0-9] rather than \d: Python's \d also matches other scripts' digits.
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPERATORS = (
    "==",
    "!=",
    "<=",
    ">=",
    "<",
    ">",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    ",",
    ".",
)
_HINTS = {"=": "use `==` to compare", "!": "use `not`", "&": "use `and`", "|": "use `or`"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Token:
    """One token: its kind, its text (decoded for strings, numeric for numbers) and offset."""

    kind: TokenKind
    text: str
    value: int | float | str
    offset: int


def tokenize(source: str, start: int = 0, *, in_template: bool = False) -> list[Token]:
    """The tokens of `source[start:]`, ending with an `end` token.

    In a template placeholder (`in_template`) the expression ends at the first `}` outside a
    string; the `end` token then sits on that brace.
    """
    tokens: list[Token] = []
    at = start
    while True:
        while at < len(source) and source[at] in " \t\r\n":
            at += 1
        if at == len(source):
            if in_template:
                raise ExpressionSyntaxError(
                    "`{` is never closed; write `{{` for a brace", source, start - 1
                )
            tokens.append(Token(kind="end", text="", value="", offset=at))
            return tokens
        char = source[at]
        if in_template and char == "}":
            tokens.append(Token(kind="end", text="}", value="", offset=at))
            return tokens
        if number := _NUMBER.match(source, at):
            tokens.append(_number(source, number))
        elif name := _NAME.match(source, at):
            tokens.append(Token(kind="name", text=name[0], value=name[0], offset=at))
        elif char in "'\"":
            tokens.append(_string(source, at))
        else:
            op = next((op for op in _OPERATORS if source.startswith(op, at)), None)
            if op is None:
                hint = _HINTS.get(char, "")
                message = f"unexpected character {char!r}" + (f"; {hint}" if hint else "")
                raise ExpressionSyntaxError(message, source, at)
            tokens.append(Token(kind="op", text=op, value=op, offset=at))
        at = tokens[-1].offset + len(tokens[-1].text)


def _number(source: str, match: re.Match[str]) -> Token:
    text = match[0]
    # Checking the length first keeps Python's int() from refusing (over 4300 digits).
    too_long = not (match[1] or match[2]) and len(text.lstrip("0")) > len(str(LIMIT))
    value: int | float = 0 if too_long else float(text) if match[1] or match[2] else int(text)
    if too_long or not math.isfinite(value) or value >= LIMIT:
        raise ExpressionSyntaxError(f"the number {text} is too large", source, match.start())
    return Token(kind="number", text=text, value=value, offset=match.start())


def _string(source: str, start: int) -> Token:
    quote, at, chars = source[start], start + 1, []
    while at < len(source) and source[at] != quote:
        if source[at] == "\\":
            escape = source[at + 1 : at + 2]
            if escape not in ESCAPES:
                known = " ".join("\\" + e for e in ESCAPES)
                raise ExpressionSyntaxError(f"unknown escape; use one of {known}", source, at)
            chars.append(ESCAPES[escape])
            at += 2
        else:
            chars.append(source[at])
            at += 1
    if at == len(source):
        raise ExpressionSyntaxError(f"string never closed; end it with {quote}", source, start)
    return Token(kind="string", text=source[start : at + 1], value="".join(chars), offset=start)
