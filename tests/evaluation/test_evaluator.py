"""Each reward component on hand-built episodes of a tiny bank pack: a pass and a fail for each,
plus the rules around them (basis, early ends, replay checks, configuration errors)."""

from __future__ import annotations

from typing import Any

import pytest

from policy_agent.domain import Action
from policy_agent.evaluation import Evaluator, JudgeRequired, UnknownTask, action_matches
from policy_agent.evaluation._calls import LoggedCall
from policy_agent.records import (
    AgentToolCall,
    Episode,
    FieldDifference,
    RewardInfo,
    RewardType,
    TerminationReason,
    ToolResult,
)
from tests.evaluation.conftest import Converse, bank_pack, task

DEPOSIT_50 = {"action_id": "d", "name": "deposit", "arguments": {"account_id": "A1", "amount": 50}}
ALL_BUT_NL = ["DB", "ENV_ASSERTION", "ACTION", "COMMUNICATE"]


def score(converse: Converse, criteria: dict[str, Any], build: Any, **episode: Any) -> RewardInfo:
    """Score the conversation `build(conversation)` makes, for a task with these criteria."""
    pack = bank_pack(task(**criteria))
    conversation = converse(pack)
    build(conversation)
    return Evaluator(pack).evaluate_without_judge(conversation.episode(**episode))


# ----------------------------------------------------------------------------------------- DB


def test_db_passes_when_the_calls_reach_the_expected_state(converse: Converse) -> None:
    reward = score(
        converse,
        {"actions": [DEPOSIT_50], "reward_basis": ["DB"]},
        lambda c: c.call("get_account", account_id="A1").call(
            "deposit", account_id="A1", amount=50
        ),
    )
    assert reward.reward == 1.0
    assert reward.db_check is not None and reward.db_check.db_match
    assert reward.db_check.differences == []
    assert reward.db_check.expected_hash == reward.db_check.actual_hash
    assert reward.note is None


def test_db_fails_and_names_the_field_that_differs(converse: Converse) -> None:
    reward = score(
        converse,
        {"actions": [DEPOSIT_50], "reward_basis": ["DB"]},
        lambda c: c.call("deposit", account_id="A1", amount=40),
    )
    assert reward.reward == 0.0
    assert reward.db_check is not None and not reward.db_check.db_match
    assert reward.db_check.differences == [
        FieldDifference(
            database="assistant",
            table="accounts",
            record_id="A1",
            field="balance",
            expected=150,
            actual=140,
        )
    ]
    assert reward.db_check.expected_hash != reward.db_check.actual_hash


def test_a_missing_record_is_one_difference_with_the_whole_record(converse: Converse) -> None:
    opened = {"action_id": "o", "name": "open_account", "arguments": {"owner": "Cy"}}
    reward = score(converse, {"actions": [opened], "reward_basis": ["DB"]}, lambda c: c)
    assert reward.db_check is not None
    assert reward.db_check.differences == [
        FieldDifference(
            database="assistant",
            table="accounts",
            record_id="A-Cy",
            field=None,
            expected={"owner": "Cy", "balance": 0, "status": "open", "memo": ""},
            actual=None,
        )
    ]


def test_db_compares_the_user_database_too(converse: Converse) -> None:
    notify = {"action_id": "n", "requestor": "user", "name": "enable_notifications"}
    criteria = {"actions": [notify], "reward_basis": ["DB", "ACTION"]}

    done = score(converse, criteria, lambda c: c.user_call("enable_notifications"))
    assert done.reward == 1.0
    assert done.reward_breakdown[RewardType.ACTION] == 1.0

    missed = score(converse, criteria, lambda c: c.agent("Please turn on notifications."))
    assert missed.reward == 0.0
    assert missed.db_check is not None
    assert missed.db_check.expected_hash == missed.db_check.actual_hash  # agent side equal
    assert missed.db_check.expected_user_hash != missed.db_check.actual_user_hash
    assert missed.db_check.differences == [
        FieldDifference(
            database="user",
            table="phone",
            record_id="main",
            field="notifications",
            expected=True,
            actual=False,
        )
    ]
    assert not missed.action_checks[0].action_match


def test_nothing_expected_of_the_database_scores_db_1_but_shows_the_changes(
    converse: Converse,
) -> None:
    reward = score(
        converse,
        {"communicate_info": ["hello"], "reward_basis": ["DB"]},
        lambda c: c.call("close_account", account_id="A2"),
    )
    assert reward.reward == 1.0
    assert reward.db_check is not None
    assert reward.db_check.db_reward == 1.0 and not reward.db_check.db_match
    assert [d.field for d in reward.db_check.differences] == ["status"]
    assert reward.note is not None and "DB scores 1 anyway" in reward.note


