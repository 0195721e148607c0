"""`check_pack`: every task of a pack played by the oracle, which must reach reward 1.

It is the pack author's test. A task the oracle fails is broken as written: an expected action
that a precondition refuses, a script that ends before the task does, an assertion that the
expected actions do not make true, a `communicate_info` string the actions cannot produce, a
policy rule the expected actions break.
NL assertions need a judge model, so here they are left out of the reward basis (and said so).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import assert_never

from policy_agent.domain import DomainPack, Task
from policy_agent.records import (
    AgentToolCall,
    EnvAssertionCheck,
    Episode,
    RewardInfo,
    RewardType,
    ToolResult,
)
from policy_agent.simulation._config import OracleAgentConfig, SimulationConfig
from policy_agent.simulation._progress import RunTally, is_pass
from policy_agent.simulation._runner import Simulation
from policy_agent.user import UserConfig

_SHOWN = 3
"""Differences shown per failing component."""


@dataclass(frozen=True, kw_only=True)
class TaskCheck:
    """How the oracle did on one task."""

    task_id: str
    passed: bool
    reward: float | None
    problems: tuple[str, ...] = ()
    """Why it did not pass, one sentence each."""
    unjudged: bool = False
    """The task's NL assertions were left out (they need a judge)."""


async def check_pack(pack: DomainPack, *, concurrency: int = 8) -> list[TaskCheck]:
    """Play every task of `pack` once with the oracle (and its script, or the brief user)."""
    unjudged = {task.id for task in pack.tasks if _judged(task)}
    checked = dataclasses.replace(pack, tasks=tuple(_without_judge(task) for task in pack.tasks))
    config = SimulationConfig(
        domain=pack.root,
        agent=OracleAgentConfig(kind="oracle"),
        user=UserConfig(kind="scripted"),
        concurrency=concurrency,
    )
    simulation = Simulation(config, checked)
    episodes: dict[str, Episode] = {}

    async def keep(episode: Episode) -> None:
        episodes[episode.task_id] = episode

    try:
        await simulation.play_all(
            simulation.episodes, RunTally(planned=len(simulation.episodes)), keep
        )
    finally:
        await simulation.aclose()
    return [_verdict(episodes[task.id], task.id in unjudged) for task in pack.tasks]


def _judged(task: Task) -> bool:
    criteria = task.evaluation_criteria
    return bool(criteria.nl_assertions) and RewardType.NL_ASSERTION in criteria.reward_basis


def _without_judge(task: Task) -> Task:
    if not _judged(task):
        return task
    criteria = task.evaluation_criteria
    basis = [kind for kind in criteria.reward_basis if kind is not RewardType.NL_ASSERTION]
    return task.model_copy(
        update={"evaluation_criteria": criteria.model_copy(update={"reward_basis": basis})}
    )


def _verdict(episode: Episode, unjudged: bool) -> TaskCheck:
    reward = episode.reward
    problems: list[str] = []
    if not episode.termination_reason.is_normal_end:
        problems.append(f"ended with {episode.termination_reason.value}: {episode.error}")
    if reward is None:
        errors = [event.message for event in episode.events if event.kind == "error"]
        problems.append(f"not scored: {'; '.join(errors) or 'no reward'}")
    else:
        problems += _failed_components(reward)
    broken = [*_refused_calls(episode), *_broken_rules(reward)]
    return TaskCheck(
        task_id=episode.task_id,
        passed=is_pass(episode) and not broken,
        reward=reward.reward if reward is not None else None,
        problems=tuple([*problems, *broken]),
        unjudged=unjudged,
    )


def _refused_calls(episode: Episode) -> list[str]:
    """The expected actions a tool refused: the task's action goes against the pack's own
    preconditions. The expected database is built by the same refused call, so DB alone would
    still score 1 and hide it."""
    calls = {
        record.call_id: record
        for record in episode.messages[episode.initial_messages :]
        if isinstance(record, AgentToolCall)
    }
    problems = []
    for record in episode.messages[episode.initial_messages :]:
        if isinstance(record, ToolResult) and record.error and record.call_id in calls:
            call = calls[record.call_id]
            listed = ", ".join(f"{k}={v!r}" for k, v in call.arguments.items())
            what = "crashed" if record.crashed else "was refused"
            problems.append(f"the expected action {call.name}({listed}) {what}: {record.content}")
    return problems


def _broken_rules(reward: RewardInfo | None) -> list[str]:
    """The policy rules the oracle did not keep, in the reward basis or not: the task's expected
    actions go against the pack's rules, or a rule is written too strictly."""
    problems = []
    for result in reward.rules if reward is not None else []:
        if result.breaches:
            first = result.breaches[0]
            step = first.record_index + 1
            problems.append(f"the oracle broke rule {result.rule} at step {step}: {first.message}")
        elif result.error is not None:
            problems.append(f"rule {result.rule} could not be decided: {result.error}")
    return problems


def _unmet(check: EnvAssertionCheck) -> str:
    """An unmet assertion named by its message and its source, with why it failed."""
    assertion = check.env_assertion
    named = f"{assertion.message} ({assertion.source})" if assertion.message else assertion.source
    env = " on the user's database" if assertion.env_type == "user" else ""
    if check.error is not None:
        # The error names the assertion; its first line is the reason (then a caret line).
        reason = f"could not be decided{env}: {check.error.splitlines()[0]}"
        return f"{assertion.message} ({reason})" if assertion.message else reason
    return f"{named} does not hold{env} at the end"


def _failed_components(reward: RewardInfo) -> list[str]:
    """One sentence per component of the basis below 1, then the evaluator's note."""
    problems: list[str] = []
    failed = [k for k in reward.reward_basis if reward.reward_breakdown.get(k, 1.0) < 1.0]
    for kind in failed:
        match kind:
            case RewardType.DB if reward.db_check is not None:
                shown = [
                    f"{d.table}[{d.record_id}]{'.' + d.field if d.field else ''}: expected "
                    f"{d.expected!r}, got {d.actual!r}"
                    for d in reward.db_check.differences[:_SHOWN]
                ]
                problems.append(f"DB differs from the expected state: {'; '.join(shown)}")
            case RewardType.ENV_ASSERTION:
                unmet = [_unmet(c) for c in reward.env_assertions if not c.met]
                problems.append(f"env assertions not met: {'; '.join(unmet[:_SHOWN])}")
            case RewardType.ACTION:
                missing = [c.action.action_id for c in reward.action_checks if not c.action_match]
                problems.append(f"expected actions not matched: {', '.join(missing)}")
            case RewardType.COMMUNICATE:
                unsaid = [c.info for c in reward.communicate_checks if not c.met]
                problems.append(f"not communicated: {', '.join(map(repr, unsaid))}")
            case RewardType.RULES:
                pass  # said by _broken_rules, whether RULES is in the basis or not
            case RewardType.DB | RewardType.NL_ASSERTION:
                problems.append(f"{kind.value} scored {reward.reward_breakdown.get(kind)}")
            case _:
                assert_never(kind)
    if failed and reward.note:
        problems.append(reward.note)
    return problems
