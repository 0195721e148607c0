"""The SFT export: one line per episode, the agent's conversation as OpenAI-format messages."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from policy_agent.domain import load_pack
from policy_agent.export import RewardFilter, SFTRecord, export_run, prompt_agent
from policy_agent.format import (
    PromptStyle,
    functions_from_openai,
    neutralise,
    policy_only_system_prompt,
    system_prompt,
)
from policy_agent.records import ToolResult
from policy_agent.report import load_run
from policy_agent.simulation import SimulationConfig
from tests.agent._hotel_script import AGENT_TURNS, Call, Say
from tests.export.conftest import ModelRun
from tests.report._support import HOTEL


def sft(run: Path, reward_filter: RewardFilter | None = None) -> list[dict[str, Any]]:
    out = io.StringIO()
    export_run(
        load_run(run),
        load_pack(HOTEL),
        "sft",
        out,
        reward_filter=reward_filter,
        include_oracle=True,
    )
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_the_demo_exports_every_episode_with_the_card_prompt(demo: Path) -> None:
    pack = load_pack(HOTEL)
    tools = [tool.openai_schema() for tool in pack.tools]
    card = system_prompt(pack.policy, functions_from_openai(tools), PromptStyle.CARD)
    lines = sft(demo)
    assert len(lines) == 24
    for line in lines:
        assert SFTRecord.model_validate(line).reward == 1.0
        assert line["messages"][0] == {"role": "system", "content": card}
        assert line["tools"] == tools and line["tools_in_system_prompt"] is True
    [cribs] = [line for line in lines if line["task_id"] == "card_triplet_cribs"]
    episode = next(e for e in load_run(demo).episodes if e.task_id == "card_triplet_cribs")
    messages = cribs["messages"]
    assert [m["role"] for m in messages[1:]] == [r.role for r in episode.messages]
    assert messages[1] == {"role": "assistant", "content": "Hi! How can I help you today?"}
    assert messages[2] == {"role": "user", "content": neutralise(episode.messages[1].content)}
    call, result = messages[3], messages[4]
    assert call == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_guest_details", "arguments": '{"guest_id": "G90920"}'},
            }
        ],
    }
    recorded = episode.messages[3]
    assert isinstance(recorded, ToolResult)
    assert result == {"role": "tool", "content": recorded.content, "tool_call_id": "call_1"}


def test_reasoning_rides_on_the_assistant_messages(model_runs: dict[str, ModelRun]) -> None:
    [line] = sft(model_runs["completions"].directory)
    model_turns = [
        m for m in line["messages"] if m["role"] == "assistant" and "reasoning_content" in m
    ]
    assert [m["reasoning_content"] for m in model_turns] == [t.reasoning for t in AGENT_TURNS]
    says = [t.text for t in AGENT_TURNS if isinstance(t, Say)]
    assert [m["content"] for m in model_turns if "tool_calls" not in m] == says
    calls = [t.name for t in AGENT_TURNS if isinstance(t, Call)]
    assert [m["tool_calls"][0]["function"]["name"] for m in model_turns if "tool_calls" in m] == (
        calls
    )


def test_template_style_leaves_the_tools_to_the_template(model_runs: dict[str, ModelRun]) -> None:
    [line] = sft(model_runs["chat-template"].directory)
    policy = load_pack(HOTEL).policy
    assert line["messages"][0] == {"role": "system", "content": policy_only_system_prompt(policy)}
    assert line["tools_in_system_prompt"] is False and len(line["tools"]) > 0


def test_filters_keep_by_reward_and_infrastructure_failures_stay_out(mixed: Path) -> None:
    # c#1 ended in an infrastructure failure and d#1's judge failed: neither is the agent's.
    everything = sft(mixed)
    assert [(x["task_id"], x["trial"], x["reward"]) for x in everything] == [
        ("a", 0, 1.0),
        ("a", 1, 1.0),
        ("b", 0, 1.0),
        ("b", 1, 0.0),
        ("c", 0, 0.0),
        ("d", 0, 0.0),
        ("e", 0, 1.0),
        ("e", 1, None),
    ]
    successes = [("a", 0), ("a", 1), ("b", 0), ("e", 0)]
    only = sft(mixed, RewardFilter(only_success=True))
    assert [(x["task_id"], x["trial"]) for x in only] == successes
    at_least = sft(mixed, RewardFilter(min_reward=0.5))
    assert [(x["task_id"], x["trial"]) for x in at_least] == successes
    assert len(sft(mixed, RewardFilter(min_reward=0.0))) == 7


def test_the_users_own_tool_calls_are_not_the_agents_to_see(mixed: Path) -> None:
    [e0] = [x for x in sft(mixed) if (x["task_id"], x["trial"]) == ("e", 0)]
    assert [m["role"] for m in e0["messages"]] == ["system"]


def test_the_selection_says_what_it_left_out(mixed: Path) -> None:
    result = export_run(
        load_run(mixed),
        load_pack(HOTEL),
        "sft",
        io.StringIO(),
        reward_filter=RewardFilter(only_success=True),
        include_oracle=True,
    )
    assert (result.records, result.selection.infrastructure_failures) == (4, 2)
    assert result.selection.filtered_out == 4
    assert result.selection.describe() == (
        "4 episodes; left out 2 infrastructure failures; left out 4 by the reward filter"
    )


def test_the_prompt_agent_needs_no_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGENT_KEY_NOT_SET", raising=False)
    config = SimulationConfig.model_validate(
        {
            "domain": str(HOTEL),
            "agent": {
                "model": {"model": "hosted_vllm/m", "api_key_env": "AGENT_KEY_NOT_SET"},
                "style": "template",
                "transport": "completions",
            },
            "user": {"kind": "scripted"},
        }
    )
    agent = prompt_agent(config, load_pack(HOTEL))
    assert (agent.config.style.value, agent.config.transport) == ("template", "completions")
    assert agent.config.model.api_key_env is None and agent.config.model.model == "hosted_vllm/m"
