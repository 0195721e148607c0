"""The runner end to end: the demo, models in process, 64 episodes at once,
failures, resume."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import jsonschema
import pytest

from policy_agent.agent import Agent
from policy_agent.domain import DomainPack, Task
from policy_agent.records import (
    AgentMessage,
    ConversationRecord,
    Episode,
    RewardType,
    TerminationReason,
)
from policy_agent.simulation import (
    ConfigError,
    ModelAgentConfig,
    Simulation,
    episode_seed,
    load_config,
    plan,
)
from policy_agent.trajectory import RunStore, json_schema_of_line
from policy_agent.user import UserSimulator, UserStep
from tests._models import ScriptedModels, request_bodies
from tests.simulation._support import (
    DEMO,
    call,
    lookup_then_thanks,
    model,
    say,
    sim_config,
    simulate,
)

__all__ = ["simulate"]  # imported from here by other tests


async def test_the_demo_solves_every_hotel_task(hotel: DomainPack, tmp_path: Path) -> None:
    config = load_config(DEMO).model_copy(update={"out": tmp_path})
    directory, episodes = await simulate(config, hotel)
    assert [e.task_id for e in episodes] != []
    assert sorted(e.task_id for e in episodes) == sorted(t.id for t in hotel.tasks)
    assert all(e.reward is not None and e.reward.reward == 1.0 for e in episodes)
    ends = {e.termination_reason for e in episodes}
    assert ends == {TerminationReason.USER_STOP, TerminationReason.TRANSFER}
    manifest = RunStore.open(directory).manifest
    assert manifest.finished_at is not None
    assert manifest.episodes_planned == len(hotel.tasks)
    assert manifest.config["agent"] == {"kind": "oracle"}
    assert "concurrency" in manifest.config_hash_excludes
    validator = jsonschema.Draft202012Validator(json_schema_of_line(Episode))
    for line in (directory / "episodes.jsonl").read_text().splitlines():
        validator.validate(json.loads(line))


async def test_a_model_agent_and_a_model_user_solve_a_task(
    hotel: DomainPack, tmp_path: Path
) -> None:
    models = ScriptedModels.of(
        {
            "agent": {
                "answers": [
                    call("get_guest_details", {"guest_id": "G90974"}),
                    call("get_booking_details", {"booking_id": "B11319"}),
                    call("cancel_booking", {"booking_id": "B11319"}),
                    say("Booking B11319 is cancelled; 567 will be refunded."),
                ]
            },
            "user": {
                "answers": [
                    "Hi, I'm guest G90974; please cancel booking B11319.",
                    "Thanks! ###STOP###",
                ]
            },
        }
    )
    config = sim_config(
        agent={"model": model(models, "agent")},
        user={"kind": "llm", "model": model(models, "user")},
        tasks=["cancel_free_window"],
        seed=7,
        out=str(tmp_path),
    )
    _, [episode] = await simulate(config, hotel, models=models)
    assert episode.termination_reason is TerminationReason.USER_STOP
    assert episode.reward is not None and episode.reward.reward == 1.0
    assert episode.seed == episode_seed(7, "cancel_free_window", 0)
    assert episode.totals["agent"].calls == 4 and episode.totals["user"].calls == 2
    assert episode.totals["agent"].completion_tokens > 0
    assert {body["seed"] for body in request_bodies(models)} == {episode.seed}
    said = [r for r in episode.messages if isinstance(r, AgentMessage)]
    assert said[-1].generation is not None and said[-1].reasoning == "Reply."


async def test_64_concurrent_episodes_overlap_their_model_calls(
    hotel: DomainPack, tmp_path: Path
) -> None:
    episodes = 64
    # Each call waits 100 ms for its answer, as a model would: long enough that episodes
    # played one after the other could not overlap, however fast or slow the machine.
    models = ScriptedModels.of(lookup_then_thanks(), latency_ms=100)
    config = sim_config(
        agent={"model": model(models, "agent")},
        user={"kind": "llm", "model": model(models, "user")},
        tasks=["cancel_free_window"],
        trials=episodes,
        concurrency=64,
        out=str(tmp_path),
    )
    _, done = await simulate(config, hotel, models=models)
    assert sorted(e.trial for e in done) == list(range(episodes))
    assert all(e.termination_reason is TerminationReason.USER_STOP for e in done)
    # All 64 were live at once: every episode started before the first one ended.
    assert max(e.started_at for e in done) < min(e.ended_at for e in done)
    assert len(models.requests) == episodes * 4


class _FailsOnOneTask(Simulation):
    """A simulation whose user simulator crashes in one task's episodes."""

    def _user_for(self, task: Task) -> UserSimulator:
        if task.id == "crib_too_late":
            return _CrashingUser()
        return super()._user_for(task)


class _CrashingUser:
    async def respond(
        self, history: Sequence[ConversationRecord], *, seed: int | None, session: str | None = None
    ) -> UserStep:
        raise RuntimeError("boom")