# ------------------------------------------------------------------------------------- ACTION


def test_action_passes_on_the_compared_arguments_only(converse: Converse) -> None:
    loose = {**DEPOSIT_50, "compare_args": ["account_id"]}
    reward = score(
        converse,
        {"actions": [loose], "reward_basis": ["ACTION"]},
        lambda c: c.call("deposit", account_id="A1", amount=7),
    )
    assert reward.reward == 1.0
    assert reward.action_checks[0].action_match
    assert reward.action_checks[0].action_reward == 1.0


def test_action_fails_and_shows_which_action_was_missed(converse: Converse) -> None:
    closing = {"action_id": "c", "name": "close_account", "arguments": {"account_id": "A2"}}
    reward = score(
        converse,
        {"actions": [DEPOSIT_50, closing], "reward_basis": ["ACTION"]},
        lambda c: c.call("deposit", account_id="A1", amount=50).call(
            "close_account", account_id="A1"
        ),
    )
    assert reward.reward == 0.0
    assert [(c.action.action_id, c.action_match) for c in reward.action_checks] == [
        ("d", True),
        ("c", False),
    ]


def call(name: str, **arguments: Any) -> LoggedCall:
    return LoggedCall(
        index=0, call_id="c", name=name, arguments=arguments, requestor="assistant", result=None
    )


def test_compare_args_none_compares_the_arguments_the_call_made_as_tau2_does() -> None:
    expected = Action(
        action_id="a", name="deposit", arguments={"account_id": "A1", "amount": 50, "memo": "x"}
    )
    # The call left `memo` out (taking its default): tau2 compares only the call's keys.
    assert action_matches(expected, call("deposit", account_id="A1", amount=50))
    assert action_matches(expected, call("deposit", account_id="A1", amount=50.0))
    assert not action_matches(expected, call("deposit", account_id="A1", amount=50, memo="y"))
    assert not action_matches(expected, call("deposit", account_id="A1", amount=51))
    assert not action_matches(expected, call("get_account", account_id="A1"))


def test_empty_compare_args_compares_the_name_only() -> None:
    expected = Action(action_id="a", name="deposit", arguments={"amount": 1}, compare_args=[])
    assert action_matches(expected, call("deposit", amount=99, extra=True))
    assert not action_matches(expected, call("close_account"))


# -------------------------------------------------------------------------------- COMMUNICATE


def test_communicate_passes_case_insensitively_with_the_message_commas_removed(
    converse: Converse,
) -> None:
    reward = score(
        converse,
        {"communicate_info": ["1150", "ana"], "reward_basis": ["COMMUNICATE"]},
        lambda c: c.agent("Dear ANA, your balance is now $1,150."),
    )
    assert reward.reward == 1.0
    assert all(check.met for check in reward.communicate_checks)
    assert "1,150" in reward.communicate_checks[0].justification


def test_communicate_counts_only_what_the_agent_said_to_the_user(converse: Converse) -> None:
    def build(c: Any) -> None:
        c.user("Is my balance 1150?")
        c.records.append(
            AgentToolCall(
                call_id="x", name="get_account", arguments={}, content="the balance is 1150"
            )
        )
        c.agent("Let me check that for you.")

    reward = score(converse, {"communicate_info": ["1150"], "reward_basis": ["COMMUNICATE"]}, build)
    assert reward.reward == 0.0
    assert not reward.communicate_checks[0].met
    assert reward.communicate_checks[0].justification == "Information '1150' not communicated."


# ------------------------------------------------------------------------------ ENV_ASSERTION


def test_env_assertions_pass_on_the_final_state_of_both_databases(converse: Converse) -> None:
    criteria = {
        "env_assertions": [
            {"check": "lookup('accounts', 'A1').balance == 150"},
            {"check": "lookup('phone', 'main').notifications", "env_type": "user"},
        ],
        "reward_basis": ["ENV_ASSERTION"],
    }
    reward = score(
        converse,
        criteria,
        lambda c: c.call("deposit", account_id="A1", amount=50).user_call("enable_notifications"),
    )
    assert reward.reward == 1.0
    assert [check.met for check in reward.env_assertions] == [True, True]


