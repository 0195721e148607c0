"""Loading scripts: the shapes a script may take, and errors that point at file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from policy_agent.scripted import (
    Answer,
    RulesRole,
    Script,
    ScriptError,
    SeedRole,
    SequenceRole,
    load_script,
)

FIXTURES = Path(__file__).parent / "fixtures"


def test_example_fixture_loads_with_both_modes() -> None:
    script = load_script(FIXTURES / "example.yaml")
    agent, user = script.roles["agent"], script.roles["user"]
    assert isinstance(agent, SequenceRole)
    assert isinstance(user, RulesRole)
    assert agent.answers[1].tool_calls[0].arguments == {"booking_id": "B11246"}
    assert user.fallback == Answer(content="Sorry, I did not understand.")


def test_mode_defaults_to_sequence_and_a_bare_string_is_content() -> None:
    script = Script.model_validate({"roles": {"agent": {"answers": ["Hi", {"text": "raw"}]}}})
    role = script.roles["agent"]
    assert isinstance(role, SequenceRole)
    assert role.answers == [Answer(content="Hi"), Answer(text="raw")]
    assert role.when_exhausted == "error"
    assert script.reasoning_field == "reasoning"


def test_every_problem_is_reported_with_its_line_and_field() -> None:
    with pytest.raises(ScriptError) as caught:
        load_script(FIXTURES / "bad.yaml")
    bad = FIXTURES / "bad.yaml"
    assert str(caught.value).splitlines() == [
        "4 problems in the script:",
        f"  {bad}:5: roles.agent.answers[1]: an answer needs content, reasoning, tool_calls, "
        "text, a fault or hang: true",
        f"  {bad}:6: roles.agent.answers[2].fault.status: "
        "Input should be less than or equal to 599",
        f"  {bad}:10: roles.user.rules[0]: give exactly one of `contains` and `regex`",
        f"  {bad}:13: roles.user.rules[1].regex: '(unclosed' is not a valid regex: missing ), "
        "unterminated subpattern at position 0",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the script is empty"),
        (
            "roles: [unclosed",
            ":2:1: YAML syntax error: did not find expected ',' or ']' "
            "(while parsing a flow sequence at line 1, column 8)",
        ),
        (
            "roles: {agent: {answers: [hi]}}\ntypo: 1\n",
            ":2: unknown key 'typo'; expected one of latency_ms, reasoning_field, "
            "require_api_key, single_model, return_token_ids, prompt_tokens_details, "
            "vllm_version, chat_template, roles",
        ),
        ("roles: {}\n", ":1: roles: Dictionary should have at least 1 item"),
        (
            "roles:\n  agent:\n    mode: rules\n    rules: [{contains: x, answer: y}]\n"
            "    answers: [z]\n",
            ":5: roles.agent: unknown key 'answers'; expected one of mode, rules, fallback",
        ),
        (
            "roles:\n  agent:\n    answers:\n      - {hang: true, fault: {status: 500}}\n",
            ":4: roles.agent.answers[0]: an answer either hangs or has a fault, not both",
        ),
    ],
)
def test_bad_scripts_say_what_is_wrong(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(text)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "roles:\n  agent:\n    answers: [a]\n  agent:\n    answers: [b]\n",
            ":4: roles.agent: duplicate key 'agent' (first at line 2)",
        ),
        (
            "roles:\n  agent:\n    answers:\n      - !!python/object:os.system x\n",
            ":4: roles.agent.answers[0]: the tag !!python/object:os.system is not supported; "
            "write a plain YAML value",
        ),
        (
            "roles:\n  agent:\n    answers:\n      - contnet: hi\n",
            ":4: roles.agent.answers[0]: unknown key 'contnet' (did you mean 'content'?)",
        ),
        (
            "roles:\n  agent:\n    mode: sequense\n    answers: [hi]\n",
            ":3: roles.agent.mode: 'sequense' is not a mode; "
            "expected sequence (the default), rules or by_seed",
        ),
        (
            "roles:\n  agent:\n    answers:\n      - tool_calls: [{name: f, arguments: 5}]\n",
            ":4: roles.agent.answers[0].tool_calls[0].arguments: "
            "expected a mapping (key: value), found a number (5)",
        ),
        (
            "roles:\n  agent:\n    answers:\n      - {content: x, finish_reason: done}\n",
            ":4: roles.agent.answers[0].finish_reason: 'done' is not a valid finish_reason; "
            "expected one of stop, length, tool_calls",
        ),
        ("- roles\n", ":1: expected a mapping (key: value), found a list"),
    ],
)
def test_script_problems_are_said_as_pack_problems_are(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(text)
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).splitlines() == ["1 problem in the script:", f"  {path}{expected}"]


def test_scripts_are_yaml_1_2_so_words_and_dates_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text("latency_ms: 1e1\nroles:\n  agent:\n    answers: [no, on, 2025-06-04]\n")
    script = load_script(path)
    assert script.latency_ms == 10
    assert script.roles["agent"] == SequenceRole(answers=["no", "on", "2025-06-04"])


def test_a_missing_file_is_a_script_error(tmp_path: Path) -> None:
    with pytest.raises(ScriptError, match="cannot read the script"):
        load_script(tmp_path / "nope.yaml")


def test_fault_content_type_takes_no_charset() -> None:
    with pytest.raises(ValidationError, match="content_type"):
        Answer.model_validate({"fault": {"content_type": "text/html; charset=utf-8"}})


def test_by_seed_answers_load_with_integer_seeds_and_bare_strings() -> None:
    script = load_script(FIXTURES / "by_seed.yaml")
    agent = script.roles["agent"]
    assert isinstance(agent, SeedRole)
    assert list(agent.answers) == [1185468187, 1185468188]
    assert agent.answers[1185468188] == [Answer(content="Which booking?")]
    assert agent.answers[1185468187][0].tool_calls[0].arguments == '{"booking_id": "B11246"}'


def test_by_seed_problems_point_at_the_seed(tmp_path: Path) -> None:
    path = tmp_path / "script.yaml"
    path.write_text(
        "roles:\n  agent:\n    mode: by_seed\n    answers:\n      12:\n        - hi\n"
        "        - {}\n      x: [a]\n      14: []\n"
    )
    with pytest.raises(ScriptError) as caught:
        load_script(path)
    assert str(caught.value).splitlines() == [
        "3 problems in the script:",
        f"  {path}:7: roles.agent.answers['12'][1]: an answer needs content, reasoning, "
        "tool_calls, text, a fault or hang: true",
        f"  {path}:8: roles.agent.answers.x: expected a whole number, found text 'x'",
        f"  {path}:9: roles.agent.answers['14']: List should have at least 1 item after "
        "validation, not 0",
    ]
