"""The one-action grammar as text: its pieces, its errors, the request field, the command.

What the engines make of it is in test_grammar_engine.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.cli._grammar import _SYNTAXES
from policy_agent.format import (
    SUPPORTED_VLLM,
    FunctionSpec,
    GrammarError,
    GrammarSyntax,
    PromptStyle,
    answer_grammar,
    grammar_request_fields,
    serve_backend,
)
from policy_agent.format._grammar_text import WHITESPACE
from tests.format.grammar_support import functions

HOTEL = Path(__file__).parents[2] / "domains" / "hotel"


def _tool(name: str, properties: dict[str, object], required: list[str]) -> FunctionSpec:
    return FunctionSpec(
        name=name,
        parameters={"type": "object", "properties": properties, "required": required},
    )


def test_whitespace_is_exactly_what_python_strips() -> None:
    # The parser strips and skips with str.isspace; the grammar must mean the same characters.
    assert "".join(c for c in map(chr, range(0x110000)) if c.isspace()) == WHITESPACE


def test_the_syntax_choices_are_the_grammar_syntaxes() -> None:
    assert tuple(s.value for s in GrammarSyntax) == _SYNTAXES


def test_a_tool_rule_lists_its_parameters_in_schema_order_optional_ones_optional() -> None:
    tool = _tool(
        "request_cribs",
        {"booking_id": {"type": "string"}, "count": {"type": "integer"}, "note": {}},
        ["booking_id", "count"],
    )
    lark = answer_grammar([tool], syntax=GrammarSyntax.LARK)
    assert (
        'tool_0_request_cribs: "<function=request_cribs>" WS? "<parameter=booking_id>" '
        'VALUE_TEXT WS? "<parameter=count>" VALUE_0_1 (WS? "<parameter=note>" VALUE_TEXT)? '
        'WS? "</function>"'
    ) in lark.splitlines()
    assert 'VALUE_0_1: "\\n"? "-"? ("0" | /[1-9]/ /[0-9]/{0,17}) "\\n"? "</parameter>"' in (
        lark.splitlines()
    )
    ebnf = answer_grammar([tool], syntax=GrammarSyntax.EBNF)
    assert (
        'tool_0_request_cribs ::= "<function=request_cribs>" ws? "<parameter=booking_id>" '
        'value_text ws? "<parameter=count>" value_0_1 (ws? "<parameter=note>" value_text)? '
        'ws? "</function>"'
    ) in ebnf.splitlines()
    assert ebnf.splitlines()[2] == "root ::= message | call"
    assert lark.splitlines()[:4] == [
        "%llguidance {}",
        "// policy-agent: one answer (card style), the text after </think>:",
        "// one message to the user, or exactly one <tool_call> of one of these tools.",
        "start: MESSAGE | call",
    ]


def test_vllm_tells_the_syntaxes_apart() -> None:
    # vLLM's grammar_is_likely_lark (vllm/v1/structured_output/utils.py, 0.17.1 to 0.33.0)
    # calls a grammar EBNF when a line holds `::=`; llguidance's any_to_lark calls it Lark when
    # a line starts with `%llguidance` or `start:`.
    for pack in ("hotel", "tau2-airline"):
        lark = answer_grammar(functions(pack), syntax=GrammarSyntax.LARK)
        ebnf = answer_grammar(functions(pack), syntax=GrammarSyntax.EBNF)
        assert "::=" not in lark
        assert all(line.startswith("#") or "::=" in line for line in ebnf.split("\n")[:-1])
        assert not any(line.startswith(("%llguidance", "start:")) for line in ebnf.splitlines())


def test_a_pack_without_tools_allows_only_a_message() -> None:
    grammar = answer_grammar([], syntax=GrammarSyntax.EBNF)
    assert grammar.split("\n")[2] == "root ::= message"
    assert "call_head" not in grammar


def test_a_later_tool_of_the_same_name_is_left_out_as_the_parser_ignores_it() -> None:
    first = _tool("lookup", {"id": {"type": "string"}}, ["id"])
    second = _tool("lookup", {"other": {"type": "integer"}}, ["other"])
    grammar = answer_grammar([first, second], syntax=GrammarSyntax.EBNF)
    assert "tool_1" not in grammar
    assert "<parameter=other>" not in grammar


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        (_tool("look up", {}, []), "tool 'look up': the parser reads no function name"),
        (
            _tool("lookup", {"id": {"type": "string"}}, ["id", "when"]),
            "tool lookup: required parameter 'when' is not among its properties",
        ),
        (
            _tool("lookup", {"an id": {"type": "string"}}, ["an id"]),
            "tool lookup: required parameter 'an id' has a name the parser cannot read",
        ),
        (
            _tool("lookup", {"n": {"enum": [1, 2]}}, ["n"]),
            "tool lookup, parameter n: no value of its enum [1, 2] can be written",
        ),
    ],
)
def test_a_tool_no_answer_could_call_is_an_error_that_says_why(
    tool: FunctionSpec, message: str
) -> None:
    with pytest.raises(GrammarError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        answer_grammar([tool])


def test_an_optional_parameter_with_an_unreadable_name_is_never_offered() -> None:
    tool = _tool("lookup", {"id": {"type": "string"}, "a b": {"type": "string"}}, ["id"])
    assert "a b" not in answer_grammar([tool])


def test_enum_values_are_written_as_vllm_types_them_back() -> None:
    # An integer enum is written as its JSON; a string enum as the text itself.
    tool = _tool("pick", {"n": {"type": "integer", "enum": [1, 2]}, "s": {"enum": ["a"]}}, [])
    grammar = answer_grammar([tool], syntax=GrammarSyntax.EBNF)
    assert 'value_0_0 ::= "\\n"? ("1" | "2") "\\n"? "</parameter>"' in grammar.splitlines()
    assert 'value_0_1 ::= "\\n"? "a" "\\n"? "</parameter>"' in grammar.splitlines()


@pytest.mark.parametrize("release", ["0.17.1", "0.21.0", "0.22.1", "0.33.0", "0.25"])
@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_every_supported_release_reads_structured_outputs_grammar(
    release: str, endpoint: str
) -> None:
    # vllm/entrypoints/openai/{chat_completion,completion}/protocol.py of each release:
    # `structured_outputs: StructuredOutputsParams`; no release reads guided_grammar.
    fields = grammar_request_fields("start: MESSAGE", GrammarSyntax.LARK, release, endpoint)  # type: ignore[arg-type]
    assert fields == {"structured_outputs": {"grammar": "start: MESSAGE"}}


@pytest.mark.parametrize("release", ["0.16.0", "0.17.0", "0.34.0", "0.10", "latest"])
def test_a_release_outside_the_checked_range_is_refused(release: str) -> None:
    with pytest.raises(ValueError, match=r"checked for vLLM 0\.17\.1 through 0\.33\.0"):
        grammar_request_fields("root ::= x", GrammarSyntax.EBNF, release)


def test_an_empty_grammar_is_refused() -> None:
    with pytest.raises(ValueError, match="empty ebnf grammar"):
        grammar_request_fields(" \n", GrammarSyntax.EBNF, "0.33.0")


def test_the_backend_each_syntax_needs() -> None:
    assert SUPPORTED_VLLM == ("0.17.1", "0.33.0")
    assert serve_backend(GrammarSyntax.LARK) == "guidance"
    assert serve_backend(GrammarSyntax.EBNF) == "xgrammar"


@pytest.mark.parametrize("syntax", _SYNTAXES)
@pytest.mark.parametrize("style", ["card", "template"])
@pytest.mark.parametrize("instruct", [False, True])
def test_the_command_prints_exactly_the_grammar(syntax: str, style: str, instruct: bool) -> None:
    args = ["grammar", "--domain", str(HOTEL), "--syntax", syntax, "--style", style]
    result = CliRunner().invoke(main, args + (["--instruct"] if instruct else []))
    assert result.exit_code == 0, result.output
    expected = answer_grammar(
        functions("hotel"),
        style=PromptStyle(style),
        thinking=not instruct,
        syntax=GrammarSyntax(syntax),
    )
    assert result.stdout == expected


def test_the_command_reports_a_broken_pack_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "domain.yaml").write_text("name: broken\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["grammar", "--domain", str(tmp_path)])
    assert result.exit_code == 2
    assert "domain.yaml" in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output


def test_the_command_does_not_import_litellm() -> None:
    code = (
        "import sys; from policy_agent.cli import main;"
        "main(['grammar', '--domain', sys.argv[1]], standalone_mode=False);"
        "print('litellm' in sys.modules, file=sys.stderr)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(HOTEL)], capture_output=True, text=True, check=True
    )
    assert out.stderr.strip() == "False"
