"""The text pieces of the one-action grammar: whitespace, and text that holds no markup.

The parser (`_parse.py`) rejects tool-call markup anywhere but where the call grammar puts it:
in a message, in a parameter value, before or after a call. Every tag starts with `<` and holds
no other `<`, so text is free of markup exactly when each `<` in it is followed by something
that does not complete a tag. That is a regular language, written here as a trie over the
tags: after a `<`, the text may end, take a character that leaves the trie (then anything up
to the next `<`), or follow the trie one character further, never to a complete tag.

Whitespace is Python's (`str.isspace`), because the parser strips and skips with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from policy_agent.format._grammar_syntax import (
    Definition,
    Expr,
    Lit,
    Ref,
    alt,
    chars,
    opt,
    plus,
    seq,
    star,
)
from policy_agent.format._parse import _MARKUP

# No code point above U+3000 is whitespace in any Unicode version Python has shipped; the
# test suite checks the whole range.
WHITESPACE = "".join(c for c in map(chr, range(0x3001)) if c.isspace())
TOOL_CALL_OPEN, TOOL_CALL_CLOSE = "<tool_call>", "</tool_call>"
PARAMETER_CLOSE = "</parameter>"
_JSON_FORBIDDEN = '"\\' + "".join(map(chr, range(0x20)))


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    complete: bool = False


THINK_OPEN = "<think>"


def _trie(tags: tuple[str, ...]) -> _Node:
    root = _Node()
    for tag in tags:
        # The construction relies on this; a new tag that breaks it must change the trie.
        assert tag.startswith("<") and "<" not in tag[1:], tag
        node = root
        for char in tag[1:]:
            node = node.children.setdefault(char, _Node())
        node.complete = True
    return root


def _node_name(prefix: str, path: str) -> str:
    # Paths hold letters, `_` and `/` (`=` and `>` only end complete tags).
    return f"{prefix}_lt_" + path.replace("/", "slash_") if path else f"{prefix}_lt"


def markup_free_definitions(
    prefix: str, *, json_string: bool, tags: tuple[str, ...] = _MARKUP
) -> list[Definition]:
    """Terminals `{prefix}` (text without markup), `{prefix}_chunk` (a `<` and what may follow
    it up to the next `<`) and `{prefix}_lt...` (what follows a `<`); `tags` are the markup.

    With `json_string`, the text is the inside of a JSON string literal: no `"`, `\\` or
    control character except as a JSON escape.
    """
    forbidden = "<" + (_JSON_FORBIDDEN if json_string else "")
    escape: tuple[Expr, ...] = ()
    if json_string:
        hex_digit = chars("0123456789abcdefABCDEF")
        escape = (seq(Lit("\\"), alt(chars('"\\/bfnrt'), seq(Lit("u"), *[hex_digit] * 4))),)
    unit = alt(chars(forbidden, negated=True), *escape)
    definitions: list[Definition] = []

    def after_lt(node: _Node, path: str) -> str:
        name = _node_name(prefix, path)
        options: list[Expr] = [Lit("")]
        leave = alt(chars(forbidden + "".join(node.children), negated=True), *escape)
        options.append(seq(leave, star(unit)))
        for char, child in node.children.items():
            if child.complete:
                assert not child.children, "a tag that is a prefix of another"
                continue
            options.append(seq(Lit(char), Ref(after_lt(child, path + char))))
        definitions.append(Definition(name, alt(*options), terminal=True))
        return name

    after = after_lt(_trie(tags), "")
    chunk = Definition(f"{prefix}_chunk", seq(Lit("<"), Ref(after)), terminal=True)
    text = Definition(prefix, seq(star(unit), star(Ref(chunk.name))), terminal=True)
    return [text, chunk, *reversed(definitions)]


def text_definitions(*, thinking: bool) -> list[Definition]:
    """`text` (no markup), `ws` (one or more whitespace), and what builds them; in instruct
    mode also `lead_chunk`, a first `<` chunk that does not open `<think>` (see `message`)."""
    lead = [] if thinking else markup_free_definitions("lead", json_string=False, tags=_LEAD)
    return [
        *markup_free_definitions("text", json_string=False),
        *[d for d in lead if d.name != "lead"],
        Definition("ws", plus(chars(WHITESPACE)), terminal=True),
    ]


_LEAD = (*_MARKUP, THINK_OPEN)


def message(*, thinking: bool) -> Expr:
    """A message: text without markup holding a character that is not whitespace.

    Instruct mode: the text does not open a `<think>` block after its leading whitespace. The
    prompt closed the reasoning, and `split_reasoning(opened=False)` reads such a block as
    reasoning, which would turn the message into something else (an empty answer, an
    unfinished reasoning).
    """
    return seq(star(chars(WHITESPACE)), _first_piece(thinking), star(Ref("text_chunk")))


def _first_piece(thinking: bool) -> Expr:
    first = seq(chars("<" + WHITESPACE, negated=True), star(chars("<", negated=True)))
    return alt(first, Ref("text_chunk" if thinking else "lead_chunk"))


def call_head(*, prelude: bool, thinking: bool) -> Expr:
    """From the start of the answer to `<tool_call>` included.

    `prelude`: any text without markup may come first (the parser reads it as reasoning);
    otherwise only whitespace. `thinking`: the answer does not start with `<tool_call>`, so
    that vLLM >= 0.33, which ends the reasoning at a `<tool_call>` token written inside it,
    masks that token while the model reasons (docs/grammar.md). Instruct mode: the prelude
    does not open a `<think>` block (as `message`).
    """
    if not prelude:
        space = plus(chars(WHITESPACE)) if thinking else star(chars(WHITESPACE))
        return seq(space, Lit(TOOL_CALL_OPEN))
    if not thinking:
        text = opt(seq(_first_piece(thinking), star(Ref("text_chunk"))))
        return seq(star(chars(WHITESPACE)), text, Lit(TOOL_CALL_OPEN))
    non_empty = alt(
        seq(plus(chars("<", negated=True)), star(Ref("text_chunk"))), plus(Ref("text_chunk"))
    )
    return seq(non_empty, Lit(TOOL_CALL_OPEN))


def call_tail() -> Expr:
    """`</tool_call>` and the whitespace that may end the answer."""
    return seq(Lit(TOOL_CALL_CLOSE), star(chars(WHITESPACE)))


def optional_space() -> Expr:
    """Whitespace or nothing, between two tags of a call."""
    return opt(Ref("ws"))
