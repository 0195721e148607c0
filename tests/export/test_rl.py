"""`--format rl`: a run made with `record_tokens` against a server returning vLLM-shaped token ids
and logprobs (the scripted server's byte-level stand-in, policy_agent/scripted/_tokenizer.py),
exported per generation and per episode, and checked."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.domain import load_pack
from policy_agent.export import (
    ChatMLTurn,
    NoTokens,
    RLEpisode,
    RLTurn,
    export_run,
    rl_checks,
    rl_records,
)
from policy_agent.records import AgentMessage, AgentToolCall, Episode, UserMessage
from policy_agent.report import load_run
from policy_agent.scripted import Script, ScriptedServer
from tests.agent._hotel_script import AGENT_TURNS, scripted
from tests.export.conftest import STYLES, ModelRun, model_run_on
from tests.report._support import HOTEL, STRICT_TASK, run_simulation
from tests.simulation._support import model, sim_config


@pytest.fixture(scope="module")
def token_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ModelRun]:
    """The model card's scenario per transport and style, with record_tokens on."""
    return {
        name: model_run_on(tmp_path_factory.mktemp(name), transport, style, record_tokens=True)
        for name, (transport, style) in STYLES.items()
    }


def exported(run: Path, export_format: str = "rl") -> list[dict[str, object]]:
    out = io.StringIO()
    export_run(load_run(run), load_pack(HOTEL), export_format, out, include_oracle=True)  # type: ignore[arg-type]
    return [json.loads(line) for line in out.getvalue().splitlines()]


def episodes(run: Path) -> list[Episode]:
    return load_run(run).episodes


@pytest.mark.parametrize("name", STYLES)
def test_every_agent_generation_keeps_its_tokens(
    token_runs: dict[str, ModelRun], name: str
) -> None:
    [episode] = episodes(token_runs[name].directory)
    generations = [
        r.generation
        for r in episode.messages
        if isinstance(r, AgentMessage | AgentToolCall) and r.generation is not None
    ]
    assert len(generations) == len(AGENT_TURNS)
    for generation in generations:
        assert generation.tokens is not None and generation.tokens.complete
    for request in token_runs[name].requests:
        assert request["return_token_ids"] is True


def test_completions_tokens_are_the_exact_prompt_and_the_raw_completion(
    token_runs: dict[str, ModelRun],
) -> None:
    run = token_runs["completions"]
    lines = exported(run.directory)
    turns = [RLTurn.model_validate(line) for line in lines if line["kind"] == "turn"]
    [episode_line] = [RLEpisode.model_validate(line) for line in lines if line["kind"] == "episode"]
    assert [t.turn for t in turns] == list(range(len(AGENT_TURNS)))
    assert all(t.kept for t in turns)
    # The stand-in's ids are the UTF-8 bytes: the prompt sent, the text sampled.
    for turn, body in zip(turns, run.requests, strict=True):
        assert bytes(turn.prompt_token_ids).decode() == body["prompt"]
        assert turn.loss_mask == [0] * len(turn.prompt_token_ids) + [1] * len(
            turn.completion_token_ids
        )
    assert bytes(turns[0].completion_token_ids).decode() == (
        f"{AGENT_TURNS[0].reasoning}</think>\n{AGENT_TURNS[0].text}"  # type: ignore[union-attr]
    )
    [episode] = episodes(run.directory)
    assert turns[0].message_index == 2  # greeting, user, then the agent's first answer
    assert isinstance(episode.messages[turns[0].message_index], AgentMessage)
    assert episode_line.reward == 1.0 and turns[0].reward == 1.0
    assert episode_line.reward_components == {
        "DB": 1.0,
        "ENV_ASSERTION": 1.0,
        "ACTION": 1.0,
        "COMMUNICATE": 1.0,
        "RULES": 1.0,  # the hotel's policy rules, kept
    }
    assert rl_checks(turns, episode_line) == []


def canonical(answer: dict[str, str]) -> dict[str, str]:
    """A completions answer with the whitespace the template renders history with
    (`{reasoning}\\n</think>\\n{answer}`, FORMAT.md), as the model card's model writes it."""
    reasoning, rest = answer["text"].split("</think>")
    return {"text": f"{reasoning}\n</think>{rest}"}


def test_a_segment_ends_where_the_template_drops_earlier_reasoning(tmp_path: Path) -> None:
    answers = [canonical(scripted(turn, "completions", "card")) for turn in AGENT_TURNS]
    run = model_run_on(tmp_path, "completions", "card", answers=answers, record_tokens=True)
    lines = exported(run.directory)
    turns = [RLTurn.model_validate(line) for line in lines if line["kind"] == "turn"]
    [episode_line] = [RLEpisode.model_validate(line) for line in lines if line["kind"] == "episode"]
    [episode] = episodes(run.directory)
    # A prompt stops extending the previous one exactly when a user message came between them
    # (the Nemotron template drops the reasoning of turns before the last user message).
    user_between = [
        any(r.kind == "user_message" for r in episode.messages[a.message_index : b.message_index])
        for a, b in itertools.pairwise(turns)
    ]
    assert [t.extends_previous for t in turns] == [None] + [not u for u in user_between]
    assert 2 <= sum(user_between) < len(turns) - 1
    assert len(episode_line.segments) == 1 + sum(user_between)
    # Every sampled token is in exactly one segment, with its logprob; nothing else has mask 1.
    for segment in episode_line.segments:
        members = [turns[n] for n in segment.turns]
        assert sum(segment.loss_mask) == sum(len(t.completion_token_ids) for t in members)
        pairs = list(zip(segment.logprobs, segment.loss_mask, strict=True))
        assert [lp for lp, m in pairs if m] == [lp for t in members for lp in t.completion_logprobs]
        assert all(lp is None for lp, m in pairs if not m)
    assert rl_checks(turns, episode_line) == []