def test_env_assertions_fail_and_an_undecidable_one_says_why(converse: Converse) -> None:
    criteria = {
        "env_assertions": [
            {"check": "lookup('accounts', 'A1').balance == 150"},
            {"check": "lookup('accounts', 'A9').balance == 0"},
        ],
        "reward_basis": ["ENV_ASSERTION"],
    }
    reward = score(converse, criteria, lambda c: c.call("deposit", account_id="A1", amount=10))
    assert reward.reward == 0.0
    first, second = reward.env_assertions
    assert (first.met, first.reward, first.error) == (False, 0.0, None)
    assert not second.met
    assert second.error is not None and "has no field `balance`" in second.error


# ----------------------------------------------------------------------------- the reward rules


def test_the_reward_is_the_product_over_the_basis_and_every_component_is_kept(
    converse: Converse,
) -> None:
    criteria = {
        "actions": [DEPOSIT_50],
        "communicate_info": ["never said"],
        "env_assertions": [{"check": "lookup('accounts', 'A1').balance == 1"}],
        "reward_basis": ["DB", "ACTION"],
    }
    reward = score(converse, criteria, lambda c: c.call("deposit", account_id="A1", amount=50))
    assert reward.reward == 1.0
    assert reward.reward_basis == [RewardType.DB, RewardType.ACTION]
    assert reward.reward_breakdown == {
        RewardType.DB: 1.0,
        RewardType.ENV_ASSERTION: 0.0,
        RewardType.ACTION: 1.0,
        RewardType.COMMUNICATE: 0.0,
        RewardType.NL_ASSERTION: 1.0,
    }


def test_a_task_without_criteria_scores_1(converse: Converse) -> None:
    reward = score(converse, {}, lambda c: c.agent("Hello."))
    assert reward.reward == 1.0
    assert reward.reward_basis == [RewardType.DB, RewardType.COMMUNICATE]


@pytest.mark.parametrize(
    "termination",
    [r for r in TerminationReason if not r.is_normal_end and not r.is_infrastructure],
)
def test_an_early_end_scores_0_and_keeps_every_component(
    converse: Converse, termination: TerminationReason
) -> None:
    reward = score(
        converse,
        {"actions": [DEPOSIT_50], "communicate_info": ["done"], "reward_basis": ALL_BUT_NL},
        lambda c: c.call("deposit", account_id="A1", amount=50).agent("All done."),
        termination=termination,
    )
    assert reward.reward == 0.0
    assert set(reward.reward_breakdown.values()) == {1.0}
    assert reward.db_check is not None and reward.db_check.db_match
    assert reward.note == f"The episode ended early ({termination.value}), so it scores 0."
    assert reward.infrastructure_error is None


def test_an_infrastructure_end_scores_0_and_is_flagged(converse: Converse) -> None:
    reward = score(
        converse,
        {"actions": [DEPOSIT_50]},
        lambda c: c.call("deposit", account_id="A1", amount=50),
        termination=TerminationReason.INFRASTRUCTURE_ERROR,
        error="agent model unreachable after 3 attempts",
    )
    assert reward.reward == 0.0
    assert reward.reward_breakdown[RewardType.DB] == 1.0
    assert reward.infrastructure_error == (
        "the episode ended with infrastructure_error: agent model unreachable after 3 attempts"
    )


def test_normal_ends_are_scored_on_their_merits(converse: Converse) -> None:
    for termination in (TerminationReason.TRANSFER, TerminationReason.OUT_OF_SCOPE):
        reward = score(converse, {"actions": [DEPOSIT_50]}, lambda c: c, termination=termination)
        assert reward.reward == 0.0  # DB differs
        assert reward.note is None


# ------------------------------------------------------------------------------ replay checks


def tampered(episode: Episode, index: int, **changes: Any) -> Episode:
    messages = list(episode.messages)
    messages[index] = messages[index].model_copy(update=changes)
    return episode.model_copy(update={"messages": messages})


def test_a_result_that_replays_differently_is_noted_not_fatal(converse: Converse) -> None:
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=["DB"]))
    episode = converse(pack).call("deposit", account_id="A1", amount=50).episode()
    assert isinstance(episode.messages[1], ToolResult)
    changed = tampered(episode, 1, content='{"balance": 999}')
    reward = Evaluator(pack).evaluate_without_judge(changed)
    assert reward.reward == 1.0
    assert reward.note == (
        "1 replayed call(s) returned something other than in the episode (is a tool "
        "non-deterministic?): #1 deposit (assistant)."
    )


def test_results_equal_as_json_are_not_mismatches(converse: Converse) -> None:
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=["DB"]))
    episode = converse(pack).call("deposit", account_id="A1", amount=50).episode()
    respaced = '{ "id": "A1", "owner": "Ana", "balance": 150, "status": "open", "memo": "" }'
    reward = Evaluator(pack).evaluate_without_judge(tampered(episode, 1, content=respaced))
    assert reward.note is None


