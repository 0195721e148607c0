"""The chatml export: the prompt of every agent turn as the server got it (completions: the very
bytes it received; chat: what its chat template renders from the request it received)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from pydantic import TypeAdapter

from policy_agent.domain import load_pack
from policy_agent.export import END_OF_TURN, ChatMLTurn, PromptMismatch, export_run
from policy_agent.format import functions_from_openai, render_conversation
from policy_agent.records import ChatMessage
from policy_agent.report import load_run
from tests.agent._hotel_script import AGENT_TURNS, Call
from tests.export.conftest import STYLES, ModelRun, model_run_on
from tests.report._support import HOTEL, copy_hotel


def chatml(run: Path, pack: Path = HOTEL, **options: bool) -> list[ChatMLTurn]:
    out = io.StringIO()
    export_run(load_run(run), load_pack(pack), "chatml", out, include_oracle=True, **options)  # type: ignore[arg-type]
    return [ChatMLTurn.model_validate_json(line) for line in out.getvalue().splitlines()]


def server_rendering(body: dict[str, object]) -> str:
    """The prompt a chat-template server builds from this chat request (FORMAT.md's rules)."""
    messages = TypeAdapter(list[ChatMessage]).validate_python(body["messages"])
    tools = body.get("tools")
    kwargs = body.get("chat_template_kwargs") or {}
    assert isinstance(kwargs, dict)
    return render_conversation(
        messages,
        functions_from_openai(tools) if isinstance(tools, list) else None,
        thinking=bool(kwargs.get("enable_thinking", True)),
        truncate_history_thinking=bool(kwargs.get("truncate_history_thinking", True)),
    )


@pytest.mark.parametrize("name", STYLES)
def test_every_model_turn_is_a_line_with_the_episodes_reward(
    model_runs: dict[str, ModelRun], name: str
) -> None:
    run = model_runs[name]
    turns = chatml(run.directory)
    # The greeting is fixed text, not a model turn: the nine scripted answers are.
    assert [t.turn for t in turns] == list(range(len(AGENT_TURNS)))
    assert {(t.task_id, t.trial, t.reward, t.transport) for t in turns} == {
        ("card_triplet_cribs", 0, 1.0, run.transport)
    }
    assert all(t.finish_reason in ("stop", "tool_calls") for t in turns)
    assert all(t.completion.endswith(END_OF_TURN) for t in turns)


def test_completions_prompts_are_the_bytes_the_server_received(
    model_runs: dict[str, ModelRun],
) -> None:
    run = model_runs["completions"]
    turns = chatml(run.directory)
    assert [t.prompt for t in turns] == [body["prompt"] for body in run.requests]
    assert all(t.exact for t in turns)
    first_call = next(i for i, turn in enumerate(AGENT_TURNS) if isinstance(turn, Call))
    # The raw text as the model wrote it, and the stop token vLLM leaves out of it.
    assert turns[first_call].completion == (
        "Name given; check it against the guest record.</think>\n<tool_call>\n"
        "<function=get_guest_details>\n<parameter=guest_id>\nG90920\n</parameter>\n"
        "</function>\n</tool_call>" + END_OF_TURN
    )


@pytest.mark.parametrize("name", ["chat-card", "chat-template"])
def test_chat_prompts_are_what_the_template_renders_from_the_request(
    model_runs: dict[str, ModelRun], name: str
) -> None:
    run = model_runs[name]
    turns = chatml(run.directory)
    assert [t.prompt for t in turns] == [server_rendering(b) for b in run.requests]
    assert not any(t.exact for t in turns)


@pytest.mark.parametrize("name", ["chat-card", "chat-template"])
def test_a_call_and_its_result_continue_the_prompt_exactly(
    model_runs: dict[str, ModelRun], name: str
) -> None:
    """After a tool call comes its result and the next agent turn, with no user message between:
    that next prompt holds the call as rendered, so prompt + completion is its beginning (chat:
    the completion is the template's rendering of the turn)."""
    turns = chatml(model_runs[name].directory)
    calls = [i for i, turn in enumerate(AGENT_TURNS[:-1]) if isinstance(turn, Call)]
    assert calls
    for index in calls:
        turn, following = turns[index], turns[index + 1]
        assert following.prompt.startswith(turn.prompt + turn.completion + "\n")


@pytest.mark.parametrize("name", ["chat-card", "chat-template"])
def test_the_completion_of_a_chat_turn_is_its_template_rendering(
    model_runs: dict[str, ModelRun], name: str
) -> None:
    first_call = next(i for i, turn in enumerate(AGENT_TURNS) if isinstance(turn, Call))
    assert chatml(model_runs[name].directory)[first_call].completion == (
        "Name given; check it against the guest record.\n</think>\n<tool_call>\n"
        "<function=get_guest_details>\n<parameter=guest_id>\nG90920\n</parameter>\n"
        "</function>\n</tool_call>\n" + END_OF_TURN
    )


def test_a_changed_policy_is_refused_or_flagged(tmp_path: Path) -> None:
    pack = copy_hotel(tmp_path / "repo")
    run = model_run_on(tmp_path / "runs", "completions", "card", domain=pack)
    policy = pack / "policy.md"
    policy.write_text(policy.read_text(encoding="utf-8") + "\nOne more rule.\n", encoding="utf-8")
    with pytest.raises(PromptMismatch, match="agent turn 0: the prompt rebuilt from the run"):
        chatml(run.directory, pack)
    flagged = chatml(run.directory, pack, allow_inexact=True)
    assert len(flagged) == len(AGENT_TURNS) and not any(t.exact for t in flagged)


def test_an_oracle_run_has_no_model_turns(demo: Path) -> None:
    assert chatml(demo) == []


def test_the_lines_are_json_with_these_keys(model_runs: dict[str, ModelRun]) -> None:
    out = io.StringIO()
    export_run(load_run(model_runs["completions"].directory), load_pack(HOTEL), "chatml", out)
    first = json.loads(out.getvalue().splitlines()[0])
    assert list(first) == [
        "task_id",
        "trial",
        "turn",
        "prompt",
        "completion",
        "reward",
        "exact",
        "transport",
        "finish_reason",
    ]
