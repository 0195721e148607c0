"""Shared by the grammar tests: the packs, the grammar engines, answers built from schemas, and
an oracle that says from the parser alone whether an answer is one valid action.

The engines get a byte-level tokenizer (256 byte tokens and an end token): the real Nemotron
tokenizer cannot be downloaded here, and byte tokens make the engine decide on every byte, so
acceptance is exactly acceptance of the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import strategies as st

from policy_agent.domain import load_pack
from policy_agent.format import (
    FunctionSpec,
    GrammarSyntax,
    PromptStyle,
    answer_grammar,
    coerce_value,
    functions_from_openai,
    parse_completion,
)
from policy_agent.records import Message, ToolCall

ROOT = Path(__file__).parents[2]
FIXTURE = Path(__file__).with_name("fixtures") / "tau2_tools.json"
PACKS = ("hotel", "tau2-airline", "tau2-retail", "tau2-telecom")
MARKUP = (
    "<tool_call>",
    "</tool_call>",
    "<function=",
    "</function>",
    "<parameter=",
    "</parameter>",
)
# Python whitespace (str.isspace), which the parser strips and skips: a sample of each sort.
SPACES = ("\n", " ", "\t", "\r\n", "\x0b", "\x1c", "\x85", "\xa0", "\u2003", "\u3000")


@cache
def functions(pack: str) -> tuple[FunctionSpec, ...]:
    """The functions of a shipped pack (`hotel`) or an imported tau2 pack (from the fixture)."""
    if pack.startswith("tau2-"):
        fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
        return functions_from_openai(fixture["packs"][pack.removeprefix("tau2-")])
    loaded = load_pack(ROOT / "domains" / pack)
    return tuple(FunctionSpec.from_openai(tool.openai_schema()) for tool in loaded.tools)


Accepts = Callable[[str], bool]


@cache
def llguidance_accepts(
    pack: str, syntax: GrammarSyntax, style: PromptStyle, thinking: bool
) -> Accepts:
    """A predicate: does llguidance (vLLM's `guidance` backend) accept this answer?"""
    import llguidance
    from llguidance import LLMatcher, LLTokenizer, TokenizerWrapper

    grammar = answer_grammar(functions(pack), style=style, thinking=thinking, syntax=syntax)
    # As vLLM's backend_guidance.py does: "grammar" converts GBNF to Lark when needed.
    compiled = llguidance.grammar_from("grammar", grammar)
    tokenizer = LLTokenizer(TokenizerWrapper(_ByteTokenizer()))
    error = LLMatcher.validate_grammar(compiled, tokenizer)
    assert not error, error
    pristine = LLMatcher(tokenizer, compiled, log_level=0)

    def accepts(text: str) -> bool:
        # A matcher that saw a rejected byte stays in error (reset() does not clear it).
        matcher = pristine.deep_copy()
        ok = matcher.consume_tokens(list(text.encode("utf-8")))
        return bool(ok) and not matcher.is_error() and matcher.is_accepting()

    return accepts


@cache
def xgrammar_accepts(pack: str, style: PromptStyle, thinking: bool) -> Accepts:
    """A predicate: does xgrammar (vLLM's `xgrammar` backend) accept this EBNF answer?"""
    import xgrammar

    vocab = [bytes([i]) for i in range(256)] + [b"<|im_end|>"]
    info = xgrammar.TokenizerInfo(vocab, vocab_type=xgrammar.VocabType.RAW, stop_token_ids=[256])
    grammar = answer_grammar(
        functions(pack), style=style, thinking=thinking, syntax=GrammarSyntax.EBNF
    )
    compiled = xgrammar.GrammarCompiler(info).compile_grammar(grammar)

    def accepts(text: str) -> bool:
        matcher = xgrammar.GrammarMatcher(compiled)
        return bool(matcher.accept_string(text.encode("utf-8")) and matcher.accept_token(256))

    return accepts


class _ByteTokenizer:
    eos_token_id = 256
    bos_token_id = None
    tokens = [bytes([i]) for i in range(256)] + [b"<|im_end|>"]
    special_token_ids: ClassVar[list[int]] = [256]

    def __call__(self, text: bytes) -> list[int]:
        return list(text)


# ---- answers built from the schemas ----------------------------------------------------

FRAGMENTS = (
    "<",
    ">",
    "=",
    "<tool_call",
    "</parameter",
    "<function",
    "<para",
    "</",
    "\n",
    "{",
    "<think>",
    "</think>",
)
markup_free_text = (
    st.lists(st.one_of(st.text(max_size=8), st.sampled_from(FRAGMENTS)), max_size=6)
    .map("".join)
    .filter(lambda text: not any(tag in text for tag in MARKUP))
)
# llguidance's %json escapes DEL (its JSON string characters exclude \x7f), so a raw DEL, which
# json.dumps writes, is outside the Lark grammar's JSON (docs/grammar.md).
json_text = markup_free_text.map(lambda text: text.replace("\x7f", ""))
space = st.lists(st.sampled_from(SPACES), max_size=2).map("".join)


def value_texts(schema: Any, defs: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """The text of a well-formed value of a parameter with `schema`, as the model writes it."""
    if isinstance(schema, dict) and ("enum" in schema or "const" in schema):
        members = schema.get("enum", [schema.get("const")])
        return st.sampled_from([m if isinstance(m, str) else json.dumps(m) for m in members])
    kind = _kind(schema)
    if kind == "integer":
        return st.integers(-(10**18) + 1, 10**18 - 1).map(str)
    if kind == "number":
        return st.one_of(
            st.integers(-(10**6), 10**6).map(str),
            st.floats(1e-6, 1e12).map(repr),
            st.floats(-1e12, -1e-6).map(repr),
        )
    if kind == "boolean":
        return st.sampled_from(["true", "false", "True", "False"])
    if kind in ("object", "array"):
        return json_values(schema, defs).map(lambda value: json.dumps(value, ensure_ascii=False))
    return markup_free_text


def _kind(schema: Any) -> str:
    declared = schema.get("type") if isinstance(schema, dict) else None
    if declared is None and isinstance(schema, dict) and "anyOf" in schema:
        declared = next(
            (o["type"] for o in schema["anyOf"] if isinstance(o, dict) and o.get("type") != "null"),
            None,
        )
    return declared if isinstance(declared, str) else "string"


def json_values(schema: Any, defs: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """JSON values valid against `schema` (the subset the packs use), keys in schema order."""
    if not isinstance(schema, dict):
        return st.just({})
    if "$ref" in schema:
        return json_values(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([json_values(option, defs) for option in schema["anyOf"]])
    match schema.get("type"):
        case "string":
            # llguidance's %json escapes DEL (its JSON string characters exclude \x7f), so a
            # raw DEL, which json.dumps writes, is outside the Lark grammar's JSON.
            return json_text
        case "integer":
            return st.integers(-1000, 1000)
        case "number":
            return st.one_of(st.integers(-1000, 1000), st.floats(-1e6, 1e6).filter(bool))
        case "boolean":
            return st.booleans()
        case "null":
            return st.none()
        case "array":
            return st.lists(json_values(schema.get("items", {}), defs), max_size=3)
        case "object" if "properties" in schema:
            required = set(schema.get("required", []))
            entries = []
            for key, sub in schema["properties"].items():
                entry = st.tuples(st.just(key), json_values(sub, defs)).map(lambda kv: [kv])
                entries.append(entry if key in required else st.one_of(st.just([]), entry))
            return st.tuples(*entries).map(lambda parts: dict(kv for part in parts for kv in part))
        case _:
            scalar = st.one_of(json_text, st.integers(-9, 9), st.booleans(), st.none())
            return st.dictionaries(json_text, scalar, max_size=3)


@st.composite
def calls(draw: st.DrawFn, pack: str, *, head: str = "\n") -> str:
    """A valid call of one of the pack's tools: required parameters and some optional ones,
    in schema order, each value well formed, whitespace where the parser skips it."""
    spec = draw(st.sampled_from(functions(pack)))
    defs = spec.parameters.get("$defs", {})
    required = set(spec.parameters.get("required", []))
    parts = [head, "<tool_call>", draw(space), f"<function={spec.name}>"]
    for name, schema in spec.properties.items():
        if name not in required and draw(st.booleans()):
            continue
        value = draw(value_texts(schema, defs))
        before, after = draw(st.sampled_from([("\n", "\n"), ("", ""), ("\n", ""), ("", "\n")]))
        if _kind(schema) == "string" and not ("enum" in schema or "const" in schema):
            before, after = "\n", "\n"  # free text may itself start or end with a newline
        parts += [draw(space), f"<parameter={name}>", before, value, after, "</parameter>"]
    parts += [draw(space), "</function>", draw(space), "</tool_call>", draw(space)]
    return "".join(parts)


messages = st.tuples(space, markup_free_text).map("".join)


# ---- the oracle --------------------------------------------------------------------------

_PARAMETER = re.compile(r"<parameter=([^>]*)>(.*?)</parameter>", re.DOTALL)
_WELL_FORMED = {
    "integer": r"-?(0|[1-9][0-9]{0,17})",
    "number": r"-?(0|[1-9][0-9]{0,17})(\.[0-9]+)?([eE][+-]?[0-9]{1,2})?",
    "boolean": r"true|false|True|False",
}


def one_valid_action(
    answer: str, specs: Sequence[FunctionSpec], *, style: PromptStyle, thinking: bool
) -> bool:
    """The grammar's specification, from the parser: `answer` (the text after `</think>`, or
    an instruct completion) is one message, or one call of a known tool with its parameters in
    schema order, each once, the required ones present, and every typed value well formed.

    The parser reads what the model wrote whole: in thinking mode the reasoning and its
    `</think>` come first (vLLM applies the grammar after them), in instruct mode the answer
    is the completion, which may not open a `<think>` block of its own."""
    if thinking:
        turn = parse_completion("reasoning</think>" + answer, specs, thinking=True)
    elif answer.lstrip().startswith("<think>"):
        return False
    else:
        turn = parse_completion(answer, specs, thinking=False)
    if isinstance(turn, Message):
        return True
    if not isinstance(turn, ToolCall):
        return False
    if thinking and answer.startswith("<tool_call>"):
        return False
    if style is PromptStyle.TEMPLATE and turn.prelude is not None:
        return False
    spec = next((s for s in specs if s.name == turn.name), None)
    if spec is None:
        return False
    order = list(spec.properties)
    found = _PARAMETER.findall(answer)
    names = [name for name, _ in found]
    if any(n not in order for n in names) or names != sorted(names, key=order.index):
        return False
    if not set(spec.parameters.get("required", [])) <= set(names):
        return False
    return all(_well_formed(region, spec, name) for name, region in found)


def _well_formed(region: str, spec: FunctionSpec, name: str) -> bool:
    schema = spec.properties[name]
    raw = region.removeprefix("\n").removesuffix("\n")
    if isinstance(schema, dict) and ("enum" in schema or "const" in schema):
        members = schema.get("enum", [schema.get("const")])
        texts = [m if isinstance(m, str) else json.dumps(m) for m in members]
        return raw in texts and coerce_value(raw, name, spec.properties) in members
    kind = _kind(schema)
    if kind in _WELL_FORMED:
        return re.fullmatch(_WELL_FORMED[kind], raw) is not None
    if kind in ("object", "array"):
        # The tests write JSON values as json.dumps does and never edit them: canonical JSON of
        # the right kind is what was generated (from the schema), anything else was not.
        try:
            value = json.loads(raw)
        except ValueError:
            return False
        right_kind = isinstance(value, dict if kind == "object" else list)
        return right_kind and json.dumps(value, ensure_ascii=False) == raw
    return True
