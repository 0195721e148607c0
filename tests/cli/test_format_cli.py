"""`policy-agent prompt`, `render` and `parse`: byte-exact output, exit 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from policy_agent.cli import main
from policy_agent.cli._format import _STYLES
from policy_agent.domain import load_pack
from policy_agent.format import FunctionSpec, PromptStyle, system_prompt

HOTEL = Path(__file__).parents[2] / "domains" / "hotel"
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_booking",
            "description": "Look up a booking. ",
            "parameters": {
                "type": "object",
                "properties": {"booking_id": {"type": "string", "description": "e.g. B11246"}},
                "required": ["booking_id"],
            },
        },
    }
]
CARD_PROMPT = (
    "You are a customer service agent that helps the user.  The policy that determines how you "
    "should respond to requests from users is described below between the <policy> and "
    "</policy> tags.\n\nIn each turn you can either:\n- Send a message to the user.\n"
    "- Make a tool call.\nYou cannot do both at the same time.\n\n<policy>\nBe kind. Café.\n"
    "</policy>\n\nTry to be helpful and always follow the policy.\n\n# Tools\n\n"
    "You have access to the following functions:\n\n<tools>\n<function>\n<name>get_booking</name>\n"
    "<description>Look up a booking.</description>\n<parameters>\n<parameter>\n"
    "<name>booking_id</name>\n<type>string</type>\n<description>e.g. B11246</description>\n"
    '</parameter>\n<required>["booking_id"]</required>\n</parameters>\n</function>\n</tools>\n'
)


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "policy.md").write_text("Be kind. Café.\n", encoding="utf-8")
    (tmp_path / "tools.json").write_text(json.dumps(TOOLS), encoding="utf-8")
    return tmp_path


def _run(args: list[str], stdin: bytes | None = None) -> Result:
    return CliRunner().invoke(main, args, input=stdin)


def _bad(result: Result, message: str) -> None:
    """Exit 2, the message on stderr, nothing on stdout, no traceback."""
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stdout == ""
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


def test_style_choices_are_the_prompt_styles() -> None:
    assert tuple(style.value for style in PromptStyle) == _STYLES


def test_prompt_card_style_is_byte_exact(files: Path) -> None:
    result = _run(
        ["prompt", "--policy", str(files / "policy.md"), "--tools", str(files / "tools.json")]
    )
    assert result.exit_code == 0
    assert result.stdout_bytes == CARD_PROMPT.encode("utf-8")


def test_prompt_template_style(files: Path) -> None:
    result = _run(
        [
            "prompt",
            "--policy",
            str(files / "policy.md"),
            "--tools",
            str(files / "tools.json"),
            "--style",
            "template",
        ]
    )
    assert result.exit_code == 0
    expected_tools = CARD_PROMPT[CARD_PROMPT.index("# Tools") :].removesuffix("\n")
    assert result.stdout.startswith(CARD_PROMPT[: CARD_PROMPT.index("# Tools")] + expected_tools)
    assert result.stdout.endswith("</IMPORTANT>")


@pytest.mark.parametrize("style", _STYLES)
def test_prompt_from_a_domain_pack(style: str) -> None:
    pack = load_pack(HOTEL)
    functions = [FunctionSpec.from_openai(tool.openai_schema()) for tool in pack.tools]
    result = _run(["prompt", "--domain", str(HOTEL), "--style", style])
    assert result.exit_code == 0, result.output
    assert result.stdout == system_prompt(pack.policy, functions, PromptStyle(style))
    assert result.stdout.count("<function>\n") == len(pack.tools)


def test_prompt_reports_a_broken_pack(tmp_path: Path) -> None:
    (tmp_path / "domain.yaml").write_text("name: broken\n", encoding="utf-8")
    _bad(_run(["prompt", "--domain", str(tmp_path)]), "domain.yaml")


def test_prompt_needs_domain_or_policy_and_tools(files: Path) -> None:
    _bad(_run(["prompt", "--policy", str(files / "policy.md")]), "give --domain DIR, or both")
    _bad(
        _run(["prompt", "--domain", str(HOTEL), "--tools", str(files / "tools.json")]),
        "not both",
    )


def test_prompt_names_a_missing_file(files: Path) -> None:
    _bad(
        _run(["prompt", "--policy", str(files / "nope.md"), "--tools", str(files / "tools.json")]),
        "nope.md' does not exist",
    )


def test_prompt_names_invalid_json_with_its_line(files: Path) -> None:
    (files / "tools.json").write_text('[\n{"type": ]', encoding="utf-8")
    _bad(
        _run(
            ["prompt", "--policy", str(files / "policy.md"), "--tools", str(files / "tools.json")]
        ),
        f"{files / 'tools.json'}:2:10: not valid JSON",
    )


def test_prompt_names_the_bad_tool_field(files: Path) -> None:
    (files / "tools.json").write_text('[{"type": "function", "function": {"name": 3}}]')
    _bad(
        _run(
            ["prompt", "--policy", str(files / "policy.md"), "--tools", str(files / "tools.json")]
        ),
        f"{files / 'tools.json'}[0].function.name: expected a non-empty string, got int 3",
    )


def test_prompt_names_a_file_that_is_not_utf8(files: Path) -> None:
    (files / "policy.md").write_bytes(b"caf\xe9")
    _bad(
        _run(
            ["prompt", "--policy", str(files / "policy.md"), "--tools", str(files / "tools.json")]
        ),
        "policy.md: not UTF-8 text",
    )


MESSAGES = [
    {"role": "system", "content": "S"},
    {"role": "user", "content": "Hi"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_booking", "arguments": '{"booking_id": "B1"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "content": '{"status": "confirmed"}'},
]
RENDERED = (
    "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    "<think></think>\n<tool_call>\n<function=get_booking>\n<parameter=booking_id>\nB1\n</parameter>\n"
    "</function>\n</tool_call>\n<|im_end|>\n<|im_start|>user\n<tool_response>\n"
    '{"status": "confirmed"}\n</tool_response>\n<|im_end|>\n<|im_start|>assistant\n'
)


def test_render_is_byte_exact(tmp_path: Path) -> None:
    (tmp_path / "messages.json").write_text(json.dumps(MESSAGES))
    result = _run(["render", "--messages", str(tmp_path / "messages.json")])
    assert result.exit_code == 0
    assert result.stdout_bytes == (RENDERED + "<think>\n").encode()
    instruct = _run(["render", "--messages", str(tmp_path / "messages.json"), "--instruct"])
    assert instruct.stdout_bytes == (RENDERED + "<think></think>").encode()


def test_render_with_tools(files: Path) -> None:
    (files / "messages.json").write_text(json.dumps(MESSAGES[1:2]))
    result = _run(
        ["render", "--messages", str(files / "messages.json"), "--tools", str(files / "tools.json")]
    )
    assert result.exit_code == 0
    assert result.stdout.startswith(
        "<|im_start|>system\n# Tools\n\nYou have access to the following functions:"
    )
    assert "<name>get_booking</name>" in result.stdout


def test_render_names_the_bad_message_field(tmp_path: Path) -> None:
    (tmp_path / "messages.json").write_text(
        json.dumps([{"role": "user", "content": "Hi"}, {"role": "user", "content": 5}])
    )
    _bad(
        _run(["render", "--messages", str(tmp_path / "messages.json")]),
        f"{tmp_path / 'messages.json'}: [1].content: Input should be a valid string",
    )


def test_render_names_an_unknown_role(tmp_path: Path) -> None:
    (tmp_path / "messages.json").write_text(json.dumps([{"role": "robot", "content": "Hi"}]))
    _bad(_run(["render", "--messages", str(tmp_path / "messages.json")]), "messages.json: [0]: ")


def test_render_wants_a_list(tmp_path: Path) -> None:
    (tmp_path / "messages.json").write_text("{}")
    _bad(
        _run(["render", "--messages", str(tmp_path / "messages.json")]),
        "messages.json: messages: Input should be a valid list",
    )


COMPLETION = (
    "The guest wants B1.</think>\n<tool_call>\n<function=get_booking>\n<parameter=booking_id>\nB1\n"
    "</parameter>\n</function>\n</tool_call>"
)


def test_parse_prints_the_turn_as_one_json_line(files: Path) -> None:
    result = _run(["parse", "--tools", str(files / "tools.json")], COMPLETION.encode())
    assert result.exit_code == 0
    assert result.stdout == (
        '{"kind":"tool_call","name":"get_booking","arguments":{"booking_id":"B1"},'
        '"reasoning":"The guest wants B1.","prelude":null}\n'
    )


def test_parse_instruct_mode(files: Path) -> None:
    result = _run(["parse", "--tools", str(files / "tools.json"), "--instruct"], "Hello é".encode())
    assert json.loads(result.stdout) == {"kind": "message", "content": "Hello é", "reasoning": None}


def test_parse_a_violation_is_a_result_not_an_error(files: Path) -> None:
    result = _run(["parse", "--tools", str(files / "tools.json")], b"still thinking")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["code"] == "unterminated_reasoning"


def test_parse_with_a_domain_types_arguments_by_its_schemas() -> None:
    pack = load_pack(HOTEL)
    tool = next(
        t for t in pack.tools if any(s.get("type") == "integer" for s in t.parameters.values())
    )
    name = next(n for n, s in tool.parameters.items() if s.get("type") == "integer")
    completion = (
        f"</think><tool_call>\n<function={tool.name}>\n<parameter={name}>\n2\n</parameter>\n"
        "</function>\n</tool_call>"
    )
    result = _run(["parse", "--domain", str(HOTEL)], completion.encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["arguments"] == {name: 2}


def test_parse_needs_exactly_one_source_of_tools(files: Path) -> None:
    _bad(_run(["parse"], b""), "give exactly one of --tools FILE and --domain DIR")
    _bad(
        _run(["parse", "--tools", str(files / "tools.json"), "--domain", str(HOTEL)], b""),
        "give exactly one",
    )


def test_parse_rejects_stdin_that_is_not_utf8(files: Path) -> None:
    _bad(
        _run(["parse", "--tools", str(files / "tools.json")], b"\xff\xfe"), "stdin: not UTF-8 text"
    )
