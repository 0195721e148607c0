"""The grammar of one agent answer, for vLLM's structured outputs.

An answer is the text after `</think>` (vLLM, with a reasoning parser, constrains only that) or
the whole completion in instruct mode. The grammar allows exactly

    answer  := message | head call tail
    message := text without tool-call markup, not blank
    head    := card style: any text without markup (the parser's prelude, read as reasoning);
               template style: whitespace only — then `<tool_call>`
    call    := ws? "<function=NAME>" (ws? "<parameter=P>" VALUE "</parameter>")* ws?
               "</function>" ws?
    tail    := "</tool_call>" ws?

where NAME is one of the pack's tools and the parameters are that tool's, in the order its
schema lists them (the order the prompt shows), each at most once, the required ones present,
and VALUE is typed by the schema (`_grammar_values`). `ws` is Python whitespace, as the parser
skips it. In thinking mode the answer does not start with `<tool_call>` (see `call_head`).

Template style forbids the prelude because a chat request with `tools=` is parsed by the
server: text before a call becomes `content`, which `parse_structured` reports as
`text_with_tool_call`. Card style keeps it: `parse_completion` reads it as reasoning.

Everything the grammar accepts, `parse_completion` reads as that one message or that one call.
The converse fails only where the grammar is stricter on purpose (docs/grammar.md lists
these): parameters out of schema order, a prelude (template style), `<tool_call>` right after
`</think>`, an instruct completion that opens `<think>`, values the parser would type but that
are not well formed (`007`, `yes`), and JSON outside the grammar's JSON.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from policy_agent.format._functions import FunctionSpec
from policy_agent.format._grammar_syntax import (
    Definition,
    Expr,
    GrammarError,
    GrammarSyntax,
    Lit,
    Ref,
    alt,
    opt,
    seq,
    write_grammar,
)
from policy_agent.format._grammar_text import (
    call_head,
    call_tail,
    message,
    optional_space,
    text_definitions,
)
from policy_agent.format._grammar_values import (
    ValueKind,
    json_definitions,
    value_expr,
    value_kind,
)
from policy_agent.format._parse import _valid_name
from policy_agent.format._prompt import PromptStyle


def answer_grammar(
    functions: Sequence[FunctionSpec],
    *,
    style: PromptStyle = PromptStyle.CARD,
    thinking: bool = True,
    syntax: GrammarSyntax = GrammarSyntax.LARK,
) -> str:
    """The grammar of one answer calling `functions`, in `syntax`.

    `thinking`: the grammar covers what follows `</think>` (vLLM with a reasoning parser);
    otherwise the whole completion after the instruct prompt's `<think></think>`. Raises
    `GrammarError` for a tool no answer could call (a name the parser cannot read, a required
    parameter that cannot be written).
    """
    text = text_definitions(thinking=thinking)
    definitions: list[Definition] = []
    values: dict[str, Definition] = {}
    tools: list[Expr] = []
    seen: set[str] = set()
    for index, spec in enumerate(functions):
        if spec.name in seen:
            continue  # the parser types a call by the first function of that name
        seen.add(spec.name)
        rule = f"tool_{index}_{re.sub('[^a-z0-9]+', '_', spec.name.lower())}".rstrip("_")
        body = _tool_body(spec, index, syntax, values, {d.name: d.body for d in text})
        definitions.append(Definition(rule, body, terminal=False))
        tools.append(Ref(rule))
    answer: Expr = Ref("message")
    if tools:
        answer = alt(Ref("message"), Ref("call"))
    head = [
        Definition("answer", answer, terminal=False),
        Definition("message", message(thinking=thinking), terminal=True),
    ]
    if tools:
        call = seq(
            Ref("call_head"), optional_space(), alt(*tools), optional_space(), Ref("call_tail")
        )
        head += [
            Definition("call", call, terminal=False),
            Definition(
                "call_head",
                call_head(prelude=style is PromptStyle.CARD, thinking=thinking),
                terminal=True,
            ),
            Definition("call_tail", call_tail(), terminal=True),
        ]
    uses_json = syntax is GrammarSyntax.EBNF and any(
        _is_json(spec.properties.get(name)) for spec in functions for name in spec.properties
    )
    every = [
        *head,
        *definitions,
        *values.values(),
        *text,
        *(json_definitions() if uses_json else []),
    ]
    mode = "the text after </think>" if thinking else "the whole completion (instruct mode)"
    return write_grammar(
        syntax,
        every,
        [
            f"policy-agent: one answer ({style.value} style), {mode}:",
            "one message to the user, or exactly one <tool_call> of one of these tools.",
        ],
    )


def _tool_body(
    spec: FunctionSpec,
    index: int,
    syntax: GrammarSyntax,
    values: dict[str, Definition],
    markup_free: Mapping[str, Expr],
) -> Expr:
    if not _valid_name(spec.name):
        raise GrammarError(
            f"tool {spec.name!r}: the parser reads no function name with whitespace, quotes, "
            "<, >, { or }; rename the tool"
        )
    required = spec.parameters.get("required")
    required_names = (
        [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    )
    for name in required_names:
        if name not in spec.properties:
            raise GrammarError(
                f"tool {spec.name}: required parameter {name!r} is not among its properties; "
                "declare it or drop it from `required`"
            )
    items: list[Expr] = [Lit(f"<function={spec.name}>")]
    for position, name in enumerate(spec.properties):
        if not _valid_name(name):
            if name in required_names:
                raise GrammarError(
                    f"tool {spec.name}: required parameter {name!r} has a name the parser "
                    "cannot read (whitespace, quotes, <, >, { or }); rename it"
                )
            continue  # never readable, so never offered
        value, regular = value_expr(spec.name, name, spec.parameters, syntax, markup_free)
        if regular:
            value = Ref(_value_terminal(value, f"value_{index}_{position}", values))
        item = seq(optional_space(), Lit(f"<parameter={name}>"), value)
        items.append(item if name in required_names else opt(item))
    items += [optional_space(), Lit("</function>")]
    return seq(*items)


def _value_terminal(value: Expr, fallback: str, values: dict[str, Definition]) -> str:
    """The name of a terminal for `value`, shared by every parameter with the same value."""
    for definition in values.values():
        if definition.body == value:
            return definition.name
    shared = {
        seq(Ref("text"), Lit("</parameter>")): "value_text",
    }
    name = shared.get(value, fallback)
    values[name] = Definition(name, value, terminal=True)
    return name


def _is_json(schema: object) -> bool:
    if isinstance(schema, dict) and ("enum" in schema or "const" in schema):
        return False
    return value_kind(schema)[0] in (ValueKind.OBJECT, ValueKind.ARRAY)  # type: ignore[arg-type]