def test_a_recorded_final_state_unlike_the_replay_is_noted(converse: Converse) -> None:
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=["DB"]))
    episode = converse(pack).call("deposit", account_id="A1", amount=50).episode()
    database = episode.database.model_copy(update={"final_hash": "0" * 64})
    reward = Evaluator(pack).evaluate_without_judge(
        episode.model_copy(update={"database": database})
    )
    assert reward.reward == 1.0
    assert reward.note == (
        "The replayed agent database differs from the episode's recorded final state; "
        "the replayed one is scored."
    )


def test_hashes_of_an_older_scheme_are_not_compared(converse: Converse) -> None:
    # Runs made before the incremental hash stored sha256 of the whole canonical JSON.
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=["DB"]))
    episode = converse(pack).call("deposit", account_id="A1", amount=50).episode()
    line = episode.model_dump(mode="json")
    del line["database"]["hash_scheme"]
    line["database"]["final_hash"] = "0" * 64
    old = Episode.model_validate(line)

    assert old.database.hash_scheme == "sha256-canonical-json"
    assert Evaluator(pack).evaluate_without_judge(old).note is None


def test_a_call_without_a_result_is_not_replayed_but_counts_as_made(converse: Converse) -> None:
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=["DB", "ACTION"]))
    conversation = converse(pack)
    conversation.records.append(
        AgentToolCall(call_id="late", name="deposit", arguments={"account_id": "A1", "amount": 50})
    )
    reward = Evaluator(pack).evaluate_without_judge(
        conversation.episode(termination=TerminationReason.TIMEOUT)
    )
    assert reward.reward_breakdown[RewardType.ACTION] == 1.0
    assert reward.reward_breakdown[RewardType.DB] == 0.0
    assert reward.note == (
        "The episode ended early (timeout), so it scores 0. "
        "Calls without a logged result were not replayed: #1 deposit (assistant)."
    )


def test_an_expected_action_that_fails_is_noted(converse: Converse) -> None:
    refused = {
        "action_id": "bad",
        "name": "deposit",
        "arguments": {"account_id": "A1", "amount": 0},
    }
    reward = score(converse, {"actions": [refused], "reward_basis": ["DB"]}, lambda c: c)
    assert reward.reward == 1.0
    assert reward.note == (
        "Expected actions that failed: bad deposit: Error: Deposits must be positive."
    )


# ---------------------------------------------------------------------------- configuration


NL_TASK = task(
    "judged", nl_assertions=["The agent is polite."], reward_basis=["DB", "NL_ASSERTION"]
)


def test_a_basis_needing_the_judge_without_one_is_refused_up_front() -> None:
    pack = bank_pack(task("plain"), NL_TASK)
    with pytest.raises(JudgeRequired, match=r"NL_ASSERTION is in the reward basis of judged"):
        Evaluator(pack)
    evaluator = Evaluator(pack, task_ids=["plain"])
    assert evaluator.evaluate_without_judge(_empty_episode(evaluator, "plain")).reward == 1.0
    with pytest.raises(JudgeRequired, match="add a `judge:` model"):
        evaluator.evaluate_without_judge(_empty_episode(evaluator, "judged"))


async def test_evaluate_without_a_judge_leaves_nl_out(converse: Converse) -> None:
    pack = bank_pack(task(nl_assertions=["The agent is polite."], reward_basis=["DB"]))
    reward = await Evaluator(pack).evaluate(converse(pack).agent("Hi.").episode())
    assert reward.reward == 1.0
    assert RewardType.NL_ASSERTION not in reward.reward_breakdown
    assert reward.judge is None
    assert reward.note == "NL assertions were not judged (no judge configured)."


def test_an_unknown_task_is_named() -> None:
    evaluator = Evaluator(bank_pack(task("t")))
    with pytest.raises(UnknownTask, match=r"task 'gone' is not in domain 'bank'"):
        evaluator.evaluate_without_judge(_empty_episode(evaluator, "gone"))


def test_the_reward_round_trips_in_the_episode_line(converse: Converse) -> None:
    pack = bank_pack(task(actions=[DEPOSIT_50], reward_basis=ALL_BUT_NL))
    episode = converse(pack).call("deposit", account_id="A1", amount=40).episode()
    scored = episode.model_copy(update={"reward": Evaluator(pack).evaluate_without_judge(episode)})
    assert Episode.model_validate_json(scored.model_dump_json()) == scored


def _empty_episode(evaluator: Evaluator, task_id: str) -> Episode:
    from tests.evaluation.conftest import Conversation

    return Conversation(evaluator.environment).episode(task_id)
