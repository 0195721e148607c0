"""A Pratt parser from tokens to the syntax tree, checking names and calls as it goes."""

from __future__ import annotations

import difflib
from collections.abc import Collection
from typing import NoReturn

from policy_agent.expressions._ast import (
    COMPARISONS,
    NEGATE_PRECEDENCE,
    NOT_PRECEDENCE,
    PRECEDENCE,
    Binary,
    Call,
    Index,
    ListDisplay,
    Literal,
    Member,
    Name,
    Node,
    Unary,
    walk,
)
from policy_agent.expressions._errors import ExpressionSyntaxError
from policy_agent.expressions._functions import FUNCTIONS
from policy_agent.expressions._lexer import KEYWORDS, Token, tokenize
from policy_agent.expressions._regex import pattern_problem

MAX_NESTING = 50
"""Parentheses, brackets and prefix operators inside each other (keeps the parser's stack small)."""
MAX_DEPTH = 100
"""Levels of the tree (keeps the interpreter's stack small; long `a + b + ...` chains count)."""
_CONSTANTS = {"true": True, "false": False, "null": None}


def parse(
    source: str, *, names: Collection[str], start: int = 0, in_template: bool = False
) -> tuple[Node, int]:
    """The tree of the expression at `source[start:]` and the offset where it ends.

    Raises ExpressionSyntaxError for bad syntax, names not in `names`, unknown functions and
    wrong numbers of arguments.
    """
    parser = _Parser(source, tokenize(source, start, in_template=in_template), names)
    if parser.peek().kind == "end":
        parser.fail("the expression is empty", parser.peek().offset)
    node = parser.expression(0)
    end = parser.peek()
    if end.kind != "end":
        parser.fail(f"expected an operator or the end, found `{end.text}`", end.offset)
    for inner, depth in walk(node):
        if depth > MAX_DEPTH:
            parser.fail(
                f"the expression is nested too deeply (over {MAX_DEPTH} levels)", inner.offset
            )
    return node, end.offset


class _Parser:
    def __init__(self, source: str, tokens: list[Token], names: Collection[str]) -> None:
        self.source, self.tokens, self.names = source, tokens, names
        self.at = 0
        self.nesting = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.at + ahead, len(self.tokens) - 1)]

    def take(self) -> Token:
        token = self.peek()
        self.at += 1
        return token

    def fail(self, message: str, offset: int) -> NoReturn:
        raise ExpressionSyntaxError(message, self.source, offset)

    def expect(self, op: str, opening: Token) -> None:
        token = self.take()
        if token.text != op or token.kind != "op":
            found = f"`{token.text}`" if token.text else "the end"
            self.fail(f"expected `{op}` to close the `{opening.text}`, found {found}", token.offset)

    def expression(self, least: int) -> Node:
        """Operators that bind tighter than `least`, each taking the loosest operand it may."""
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            self.fail(
                f"the expression is nested too deeply (over {MAX_NESTING} levels)",
                self.peek().offset,
            )
        left = self.prefix(least)
        compared = False
        while (op := self.binary_operator()) and PRECEDENCE[op] > least:
            token = self.take()
            if op == "not in":
                self.take()
            if op in COMPARISONS and compared:
                self.fail("comparisons cannot be chained; write `a < b and b < c`", token.offset)
            right = self.expression(PRECEDENCE[op])
            left = Binary(op=op, left=left, right=right, offset=token.offset)
            compared = op in COMPARISONS
        self.nesting -= 1
        return left

    def binary_operator(self) -> str | None:
        token = self.peek()
        if token.kind == "op" and token.text in PRECEDENCE:
            return token.text
        if token.kind == "name" and token.text in ("and", "or", "in"):
            return token.text
        if token.kind == "name" and token.text == "not" and self.peek(1).text == "in":
            return "not in"
        return None

    def prefix(self, least: int) -> Node:
        token = self.peek()
        if token.kind == "name" and token.text == "not":
            if least > NOT_PRECEDENCE:
                self.fail("put `not ...` in parentheses here", token.offset)
            self.take()
            return Unary(op="not", operand=self.expression(NOT_PRECEDENCE), offset=token.offset)
        if token.kind == "op" and token.text == "-":
            self.take()
            return Unary(op="-", operand=self.expression(NEGATE_PRECEDENCE), offset=token.offset)
        node = self.primary()
        while self.peek().kind == "op" and self.peek().text in (".", "[", "("):
            token = self.take()
            if token.text == "(":
                self.fail("only functions can be called, such as `len(x)`", token.offset)
            if token.text == "[":
                node = Index(target=node, index=self.expression(0), offset=token.offset)
                self.expect("]", token)
            elif (field := self.take()).kind == "name":
                node = Member(target=node, name=field.text, offset=token.offset)
            else:
                self.fail("expected a field name after `.`", field.offset)
        return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("number", "string"):
            return Literal(value=token.value, offset=token.offset)
        if token.kind == "name" and token.text in _CONSTANTS:
            return Literal(value=_CONSTANTS[token.text], offset=token.offset)
        if token.kind == "name" and token.text not in KEYWORDS:
            if self.peek().text == "(" and self.peek().kind == "op":
                return self.call(token)
            if token.text not in self.names:
                self.fail(
                    self.unknown("name", token.text, [*self.names, *_CONSTANTS]), token.offset
                )
            return Name(name=token.text, offset=token.offset)
        if token.text == "(":
            node = self.expression(0)
            self.expect(")", token)
            return node
        if token.text == "[":
            return ListDisplay(items=self.items("]", token), offset=token.offset)
        if token.kind == "end":
            self.fail("the expression ends too early", token.offset)
        self.fail(f"unexpected `{token.text}`", token.offset)

    def call(self, name: Token) -> Node:
        function = FUNCTIONS.get(name.text)
        if function is None:
            self.fail(self.unknown("function", name.text, FUNCTIONS), name.offset)
        args = self.items(")", self.take())
        if not function.least <= len(args) <= function.most:
            wanted = " or ".join(dict.fromkeys(map(str, (function.least, function.most))))
            plural = "" if wanted == "1" else "s"
            message = f"{name.text}() takes {wanted} argument{plural}, got {len(args)}"
            self.fail(message, name.offset)
        if name.text == "matches" and isinstance(pattern := args[1], Literal):
            # A pattern written in the pack is checked when it loads, not on the first call.
            problem = pattern_problem(pattern.value) if isinstance(pattern.value, str) else None
            if problem is not None:
                self.fail(problem, pattern.offset)
        return Call(function=name.text, args=args, offset=name.offset)

    def items(self, closing: str, opening: Token) -> tuple[Node, ...]:
        """Comma-separated expressions up to `closing` (a trailing comma is fine)."""
        items: list[Node] = []
        while not (self.peek().kind == "op" and self.peek().text == closing):
            items.append(self.expression(0))
            if not (self.peek().kind == "op" and self.peek().text == ","):
                break
            self.take()
        self.expect(closing, opening)
        return tuple(items)

    def unknown(self, what: str, name: str, known: Collection[str]) -> str:
        close = difflib.get_close_matches(name, known, n=1)
        if close:
            return f"unknown {what} `{name}`; did you mean `{close[0]}`?"
        return f"unknown {what} `{name}`; known: {', '.join(sorted(known)) or 'none'}"
