"""Every rule kind over real trajectories of the bank pack: held, broken at the right record with
its message, not applicable, undecided; the judge for confirmations; RULES in the basis."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from policy_agent.domain import DomainPack, Rule
from policy_agent.evaluation import Evaluator, JudgeRequired, confirmation_statement
from policy_agent.llm import ModelConfig
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    RewardInfo,
    RewardType,
    RuleResult,
    RuleStatus,
)
from policy_agent.scripted import Script, ScriptedModelClient
from tests.evaluation.conftest import Conversation, Converse, bank_pack, task

_RULE: TypeAdapter[Any] = TypeAdapter(Rule)


def with_rules(*rules: dict[str, Any], tasks: tuple[dict[str, Any], ...] = ()) -> DomainPack:
    """The bank pack with these rules (rule dicts as in rules.yaml) and tasks (default: `t`)."""
    pack = bank_pack(*(tasks or (task(),)))
    return dataclasses.replace(pack, rules=tuple(_RULE.validate_python(r) for r in rules))


def result(pack: DomainPack, episode: Episode, rule: str) -> RuleResult:
    reward = Evaluator(pack).evaluate_without_judge(episode)
    [found] = [r for r in reward.rules if r.rule == rule]
    return found


def breaches(found: RuleResult) -> list[tuple[int, str]]:
    return [(b.record_index, b.message) for b in found.breaches]


def talk(converse: Converse, pack: DomainPack) -> Conversation:
    return converse(pack).user("Hello.")


# --------------------------------------------------------------------------- after

LOOK_FIRST = {
    "name": "look_first",
    "kind": "after",
    "severity": "critical",
    "tools": ["deposit", "close_account"],
    "after": ["get_account"],
    "subject": "account_id",
}


def test_after_holds_when_the_same_subject_succeeded_before(converse: Converse) -> None:
    pack = with_rules(LOOK_FIRST)
    episode = (
        talk(converse, pack)
        .call("get_account", account_id="A1")
        .call("deposit", account_id="A1", amount=5)
    ).episode()
    found = result(pack, episode, "look_first")
    assert (found.status, found.applications, found.breaches) == (RuleStatus.HELD, 1, [])
    assert (found.kind, found.severity, found.source) == ("after", "critical", "pack")


def test_after_breaks_at_the_call_about_another_subject(converse: Converse) -> None:
    pack = with_rules(LOOK_FIRST)
    episode = (
        talk(converse, pack)
        .call("get_account", account_id="A2")
        .call("deposit", account_id="A1", amount=5)
        .call("close_account", account_id="A2")
    ).episode()
    found = result(pack, episode, "look_first")
    assert found.status is RuleStatus.BROKEN and found.applications == 2
    assert breaches(found) == [
        (
            3,
            'deposit(account_id="A1", amount=5) is about "A1", but get_account had not '
            'succeeded for it (only for "A2")',
        )
    ]


def test_a_failed_lookup_does_not_count(converse: Converse) -> None:
    pack = with_rules(LOOK_FIRST)
    episode = (
        talk(converse, pack)
        .call("get_account", account_id="A9")
        .call("close_account", account_id="A9")
    ).episode()
    assert breaches(result(pack, episode, "look_first")) == [
        (
            3,
            'close_account(account_id="A9") is about "A9", but get_account had not succeeded '
            "for it",
        )
    ]


def test_without_a_subject_any_earlier_success_will_do(converse: Converse) -> None:
    pack = with_rules(LOOK_FIRST | {"subject": None})
    episode = (
        talk(converse, pack)
        .call("deposit", account_id="A1", amount=5)
        .call("get_account", account_id="A2")
        .call("deposit", account_id="A1", amount=5)
    ).episode()
    assert breaches(result(pack, episode, "look_first")) == [
        (1, 'deposit(account_id="A1", amount=5) came before any get_account succeeded')
    ]


def test_a_subject_can_come_from_the_result(converse: Converse) -> None:
    rule = LOOK_FIRST | {
        "after": ["get_account", "open_account"],
        "subject": {
            "get_account": "account_id",
            "open_account": "result.id",
            "deposit": "account_id",
            "close_account": "account_id",
        },
    }
    pack = with_rules(rule)
    episode = (
        talk(converse, pack)
        .call("open_account", owner="Cy")
        .call("deposit", account_id="A-Cy", amount=1)
    ).episode()
    assert result(pack, episode, "look_first").status is RuleStatus.HELD


def test_a_subject_of_a_call_that_failed_on_nothing_is_not_the_rules_business(
    converse: Converse,
) -> None:
    pack = with_rules(LOOK_FIRST | {"subject": "lookup('accounts', account_id).owner"})
    episode = talk(converse, pack).call("close_account", account_id="A9").episode()
    found = result(pack, episode, "look_first")
    assert (found.status, found.applications) == (RuleStatus.NOT_APPLICABLE, 0)


def test_a_subject_that_fails_for_a_call_that_worked_is_undecided(converse: Converse) -> None:
    pack = with_rules(LOOK_FIRST | {"subject": "lookup('accounts', account_id).owner + 1"})
    episode = talk(converse, pack).call("get_account", account_id="A1").episode()
    found = result(pack, episode, "look_first")
    assert found.status is RuleStatus.UNDECIDED and found.error is not None
    assert found.error.startswith("step 2: get_account: `+` needs two numbers, two strings or two")


def test_the_task_history_is_context_but_never_a_breach(converse: Converse) -> None:
    history = {
        "messages": [
            {"role": "user", "content": "Hello."},
            {
                "role": "assistant",
                "tool_call": {"name": "deposit", "arguments": {"account_id": "A2", "amount": 1}},
            },
            {
                "role": "assistant",
                "tool_call": {"name": "get_account", "arguments": {"account_id": "A1"}},
            },
        ]
    }
    pack = with_rules(LOOK_FIRST, tasks=(task("t") | {"initial_state": history},))
    conversation = (
        converse(pack)
        .user("Hello.")
        .call("deposit", account_id="A2", amount=1)
        .call("get_account", account_id="A1")
        .user("Close A1, please.")
        .call("close_account", account_id="A1")
    )
    episode = conversation.episode().model_copy(update={"initial_messages": 5})
    found = result(pack, episode, "look_first")
    assert (found.status, found.applications) == (RuleStatus.HELD, 1)


# --------------------------------------------------------------------------- forbidden_call


def test_forbidden_call_sees_the_database_as_it_was_before_each_call(converse: Converse) -> None:
    rule = {
        "name": "no_rich_accounts",
        "kind": "forbidden_call",
        "tools": ["deposit"],
        "when": "lookup('accounts', account_id).balance + amount > 150",
    }
    pack = with_rules(rule)
    episode = (
        talk(converse, pack)
        .call("deposit", account_id="A1", amount=40)
        .call("deposit", account_id="A1", amount=40)
    ).episode()
    found = result(pack, episode, "no_rich_accounts")
    assert found.applications == 2
    assert breaches(found) == [
        (
            3,
            'deposit(account_id="A1", amount=40) while '
            "lookup('accounts', account_id).balance + amount > 150",
        )
    ]


def test_forbidden_call_counts_a_call_the_tool_refused(converse: Converse) -> None:
    rule = {"name": "no_odd", "kind": "forbidden_call", "tools": ["deposit"], "when": "amount < 0"}
    pack = with_rules(rule)
    episode = talk(converse, pack).call("deposit", account_id="A1", amount=-5).episode()
    assert episode.messages[2].kind == "tool_result" and episode.messages[2].error  # type: ignore[union-attr]
    assert [i for i, _ in breaches(result(pack, episode, "no_odd"))] == [1]


def test_a_tool_without_when_is_never_to_be_called(converse: Converse) -> None:
    pack = with_rules({"name": "no_new", "kind": "forbidden_call", "tools": ["open_account"]})
    broken = talk(converse, pack).call("open_account", owner="Cy").episode()
    assert breaches(result(pack, broken, "no_new")) == [
        (1, 'open_account(owner="Cy"): open_account must never be called')
    ]
    quiet = talk(converse, pack).call("get_account", account_id="A1").episode()
    assert result(pack, quiet, "no_new").status is RuleStatus.NOT_APPLICABLE


# --------------------------------------------------------------------------- confirmation

YES = {"name": "yes_first", "kind": "confirmation", "tools": ["deposit", "close_account"]}


@pytest.mark.parametrize(
    ("asked", "reply", "status"),
    [
        ("Shall I deposit 5 into A1?", "Yes, please.", RuleStatus.HELD),
        ("Shall I add 5 to A1?", "Yes, please.", RuleStatus.BROKEN),
        ("Shall I deposit 5 into A1?", "How much is there now?", RuleStatus.BROKEN),
        ("Shall I deposit 5 into A1?", "Yes... no, wait.", RuleStatus.BROKEN),
    ],
)
def test_confirmation_by_tool_words_and_the_reply(
    converse: Converse, asked: str, reply: str, status: RuleStatus
) -> None:
    pack = with_rules(YES)
    episode = (
        talk(converse, pack).agent(asked).user(reply).call("deposit", account_id="A1", amount=5)
    ).episode()
    assert result(pack, episode, "yes_first").status is status


def test_a_broken_confirmation_says_what_was_missing(converse: Converse) -> None:
    pack = with_rules(YES | {"described_by": {"arguments": ["account_id"], "tool_words": True}})
    episode = (
        talk(converse, pack)
        .agent("Shall I put 5 in?")
        .user("How much is in it?")
        .call("deposit", account_id="A1", amount=5)
    ).episode()
    assert breaches(result(pack, episode, "yes_first")) == [
        (
            3,
            'deposit(account_id="A1", amount=5): the agent\'s message at step 2 does not describe '
            "it (missing the word 'deposit'; account_id 'A1'); the user's reply at step 3 does "
            'not agree: "How much is in it?"',
        )
    ]


def test_one_yes_covers_the_writes_it_described(converse: Converse) -> None:
    pack = with_rules(YES)
    episode = (
        talk(converse, pack)
        .agent("I will deposit 5 into A1, then close account A2. OK?")
        .user("Okay.")
        .call("deposit", account_id="A1", amount=5)
        .call("close_account", account_id="A2")
    ).episode()
    found = result(pack, episode, "yes_first")
    assert (found.status, found.applications) == (RuleStatus.HELD, 2)


def test_a_write_before_anything_was_asked(converse: Converse) -> None:
    pack = with_rules(YES)
    first = converse(pack).call("deposit", account_id="A1", amount=5).episode()
    assert breaches(result(pack, first, "yes_first")) == [
        (0, 'deposit(account_id="A1", amount=5) came before the user said anything')
    ]
    unasked = talk(converse, pack).call("deposit", account_id="A1", amount=5).episode()
    assert breaches(result(pack, unasked, "yes_first")) == [
        (
            1,
            'deposit(account_id="A1", amount=5): the agent asked nothing before the user\'s '
            "message",
        )
    ]


def _judge(*answers: dict[str, Any], record_tokens: bool = False) -> ScriptedModelClient:
    script = Script.model_validate({"roles": {"judge": {"answers": list(answers)}}})
    config = ModelConfig(
        model="hosted_vllm/judge", retries=0, retry_backoff=0, record_tokens=record_tokens
    )
    return ScriptedModelClient(script, config, role="judge")


def _verdict(met: bool, reasoning: str) -> dict[str, Any]:
    result = {"expectedOutcome": "x", "reasoning": reasoning, "metExpectation": met}
    return {"content": json.dumps({"results": [result]})}


def _judged_episode(converse: Converse, pack: DomainPack) -> Episode:
    return (
        talk(converse, pack)
        .agent("Shall I put 5 in A1?")
        .user("Sure.")
        .call("deposit", account_id="A1", amount=5)
        .call("close_account", account_id="A1")
    ).episode()


async def test_the_judge_decides_each_write_with_one_call(converse: Converse) -> None:
    pack = with_rules(YES | {"judge": True})
    judge = _judge(
        _verdict(True, "The user said sure."), _verdict(False, "Closing was never asked.")
    )
    reward = await Evaluator(pack, judge=judge).evaluate(_judged_episode(converse, pack))
    [found] = reward.rules
    assert found.judged and breaches(found) == [
        (
            5,
            'close_account(account_id="A1"): the judge found no explicit yes for it: Closing was '
            "never asked.",
        )
    ]
    assert reward.rules_judge is not None and reward.rules_judge.calls == 2
    assert reward.judge is None  # the NL judge was not asked: the task has no NL assertions
    # The judge read the conversation up to each call, and the statement about it.
    first, second = (_asked(request.body) for request in judge.requests)
    assert first.endswith(confirmation_statement("deposit", {"account_id": "A1", "amount": 5}))
    assert "tool call): close_account" not in first
    assert 'tool call): deposit({"account_id": "A1", "amount": 5})' in second
    assert second.endswith(confirmation_statement("close_account", {"account_id": "A1"}))


async def test_the_rules_judge_keeps_each_verdicts_generation_and_tokens_in_order(
    converse: Converse,
) -> None:
    pack = with_rules(YES | {"judge": True})
    answers = (_verdict(True, "The user said sure."), _verdict(False, "Closing was never asked."))
    judge = _judge(*answers, record_tokens=True)
    reward = await Evaluator(pack, judge=judge).evaluate(_judged_episode(converse, pack))
    assert reward.rules_judge is not None
    generations = reward.rules_judge.generations
    assert [g.raw_completion for g in generations] == [a["content"] for a in answers]
    for generation, request in zip(generations, judge.requests, strict=True):
        assert generation.tokens is not None and generation.tokens.complete
        assert request.body["return_token_ids"] is True
        # The stand-in tokenizer's ids are the UTF-8 bytes of what was sampled.
        assert bytes(generation.tokens.completion_token_ids or []).decode() == (
            generation.raw_completion
        )


def _asked(body: dict[str, Any]) -> str:
    """The user turn of a judge request: the transcript and the statement to decide."""
    messages = body["messages"]
    assert isinstance(messages, list) and isinstance(messages[1], dict)
    content = messages[1]["content"]
    assert isinstance(content, str)
    return content


async def test_a_judge_failure_is_kept_apart(converse: Converse) -> None:
    tasks = (task("t", reward_basis=["DB", "RULES"]),)
    pack = with_rules(YES | {"judge": True}, tasks=tasks)
    judge = _judge({"fault": {"status": 500}}, _verdict(True, "fine"))
    reward = await Evaluator(pack, judge=judge).evaluate(_judged_episode(converse, pack))
    [found] = reward.rules
    assert found.status is RuleStatus.UNDECIDED and found.error is not None
    assert found.error.startswith('step 4: deposit(account_id="A1", amount=5): the judge failed: ')
    assert reward.rules_judge is not None and reward.rules_judge.calls == 1
    assert reward.infrastructure_error is not None
    assert reward.infrastructure_error.startswith("the judge failed on a rule: ")


def test_without_a_judge_a_judged_rule_is_undecided_or_refused(converse: Converse) -> None:
    pack = with_rules(YES | {"judge": True})
    found = result(pack, _judged_episode(converse, pack), "yes_first")
    assert found.status is RuleStatus.UNDECIDED
    assert found.error == (
        'step 4: deposit(account_id="A1", amount=5): the rule asks the judge, and no judge is '
        "configured"
    )
    needing = with_rules(YES | {"judge": True}, tasks=(task("t", reward_basis=["RULES"]),))
    with pytest.raises(JudgeRequired, match="RULES is in the reward basis of t and a rule"):
        Evaluator(needing)


# --------------------------------------------------------------------------- forbidden_text

NO_VOUCHERS = {
    "name": "no_vouchers",
    "kind": "forbidden_text",
    "patterns": [r"\bvouchers?\b"],
    "unless": [r"\b(not|cannot)\b"],
}


def test_forbidden_text_breaks_at_the_message_that_says_it(converse: Converse) -> None:
    pack = with_rules(NO_VOUCHERS)
    episode = (
        talk(converse, pack)
        .agent("I cannot give you a voucher.")
        .user("Please?")
        .agent("Fine. Here is a Voucher for 10.")
    ).episode()
    found = result(pack, episode, "no_vouchers")
    assert found.applications == 2
    assert breaches(found) == [
        (3, 'the agent said "Here is a Voucher for 10." (matches /\\bvouchers?\\b/)')
    ]


def test_forbidden_text_reads_no_reasoning_and_no_text_before_a_call(converse: Converse) -> None:
    pack = with_rules(NO_VOUCHERS)
    conversation = talk(converse, pack)
    conversation.records.append(AgentMessage(content="Hello.", reasoning="Offer a voucher?"))
    conversation.records.append(
        AgentToolCall(call_id="c", name="think", arguments={}, content="A voucher, maybe.")
    )
    assert result(pack, conversation.episode(), "no_vouchers").status is RuleStatus.HELD


# --------------------------------------------------------------------------- limit


def test_limit_breaks_at_the_call_past_the_most(converse: Converse) -> None:
    pack = with_rules(
        {"name": "one_deposit", "kind": "limit", "tools": ["deposit"], "max_calls": 1}
    )
    episode = (
        talk(converse, pack)
        .call("deposit", account_id="A1", amount=1)
        .call("deposit", account_id="A1", amount=1)
    ).episode()
    assert breaches(result(pack, episode, "one_deposit")) == [
        (3, 'deposit(account_id="A1", amount=1) is call 2 of deposit; at most 1')
    ]


def test_limit_on_the_turns_before_a_call(converse: Converse) -> None:
    rule = {
        "name": "close_soon",
        "kind": "limit",
        "tools": ["close_account"],
        "within_user_turns": 1,
    }
    pack = with_rules(rule)
    episode = (
        talk(converse, pack).agent("Which one?").user("A1.").call("close_account", account_id="A1")
    ).episode()
    assert breaches(result(pack, episode, "close_soon")) == [
        (3, 'close_account(account_id="A1") came after 2 user messages; at most 1')
    ]


# --------------------------------------------------------------------------- the reward


def _reward(pack: DomainPack, episode: Episode) -> RewardInfo:
    return Evaluator(pack).evaluate_without_judge(episode)


def test_a_broken_rule_fails_a_task_with_rules_in_its_basis(converse: Converse) -> None:
    basis = ["ENV_ASSERTION", "RULES"]
    pack = with_rules(NO_VOUCHERS, tasks=(task("t", reward_basis=basis),))
    kept = _reward(pack, talk(converse, pack).agent("Hi.").episode("t"))
    broken = _reward(pack, talk(converse, pack).agent("A voucher!").episode("t"))
    assert (kept.reward, kept.reward_breakdown[RewardType.RULES]) == (1.0, 1.0)
    assert (broken.reward, broken.reward_breakdown[RewardType.RULES]) == (0.0, 0.0)


def test_outside_the_basis_a_rule_is_reported_and_the_reward_stands(converse: Converse) -> None:
    pack = with_rules(NO_VOUCHERS)
    reward = _reward(pack, talk(converse, pack).agent("A voucher!").episode())
    assert reward.reward == 1.0 and reward.reward_breakdown[RewardType.RULES] == 0.0
    assert [r.status for r in reward.rules] == [RuleStatus.BROKEN]


def test_a_pack_without_rules_keeps_tau2_benchs_breakdown(converse: Converse) -> None:
    pack = bank_pack(task())
    reward = _reward(pack, talk(converse, pack).agent("A voucher!").episode())
    assert RewardType.RULES not in reward.reward_breakdown and reward.rules == []


def test_task_rules_join_and_replace_the_packs(converse: Converse) -> None:
    own = NO_VOUCHERS | {"patterns": [r"\bcoupons?\b"]}
    tasks = (task("t") | {"rules": {"disable": ["no_vouchers"], "add": [own]}},)
    pack = with_rules(
        NO_VOUCHERS,
        {"name": "one", "kind": "limit", "tools": ["deposit"], "max_calls": 1},
        tasks=tasks,
    )
    reward = _reward(pack, talk(converse, pack).agent("A voucher, or a coupon.").episode())
    assert [(r.rule, r.source, r.status) for r in reward.rules] == [
        ("one", "pack", RuleStatus.NOT_APPLICABLE),
        ("no_vouchers", "task", RuleStatus.BROKEN),
    ]


def test_an_expression_that_does_not_compile_leaves_its_rule_undecided(converse: Converse) -> None:
    # A pack built in code is not checked as a loaded one is.
    pack = with_rules(
        {"name": "bad", "kind": "forbidden_call", "tools": ["deposit"], "when": "nope"}
    )
    [found] = _reward(pack, talk(converse, pack).episode()).rules
    assert found.status is RuleStatus.UNDECIDED and found.error is not None
    assert found.error.startswith(
        "its expression for deposit does not compile: unknown name `nope`"
    )
