"""`PolicyEnv` and `TrainerSimulation`: what a step shows, and the one-action rule as a run has it.

Every strategy's episode is played twice, through the env and through the runner with the same
completions (`ScriptedModelClient`, in order), and must end the same.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from policy_agent.agent import ViolationStrategy
from policy_agent.domain import DomainPack
from policy_agent.records import AgentToolCall, Episode, TokenTrace, ViolationEvent
from policy_agent.rl import AgentCompletion, EnvError, PolicyEnv, TrainerSimulation
from policy_agent.scripted import Script, ScriptedModelClient
from policy_agent.simulation import ConfigError, Simulation, SimulationConfig
from tests.rl._support import model_config

TASK = "card_triplet_cribs"


def with_two_calls(completions: list[str]) -> tuple[list[str], str]:
    """The task's completions with a two-call answer before the first tool call (a violation)."""
    first = next(i for i, text in enumerate(completions) if "<tool_call>" in text)
    call = completions[first].split("</think>\n", 1)[1]
    bad = f"Two at once.\n</think>\n{call}\n{call}"
    return [*completions[:first], bad, *completions[first:]], bad


def config_with(strategy: ViolationStrategy) -> SimulationConfig:
    agent = {
        "model": {"model": "hosted_vllm/agent"},
        "transport": "completions",
        "violations": {"strategy": strategy},
    }
    return model_config(agent=agent, tasks=[TASK])


def run_episode(config: SimulationConfig, pack: DomainPack, completions: list[str]) -> Episode:
    """The episode `policy-agent run` plays with these completions, in order."""
    answers = [{"text": text} for text in completions]
    script = Script.model_validate({"roles": {"agent": {"answers": answers}}})
    assert config.agent.kind == "llm"
    client = ScriptedModelClient(script, config.agent.model)

    async def play() -> Episode:
        simulation = Simulation(config, pack, clients={"agent": client})
        try:
            return await simulation.play(simulation.episodes[0])
        finally:
            await simulation.aclose()

    return asyncio.run(play())


def env_episode(
    config: SimulationConfig, pack: DomainPack, completions: list[str]
) -> tuple[Episode, list[dict[str, Any]], list[dict[str, Any]]]:
    """The episode through the env, with every observation and info along the way."""
    env = PolicyEnv(config, pack)
    try:
        observation, info = env.reset(options={"task": TASK})
        observations, infos = [observation], [info]
        for text in completions:
            observation, _, terminated, truncated, info = env.step(text)
            observations.append(observation)
            infos.append(info)
            if terminated or truncated:
                return info["episode"], observations, infos
    finally:
        env.close()
    raise AssertionError("the completions ran out")


@pytest.mark.parametrize("strategy", ["resample", "feedback", "keep_first"])
def test_a_violation_is_handled_as_the_runs_strategy_handles_it(
    policy: tuple[DomainPack, dict[str, list[str]]], strategy: ViolationStrategy
) -> None:
    pack, completions = policy
    texts, bad = with_two_calls(completions[TASK])
    if strategy == "keep_first":
        texts = [t for i, t in enumerate(texts) if i != texts.index(bad) + 1]
    config = config_with(strategy)
    ran = run_episode(config, pack, texts)
    played, observations, infos = env_episode(config, pack, texts)
    assert played.termination_reason == ran.termination_reason
    assert played.reward == ran.reward and ran.reward is not None and ran.reward.reward == 1.0
    [event] = [e for e in played.events if isinstance(e, ViolationEvent)]
    assert event.action_taken == strategy
    position = texts.index(bad)
    after = infos[position + 1]
    assert after["violation"]["code"] == "multiple_tool_calls"
    if strategy == "keep_first":
        # The first call ran: the step shows it and its result; the next prompt is a new turn.
        assert [r["kind"] for r in after["records"]] == ["agent_tool_call", "tool_result"]
        assert observations[position + 1]["attempt"] == 1
        return
    retry = observations[position + 1]
    assert (retry["turn"], retry["attempt"]) == (position + 1, 2)
    assert after["records"] == []  # the conversation did not move
    if strategy == "feedback":
        # The rejected answer and the correction are the retry's last two messages.
        echo, correction = retry["messages"][-2:]
        assert echo == {"role": "assistant", "content": bad.split("</think>\n", 1)[1].strip()}
        assert correction["role"] == "user" and "one" in correction["content"].lower()
    else:
        assert retry["prompt"] == observations[position]["prompt"]