async def test_an_exception_in_one_episode_does_not_stop_the_others(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = sim_config(out=str(tmp_path), concurrency=4)
    _, episodes = await simulate(config, hotel, _FailsOnOneTask(config, hotel))
    assert len(episodes) == len(hotel.tasks)
    failed = [e for e in episodes if e.termination_reason is TerminationReason.INFRASTRUCTURE_ERROR]
    assert [e.task_id for e in failed] == ["crib_too_late"]
    assert failed[0].error == "RuntimeError: boom"
    assert all(e.reward is not None and e.reward.reward == 1.0 for e in episodes if e not in failed)


async def test_resume_runs_only_what_is_missing_and_repairs_a_torn_line(
    hotel: DomainPack, tmp_path: Path
) -> None:
    config = sim_config(out=str(tmp_path), trials=2)
    directory, first = await simulate(config, hotel)
    log = directory / "episodes.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    kept = lines[:10]
    log.write_bytes(b"".join(kept) + lines[10][:100])  # as if killed while writing line 11
    simulation = Simulation(config, hotel)
    reader = RunStore.open(directory)
    with pytest.warns(UserWarning, match="torn"):
        store = RunStore.resume(
            directory,
            config_hash=reader.manifest.config_hash,
            domain_hash=hotel.content_hash,
        )
    try:
        tally = await simulation.run(store)
    finally:
        store.close()
    assert tally.already_done == 10 and tally.finished == len(first) - 10
    episodes = RunStore.open(directory).read(Episode)
    keys = [e.key for e in episodes]
    assert len(keys) == len(set(keys)) == 2 * len(hotel.tasks)
    # A resumed episode has the seed it would have had: seeds depend on the key only.
    seeds = {e.key: e.seed for e in first}
    assert all(seeds[e.key] == e.seed for e in episodes)


def test_plan_goes_trial_by_trial_with_stable_seeds(hotel: DomainPack) -> None:
    config = sim_config(tasks=["crib_too_late", "complaint_transfer"], trials=2, seed=3)
    planned = plan(config, hotel)
    assert [p.key for p in planned] == [
        ("crib_too_late", 0),
        ("complaint_transfer", 0),
        ("crib_too_late", 1),
        ("complaint_transfer", 1),
    ]
    assert [p.seed for p in planned] == [episode_seed(3, *p.key) for p in planned]


def test_plan_refuses_unknown_tasks_and_unscripted_ones(hotel: DomainPack) -> None:
    with pytest.raises(ConfigError, match="tasks: nope not in domain 'hotel'; its tasks are: "):
        plan(sim_config(tasks=["nope"]), hotel)
    task = hotel.task("crib_too_late")
    unscripted = task.model_copy(
        update={"user_scenario": task.user_scenario.model_copy(update={"script": None})}
    )
    pack = dataclasses.replace(hotel, tasks=(unscripted,))
    agent = {"model": model("http://127.0.0.1:9/v1", "agent")}
    with pytest.raises(ConfigError, match="crib_too_late has none"):
        plan(sim_config(agent=agent), pack)
    # The oracle gets the brief user instead, so `check` runs packs without scripts.
    assert len(plan(sim_config(), pack)) == 1


async def test_completions_turns_can_be_rebuilt_byte_for_byte_from_the_line(
    hotel: DomainPack, tmp_path: Path
) -> None:
    markup = call("get_guest_details", {"guest_id": "G90974"})["content"]
    models = ScriptedModels.of(
        {
            "agent": {
                "answers": [
                    {"text": f"Look the guest up.</think>\n{markup}"},
                    {"text": "Found.</think>\nYou are Tom; what can I do?"},
                ]
            }
        }
    )
    agent = {"model": model(models, "agent"), "transport": "completions"}
    config = sim_config(agent=agent, tasks=["cancel_free_window"], max_steps=6, out=str(tmp_path))
    _, [episode] = await simulate(config, hotel, models=models)
    assert episode.termination_reason is TerminationReason.MAX_STEPS
    rebuilt_by = Agent.from_pack(hotel, ModelAgentConfig.model_validate(agent))
    sent = [body["prompt"] for body in request_bodies(models)]
    rebuilt = []
    for index, record in enumerate(episode.messages):
        generation = getattr(record, "generation", None)
        if generation is None:
            continue
        prompt = rebuilt_by.prompt(
            episode.messages[:index], corrections=generation.correction_messages
        )
        assert hashlib.sha256(prompt.encode()).hexdigest() == generation.prompt_sha256
        rebuilt.append(prompt)
    assert rebuilt == sent and len(sent) == 2
    answer = episode.messages[4]
    assert isinstance(answer, AgentMessage) and answer.generation is not None
    assert answer.generation.raw_completion == "Found.</think>\nYou are Tom; what can I do?"


async def test_a_judge_scores_nl_assertions_and_is_counted_in_the_totals(
    hotel: DomainPack, tmp_path: Path
) -> None:
    task = hotel.task("crib_too_late")
    criteria = task.evaluation_criteria
    judged = task.model_copy(
        update={
            "evaluation_criteria": criteria.model_copy(
                update={"reward_basis": [*criteria.reward_basis, RewardType.NL_ASSERTION]}
            )
        }
    )
    pack = dataclasses.replace(hotel, tasks=(judged,))
    with pytest.raises(ConfigError, match="no judge model is configured"):
        Simulation(sim_config(), pack)
    verdict = {
        "results": [
            {"expectedOutcome": text, "reasoning": "Said so.", "metExpectation": True}
            for text in criteria.nl_assertions
        ]
    }
    models = ScriptedModels.of({"judge": {"answers": [json.dumps(verdict)]}})
    config = sim_config(judge=model(models, "judge"), out=str(tmp_path))
    _, [episode] = await simulate(config, pack, models=models)
    assert episode.reward is not None and episode.reward.reward == 1.0
    assert episode.reward.reward_breakdown[RewardType.NL_ASSERTION] == 1.0
    assert episode.totals["judge"].calls == 1
