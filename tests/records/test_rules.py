"""Rule results as a reward stores them: old rewards still read, new ones round-trip, and a gate
can decide from the record alone."""

from __future__ import annotations

from policy_agent.records import (
    JudgeUsage,
    RewardInfo,
    RewardType,
    RuleBreach,
    RuleResult,
    RuleSeverity,
    RuleStatus,
)

BROKEN = RuleResult(
    rule="explicit_yes_before_changes",
    kind="confirmation",
    severity=RuleSeverity.CRITICAL,
    description="Wait for an explicit yes.",
    status=RuleStatus.BROKEN,
    applications=2,
    breaches=[RuleBreach(record_index=6, message='cancel_booking(booking_id="B1"): ...')],
)


def test_a_reward_written_before_rules_existed_still_reads() -> None:
    old = '{"reward": 1.0, "reward_basis": ["DB"], "judge": {"model": "m"}}'
    reward = RewardInfo.model_validate_json(old)
    assert reward.rules == [] and reward.rules_judge is None
    assert reward.judge == JudgeUsage(model="m", calls=1)


def test_a_reward_with_rules_round_trips() -> None:
    reward = RewardInfo(
        reward=0.0,
        reward_basis=[RewardType.DB, RewardType.RULES],
        reward_breakdown={RewardType.DB: 1.0, RewardType.RULES: 0.0},
        rules=[BROKEN],
        rules_judge=JudgeUsage(model="judge", calls=2, prompt_tokens=10),
    )
    assert RewardInfo.model_validate_json(reward.model_dump_json()) == reward
    assert '"RULES"' in reward.model_dump_json()


def test_what_a_gate_reads() -> None:
    assert (BROKEN.record_index, BROKEN.kept) == (6, False)
    held = BROKEN.model_copy(update={"status": RuleStatus.HELD, "breaches": []})
    assert (held.record_index, held.kept) == (None, True)
    unknown = BROKEN.model_copy(update={"status": RuleStatus.UNDECIDED, "breaches": []})
    assert unknown.kept is False
    assert sorted(RuleSeverity, key=lambda s: s.rank) == [
        RuleSeverity.CRITICAL,
        RuleSeverity.MAJOR,
        RuleSeverity.MINOR,
    ]
