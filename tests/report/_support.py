"""Runs to report on: the demo (the oracle, every reward 1), a hand-built mixed run whose every
total is known, and runs of chosen rewards for comparisons. Shared by tests/export and tests/cli."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policy_agent.domain import load_pack
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    DatabaseState,
    Episode,
    Generation,
    JudgeUsage,
    RewardInfo,
    RewardType,
    RoleTotals,
    TerminationReason,
    ToolResult,
    UserMessage,
    Violation,
    ViolationCode,
    ViolationEvent,
)
from policy_agent.report import EvaluationManifest, new_evaluation_name
from policy_agent.simulation import HASH_EXCLUDES, SimulationConfig, load_config
from policy_agent.trajectory import RunManifest, RunStore
from tests._models import ScriptedModels
from tests.simulation.test_runner import simulate

REPOSITORY = Path(__file__).resolve().parents[2]
HOTEL = REPOSITORY / "domains" / "hotel"
DEMO = REPOSITORY / "simulations" / "hotel-demo.yaml"
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

Reason = TerminationReason


def run_simulation(config: SimulationConfig, models: ScriptedModels | None = None) -> Path:
    """Run `config` with the real runner (on `models` if given) into `config.out`; the new
    run's folder."""
    directory, _ = asyncio.run(simulate(config, load_pack(config.domain), models=models))
    return directory


def demo_run(out: Path, **fields: Any) -> Path:
    """The README's demo (oracle agent, scripted user) into `out`, with `fields` changed."""
    config = load_config(DEMO).model_copy(update={"out": out, **fields})
    return run_simulation(config)


def copy_hotel(folder: Path) -> Path:
    """A copy of the hotel pack (and its Python tools) to edit; the copied pack's folder."""
    pack = folder / "domains" / "hotel"
    shutil.copytree(HOTEL, pack)
    (folder / "tools").mkdir()
    shutil.copy(REPOSITORY / "tools" / "hotel.py", folder / "tools" / "hotel.py")
    return pack


def reward(
    value: float, *, judge: JudgeUsage | None = None, failure: str | None = None
) -> RewardInfo:
    """A reward on the DB basis (a judge failure sets `failure`)."""
    return RewardInfo(
        reward=value,
        reward_basis=[RewardType.DB],
        reward_breakdown={RewardType.DB: value},
        judge=judge,
        infrastructure_error=failure,
    )


def episode(
    task_id: str,
    trial: int,
    value: float | None,
    *,
    reason: TerminationReason = Reason.USER_STOP,
    messages: Sequence[ConversationRecord] = (),
    events: Sequence[ViolationEvent] = (),
    judge: JudgeUsage | None = None,
    judge_failure: str | None = None,
    totals: dict[str, RoleTotals] | None = None,
) -> Episode:
    """An episode with this reward (None: unevaluated) and whatever else a test needs."""
    started = START + timedelta(minutes=trial)
    rewarded = None if value is None else reward(value, judge=judge, failure=judge_failure)
    return Episode(
        task_id=task_id,
        trial=trial,
        seed=trial,
        termination_reason=reason,
        started_at=started,
        ended_at=started + timedelta(seconds=2),
        duration_s=2.0,
        messages=list(messages) or [UserMessage(content="Hello."), AgentMessage(content="Hi.")],
        events=list(events),
        totals=totals or {},
        database=DatabaseState(initial_hash="0" * 64, final_hash="0" * 64),
        reward=rewarded,
    )


def write_run(
    runs: Path, episodes: Sequence[Episode], *, trials: int = 1, domain: Path = HOTEL
) -> Path:
    """A run folder holding `episodes`, with an oracle demo config on `domain`."""
    config = SimulationConfig.model_validate(
        {
            "domain": str(domain),
            "agent": {"kind": "oracle"},
            "user": {"kind": "scripted"},
            "trials": trials,
        }
    )
    manifest = RunManifest.start(
        config=config.as_json(),
        exclude=HASH_EXCLUDES,
        domain_name="hotel",
        domain_hash=load_pack(domain).content_hash,
        episodes_planned=len({e.task_id for e in episodes}) * trials,
    )
    with RunStore.create(runs, manifest, fsync=False) as store:
        for item in episodes:
            store.append(item)
        store.finish()
    return store.directory


def grown(runs: Path, demo: Path, copies: int) -> Path:
    """The demo's 24 episodes `copies` times over (trials 0..copies-1), then the mixed run's
    outcomes (infrastructure failures, rewards 0, an unevaluated episode) on five hotel tasks."""
    played = [episode for _, episode in RunStore.open(demo).latest_episodes()]
    names = sorted({episode.task_id for episode in played})[:5]
    episodes = [
        episode.model_copy(update={"trial": trial}) for trial in range(copies) for episode in played
    ]
    episodes += [e.model_copy(update={"trial": copies + e.trial}) for e in mixed_episodes(names)]
    return write_run(runs, episodes, trials=copies + 2)