def test_other_whitespace_around_think_starts_a_segment_at_every_turn(
    token_runs: dict[str, ModelRun],
) -> None:
    # The scenario's answers write `reasoning</think>`; the template re-renders history as
    # `reasoning\n</think>`, so no later prompt holds an earlier completion as sampled.
    lines = exported(token_runs["completions"].directory)
    turns = [RLTurn.model_validate(line) for line in lines if line["kind"] == "turn"]
    [episode_line] = [RLEpisode.model_validate(line) for line in lines if line["kind"] == "episode"]
    assert [t.extends_previous for t in turns] == [None] + [False] * (len(turns) - 1)
    assert [s.turns for s in episode_line.segments] == [[t.turn] for t in turns]
    assert rl_checks(turns, episode_line) == []


def test_rejected_attempts_are_turns_with_kept_false(tmp_path: Path) -> None:
    answers = [scripted(turn, "completions", "card") for turn in AGENT_TURNS]
    two_calls = {"text": answers[1]["text"] + answers[2]["text"].split("</think>")[1]}
    run = model_run_on(
        tmp_path,
        "completions",
        "card",
        answers=[answers[0], two_calls, *answers[1:]],
        record_tokens=True,
    )
    turns = [RLTurn.model_validate(x) for x in exported(run.directory) if x["kind"] == "turn"]
    assert [(t.turn, t.attempt, t.kept) for t in turns[:4]] == [
        (0, 1, True),
        (1, 1, False),
        (2, 2, True),
        (3, 1, True),
    ]
    assert turns[1].message_index == turns[2].message_index
    assert turns[1].extends_previous is None
    assert bytes(turns[1].completion_token_ids).decode() == two_calls["text"]


def test_chatml_lines_carry_the_token_fields_when_recorded(
    token_runs: dict[str, ModelRun], model_runs: dict[str, ModelRun]
) -> None:
    with_tokens = exported(token_runs["completions"].directory, "chatml")
    first = ChatMLTurn.model_validate(with_tokens[0])
    assert first.prompt_token_ids is not None
    assert bytes(first.prompt_token_ids).decode() == first.prompt
    assert first.completion_logprobs is not None
    without = exported(model_runs["completions"].directory, "chatml")
    assert "prompt_token_ids" not in without[0]


def test_a_run_without_tokens_is_refused_with_what_to_do(model_runs: dict[str, ModelRun]) -> None:
    [episode] = episodes(model_runs["completions"].directory)
    with pytest.raises(NoTokens, match="run with `record_tokens: true`"):
        rl_records(episode, "run")
    result = CliRunner().invoke(
        main, ["export", str(model_runs["completions"].directory), "--format", "rl"]
    )
    assert result.exit_code == 1
    assert "record_tokens: true" in result.output


def test_the_cli_writes_the_rl_lines(token_runs: dict[str, ModelRun], tmp_path: Path) -> None:
    out = tmp_path / "rl.jsonl"
    directory = token_runs["chat-template"].directory
    result = CliRunner().invoke(
        main, ["export", str(directory), "--format", "rl", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    kinds = [json.loads(line)["kind"] for line in out.read_text().splitlines()]
    assert kinds == ["turn"] * len(AGENT_TURNS) + ["episode"]
    assert f"Exported {len(AGENT_TURNS) + 1} records" in result.output


def test_the_user_roles_generations_keep_their_tokens_too(tmp_path: Path) -> None:
    answers = [scripted(turn, "completions", "card") for turn in AGENT_TURNS[:1]]
    user_lines = [{"content": "I need two cribs. ###STOP###"}]
    script = Script.model_validate(
        {"roles": {"agent": {"answers": answers}, "user": {"answers": user_lines}}}
    )
    with ScriptedServer(script) as server:
        config = sim_config(
            agent={"model": model(server, "agent"), "transport": "completions"},
            user={"kind": "llm", "model": model(server, "user", record_tokens=True)},
            tasks=[STRICT_TASK],
            out=str(tmp_path),
        )
        directory = run_simulation(config)
    [episode] = episodes(directory)
    said = [r for r in episode.messages if isinstance(r, UserMessage) and r.generation]
    assert said and all(r.generation and r.generation.tokens for r in said)
    first = said[0].generation
    assert first is not None and first.tokens is not None and first.tokens.complete
    assert bytes(first.tokens.completion_token_ids or []).decode() == user_lines[0]["content"]
    agent = [r for r in episode.messages if isinstance(r, AgentMessage) and r.generation]
    assert all(r.generation and r.generation.tokens is None for r in agent)
