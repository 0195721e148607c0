"""The report, the comparison and the coverage read a run one slim episode at a time
(`ReadEpisode`); what they build equals what they build from the same episodes held whole."""

from __future__ import annotations

from pathlib import Path

from policy_agent.domain import load_pack
from policy_agent.records import (
    AgentMessage,
    Episode,
    Generation,
    JudgeUsage,
    RuleBreach,
    RuleResult,
    RuleSeverity,
    RuleStatus,
    TokenUsage,
)
from policy_agent.report import (
    RescoredEpisode,
    build_comparison,
    build_coverage,
    build_report,
    load_run,
    write_evaluation,
)
from policy_agent.trajectory import RunStore, plan_resumption
from tests.report._support import (
    HOTEL,
    Reason,
    episode,
    evaluation_manifest,
    mixed_episodes,
    reward,
    write_run,
)


def _rule(name: str, status: RuleStatus, *, at: int | None = None) -> RuleResult:
    return RuleResult(
        rule=name,
        kind="forbidden_call",
        severity=RuleSeverity.MAJOR if name == "no_refund" else RuleSeverity.CRITICAL,
        status=status,
        breaches=[] if at is None else [RuleBreach(record_index=at, message=f"{name} broke")],
        error="the judge failed" if status is RuleStatus.UNDECIDED else None,
    )


def _ruled(item: Episode, *rules: RuleResult) -> Episode:
    assert item.reward is not None
    judge = JudgeUsage(model="rules-m", calls=2, prompt_tokens=7, latency_ms=0.1, cost_usd=0.3)
    ruled = item.reward.model_copy(update={"rules": list(rules), "rules_judge": judge})
    return item.model_copy(update={"reward": ruled})


def _cached(item: Episode) -> Episode:
    usage = TokenUsage(prompt_tokens=10, cached_prompt_tokens=6)
    generation = Generation(model="m", transport="chat", raw_completion="Hi.", usage=usage)
    message = AgentMessage(content="Hi.", generation=generation)
    return item.model_copy(update={"messages": [message]})


def _everything_run(tmp_path: Path) -> Path:
    """The mixed run (violations, tool errors, judge usage and failures, infrastructure
    failures, unevaluated episodes) with rules in its rewards, cached prompt tokens, a
    superseded attempt, and an evaluation that re-scores one episode."""
    mixed = mixed_episodes()
    mixed[0] = _ruled(mixed[0], _rule("no_refund", RuleStatus.BROKEN, at=1))
    mixed[1] = _ruled(
        _cached(mixed[1]),
        _rule("no_refund", RuleStatus.HELD),
        _rule("confirm", RuleStatus.UNDECIDED),
    )
    mixed[2] = _ruled(mixed[2], _rule("confirm", RuleStatus.NOT_APPLICABLE))
    lost = episode("f", 0, None, reason=Reason.INFRASTRUCTURE_ERROR)
    run = write_run(tmp_path, [*mixed, lost], trials=2)
    manifest = RunStore.open(run).manifest
    with RunStore.resume(
        run, config_hash=manifest.config_hash, domain_hash=manifest.domain_hash
    ) as store:
        store.append(plan_resumption(store.episodes_path).next_attempt(episode("f", 0, 1.0)))
    rescored = reward(0.0).model_copy(update={"rules": [_rule("confirm", RuleStatus.BROKEN, at=0)]})
    write_evaluation(
        run, evaluation_manifest(1), [RescoredEpisode(task_id="b", trial=0, reward=rescored)]
    )
    return run


def test_the_streamed_report_equals_the_one_from_whole_episodes(tmp_path: Path) -> None:
    run = load_run(_everything_run(tmp_path))
    whole = run.with_episodes(run.episodes)
    streamed = build_report(run, resamples=200)
    assert streamed == build_report(whole, resamples=200)
    # Each part was counted: the superseded attempt nowhere, the re-scored reward in place.
    assert streamed.episodes.total == 11
    assert streamed.episodes.infrastructure_failures == 1
    assert [t.rewards for t in streamed.tasks if t.task_id in ("b", "f")] == [[0.0, 0.0], [1.0]]
    assert {r.rule: (r.checked, r.broken, r.undecided) for r in streamed.rules} == {
        "confirm": (1, 1, 1),
        "no_refund": (2, 1, 0),
    }
    assert sum(streamed.violations.values()) == 2
    judge = next(role for role in streamed.roles if role.role == "judge")
    # Two NL judge calls, and two rules-judge calls in each of the two rewards still ruled.
    assert (judge.calls, judge.model) == (2 + 2 * 2, "judge-m, rules-m")
    agent = next(role for role in streamed.roles if role.role == "agent")
    assert agent.cached_prompt_tokens == 6


def test_the_streamed_comparison_and_coverage_equal_those_from_whole_episodes(
    tmp_path: Path,
) -> None:
    run = load_run(_everything_run(tmp_path / "a"))
    other = load_run(write_run(tmp_path / "b", mixed_episodes(), trials=2))
    whole, other_whole = run.with_episodes(run.episodes), other.with_episodes(other.episodes)
    assert build_comparison(run, other, resamples=200) == build_comparison(
        whole, other_whole, resamples=200
    )
    pack = load_pack(HOTEL)
    coverage = build_coverage(pack, [run, other])
    assert coverage == build_coverage(pack, [whole, other_whole])
    assert coverage.episodes == 21