def evaluation_manifest(episodes: int, moment: datetime = START) -> EvaluationManifest:
    """The manifest of an evaluation made at `moment` of `episodes` episodes, none failed, with
    the hotel pack unchanged."""
    return EvaluationManifest(
        name=new_evaluation_name(moment),
        created_at=moment,
        domain=str(HOTEL),
        domain_hash="1" * 64,
        run_domain_hash="1" * 64,
        judge_model=None,
        episodes=episodes,
        failed=0,
    )


def run_of(runs: Path, rewards: dict[str, list[float]]) -> Path:
    """A run whose tasks have these rewards, trial by trial."""
    trials = max(len(values) for values in rewards.values())
    episodes = [
        episode(task, trial, value)
        for task, values in rewards.items()
        for trial, value in enumerate(values)
    ]
    return write_run(runs, episodes, trials=trials)


def _call(number: int, name: str = "get_booking_details") -> AgentToolCall:
    return AgentToolCall(call_id=f"call_{number}", name=name, arguments={"booking_id": "B1"})


def _result(
    number: int, *, error: bool = False, crashed: bool = False, user: bool = False
) -> ToolResult:
    return ToolResult(
        call_id=f"call_{number}",
        name="get_booking_details",
        content="Error: no such booking" if error else "{}",
        error=error,
        crashed=crashed,
        requestor="user" if user else "assistant",
    )


def _violation(code: ViolationCode, action: str) -> ViolationEvent:
    return ViolationEvent.model_validate(
        {
            "violation": Violation(code=code, detail=f"{code.value} in the answer"),
            "action_taken": action,
            "generation": Generation(model="m", transport="chat", raw_completion="..."),
        }
    )


AGENT_TOTALS = RoleTotals(calls=2, prompt_tokens=100, completion_tokens=10, latency_ms=500.0)
USER_TOTALS = RoleTotals(
    calls=1, prompt_tokens=50, completion_tokens=5, latency_ms=100.0, cost_usd=0.001
)


def mixed_episodes(names: Sequence[str] = ("a", "b", "c", "d", "e")) -> list[Episode]:
    """Five tasks, two trials each, every kind of outcome (test_report checks the numbers).

    a: 1, 1   b: 1, 0 (max_steps)   c: 0, infrastructure failure   d: 0 (too_many_errors),
    judge failure   e: 1, unevaluated. Violations in a#1, b#1 and the infrastructure failure;
    agent tool errors in a#0, b#1 (a crash) and the infrastructure failure; a user tool call
    in e#0; judge usage in a#0 and d#1. `names` renames the five tasks, in order.
    """
    a, b, c, d, e = names
    totals = {"agent": AGENT_TOTALS, "user": USER_TOTALS}
    judge_ok = JudgeUsage(model="judge-m", prompt_tokens=40, completion_tokens=4, latency_ms=300.0)
    judge_failed = JudgeUsage(
        model="judge-m", prompt_tokens=30, completion_tokens=3, latency_ms=200.0, error="timeout"
    )
    multiple = _violation(ViolationCode.MULTIPLE_TOOL_CALLS, "resample")
    empty = _violation(ViolationCode.EMPTY, "terminate")
    malformed = _violation(ViolationCode.MALFORMED_TOOL_CALL, "resample")
    return [
        episode(
            a,
            0,
            1.0,
            messages=[_call(1), _result(1), _call(2), _result(2, error=True)],
            judge=judge_ok,
            totals=totals,
        ),
        episode(a, 1, 1.0, events=[multiple], totals=totals),
        episode(b, 0, 1.0, totals=totals),
        episode(
            b,
            1,
            0.0,
            reason=Reason.MAX_STEPS,
            messages=[_call(1), _result(1, error=True, crashed=True)],
            events=[empty],
            totals=totals,
        ),
        episode(c, 0, 0.0, totals=totals),
        episode(
            c,
            1,
            0.0,
            reason=Reason.INFRASTRUCTURE_ERROR,
            messages=[_call(1), _result(1, error=True)],
            events=[malformed],
            totals=totals,
        ),
        episode(d, 0, 0.0, reason=Reason.TOO_MANY_ERRORS, totals=totals),
        episode(d, 1, 0.0, judge=judge_failed, judge_failure="judge timed out", totals=totals),
        episode(e, 0, 1.0, messages=[_result(9, user=True)], totals=totals),
        episode(e, 1, None, totals=totals),
    ]


STRICT_TASK = "card_triplet_cribs"


def make_stricter(pack: Path) -> None:
    """Change the copied pack's `card_triplet_cribs` to expect four cribs: the oracle's episode
    (three cribs, as the task asked) now fails its env assertion."""
    tasks = pack / "tasks.yaml"
    text = tasks.read_text(encoding="utf-8")
    old = "lookup('bookings', 'B11246').cribs == 3"
    assert text.count(old) == 1
    tasks.write_text(text.replace(old, "lookup('bookings', 'B11246').cribs == 4"), encoding="utf-8")