def test_a_step_shows_the_prompt_the_records_and_at_the_end_the_reward(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, completions = policy
    texts = completions[TASK]
    played, observations, infos = env_episode(model_config(tasks=[TASK]), pack, texts)
    first = observations[0]
    assert first["prompt"].startswith("<|im_start|>system\n")
    assert first["prompt"].endswith("<|im_start|>assistant\n<think>\n")
    assert first["messages"][0]["role"] == "system"
    assert [r["kind"] for r in infos[0]["records"]] == ["agent_message", "user_message"]
    calls = [i for i, text in enumerate(texts) if "<tool_call>" in text]
    shown = infos[calls[0] + 1]
    assert [r["kind"] for r in shown["records"]] == ["agent_tool_call", "tool_result"]
    assert shown["tool_results"][0]["content"].startswith("{")
    assert observations[-1] == {"prompt": "", "messages": [], "turn": None, "attempt": None}
    last = infos[-1]
    assert last["termination_reason"] == "user_stop"
    assert last["reward_breakdown"]["DB"] == 1.0
    assert last["reward_info"]["reward"] == 1.0
    # The prompts are the run's: the completions transport's rendering of the same history.
    agent = TrainerSimulation(model_config(tasks=[TASK]), pack).agent
    call_index = played.messages.index(
        next(r for r in played.messages if isinstance(r, AgentToolCall))
    )
    assert observations[calls[0]]["prompt"] == agent.prompt(played.messages[:call_index])


def test_the_trainers_tokens_are_kept_with_the_generation(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, completions = policy
    env = PolicyEnv(model_config(tasks=[TASK]), pack)
    try:
        env.reset(options={"task": TASK})
        text = completions[TASK][0]
        trace = TokenTrace(
            prompt_token_ids=[1, 2, 3],
            completion_token_ids=[4, 5],
            completion_logprobs=[-0.5, -1.0],
        )
        env.step(AgentCompletion(text=text, tokens=trace))
        for text in completions[TASK][1:]:
            _, _, terminated, _, info = env.step(text)
        assert terminated
    finally:
        env.close()
    first = next(r for r in info["episode"].messages if r.generation is not None)
    assert first.generation.tokens == trace
    assert first.generation.usage.prompt_tokens == 3


def test_reset_picks_a_task_from_its_seed_and_step_needs_a_reset(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, _ = policy
    env = PolicyEnv(model_config(), pack)
    try:
        with pytest.raises(EnvError, match="reset"):
            env.step("hello")
        picked = []
        for _ in range(2):
            observation, _ = env.reset(seed=7)
            picked.append(observation["prompt"])
        assert picked[0] == picked[1]
        with pytest.raises(EnvError, match="no task 'nope'; the tasks are: "):
            env.reset(options={"task": "nope"})
    finally:
        env.close()


def test_the_oracle_cannot_be_the_trainers_agent(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, _ = policy
    config = model_config(agent={"kind": "oracle"})
    with pytest.raises(ConfigError, match="needs a model agent config"):
        TrainerSimulation(config, pack)


async def test_many_episodes_play_at_once_on_one_simulation(
    policy: tuple[DomainPack, dict[str, list[str]]],
) -> None:
    pack, completions = policy
    simulation = TrainerSimulation(model_config(), pack)
    tasks = list(completions)[:6]

    async def play(task: str) -> float:
        episode, outcome = await simulation.start(task)
        for text in completions[task]:
            outcome = await episode.step(text)
            if outcome.prompt is None:
                break
        with pytest.raises(EnvError, match="not waiting"):
            await episode.step("more")
        return outcome.reward

    try:
        rewards = await asyncio.gather(*(play(task) for task in tasks))
    finally:
        await simulation.aclose()
    assert rewards == [1.0] * len(tasks)
