"""The NL-assertion judge: a pass, a fail, a malformed answer (retried once, then recorded), a
timeout (models in process; the judge over HTTP is `policy-agent evaluate --judge-model`'s test in
tests/cli); its parser and transcript."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.domain import DomainPack
from policy_agent.evaluation import (
    Evaluator,
    JudgeAnswerError,
    judge_messages,
    parse_verdict,
    transcript,
)
from policy_agent.evaluation._judge import RESULT_CHARACTERS, RETRY_PROMPT, SYSTEM_PROMPT
from policy_agent.llm import ModelClient
from policy_agent.records import Episode, RewardInfo, RewardType, ToolResult
from tests._models import ScriptedModels, model_config, request_bodies
from tests.evaluation.conftest import Converse, bank_pack, task

POLITE = "The agent is polite."
DEPOSITED = "The agent deposits 50 into account A1."
ASSERTIONS = [POLITE, DEPOSITED]


def answer(*met: bool, fenced: bool = False) -> str:
    results = [
        {"expectedOutcome": text, "reasoning": f"Because {n}.", "metExpectation": value}
        for n, (text, value) in enumerate(zip(ASSERTIONS, met, strict=True))
    ]
    body = json.dumps({"results": results}, indent=2)
    return f"Here is my verdict:\n```json\n{body}\n```\nDone." if fenced else body


def judged_by(answers: list[Any]) -> ScriptedModels:
    """In-process models whose `judge` role gives these answers."""
    return ScriptedModels.of({"judge": {"answers": answers}})


def judge_client(source: ScriptedModels, **fields: Any) -> ModelClient:
    return source.client(model_config(source, "judge", **fields), "judge")


def nl_pack(basis: list[str] | None = None) -> DomainPack:
    return bank_pack(
        task(
            actions=[
                {
                    "action_id": "d",
                    "name": "deposit",
                    "arguments": {"account_id": "A1", "amount": 50},
                }
            ],
            nl_assertions=ASSERTIONS,
            reward_basis=basis or ["DB", "NL_ASSERTION"],
        )
    )


def deposit_episode(converse: Converse, pack: DomainPack) -> Episode:
    return (
        converse(pack)
        .user("Please put 50 into A1.")
        .call("deposit", account_id="A1", amount=50)
        .agent("Done, thank you for banking with us.")
        .episode()
    )


async def judged(
    source: ScriptedModels,
    converse: Converse,
    basis: list[str] | None = None,
    **config: Any,
) -> RewardInfo:
    pack = nl_pack(basis)
    evaluator = Evaluator(pack, judge=judge_client(source, **config))
    return await evaluator.evaluate(deposit_episode(converse, pack))


async def test_the_judge_passes_an_episode_in_one_call(converse: Converse) -> None:
    models = judged_by([answer(True, True)])
    reward = await judged(
        models,
        converse,
        price_per_input_token=1e-6,
        price_per_output_token=2e-6,
    )
    assert reward.reward == 1.0
    assert reward.reward_breakdown[RewardType.NL_ASSERTION] == 1.0
    assert [(c.nl_assertion, c.met, c.justification) for c in reward.nl_assertions] == [
        (POLITE, True, "Because 0."),
        (DEPOSITED, True, "Because 1."),
    ]
    usage = reward.judge
    assert usage is not None and usage.error is None
    assert usage.model == "hosted_vllm/judge"
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.latency_ms > 0
    assert usage.cost_usd == pytest.approx(
        usage.prompt_tokens * 1e-6 + usage.completion_tokens * 2e-6
    )
    assert reward.infrastructure_error is None
    [body] = request_bodies(models)
    assert body["messages"] == judge_messages(
        deposit_episode(converse, nl_pack()).messages, ASSERTIONS
    )


async def test_the_judge_fails_an_episode_with_its_reasons(converse: Converse) -> None:
    reward = await judged(judged_by([answer(True, False, fenced=True)]), converse)
    assert reward.reward == 0.0
    assert reward.reward_breakdown == {
        RewardType.DB: 1.0,
        RewardType.ENV_ASSERTION: 1.0,
        RewardType.ACTION: 1.0,
        RewardType.COMMUNICATE: 1.0,
        RewardType.NL_ASSERTION: 0.0,
    }
    assert [c.met for c in reward.nl_assertions] == [True, False]
    assert reward.judge is not None and reward.judge.cost_usd is None  # no prices configured
    assert reward.infrastructure_error is None


async def test_a_malformed_answer_is_asked_for_once_more(converse: Converse) -> None:
    models = judged_by(["Both outcomes look fine to me.", answer(True, True)])
    reward = await judged(models, converse)
    assert reward.reward == 1.0
    assert reward.judge is not None and reward.judge.error is None
    assert len(models.requests) == 2
    retry: Any = models.requests[1].body
    first, again = retry["messages"][2:]
    assert first == {"role": "assistant", "content": "Both outcomes look fine to me."}
    assert again["content"].startswith("That answer could not be read: no JSON object")
    assert again["content"].endswith("with one result for each of the 2 expected outcomes.")
    # Both answers are kept; each prompt is the first one's messages and its corrections.
    generations = reward.judge.generations
    assert [g.raw_completion for g in generations] == [
        "Both outcomes look fine to me.",
        answer(True, True),
    ]
    assert [g.attempt for g in generations] == [1, 2]
    assert all(g.tokens is None for g in generations)  # no record_tokens on the judge's model
    asked = judge_messages(deposit_episode(converse, nl_pack()).messages, ASSERTIONS)
    for generation, request in zip(generations, models.requests, strict=True):
        sent: Any = request.body
        rebuilt = [m.model_dump(exclude_none=True) for m in generation.correction_messages]
        assert sent["messages"] == [*asked, *rebuilt]


async def test_two_malformed_answers_fail_the_judge_not_the_agent(converse: Converse) -> None:
    wrong_count = json.dumps({"results": [{"expectedOutcome": POLITE, "metExpectation": True}]})
    models = judged_by(["not json", wrong_count])
    reward = await judged(models, converse)
    assert len(models.requests) == 2
    assert reward.reward == 0.0
    assert reward.reward_breakdown[RewardType.NL_ASSERTION] == 0.0
    assert reward.nl_assertions == []
    error = (
        "malformed answer (attempt 2 of 2): 1 results for 2 expected outcomes; give one for each"
    )
    assert reward.judge is not None and reward.judge.error == error
    assert reward.judge.prompt_tokens > 0  # both calls were paid for
    assert reward.infrastructure_error == f"the judge failed: {error}"


async def test_a_judge_timeout_is_recorded_not_raised(converse: Converse) -> None:
    reward = await judged(judged_by([{"hang": True}]), converse, timeout=0.3)
    assert reward.reward == 0.0
    assert reward.judge is not None
    assert reward.judge.error is not None and reward.judge.error.startswith("LLMTimeout: ")
    assert reward.judge.latency_ms >= 300
    assert reward.infrastructure_error is not None
    assert reward.infrastructure_error.startswith("the judge failed: LLMTimeout")


async def test_a_judge_failure_outside_the_basis_leaves_the_reward_to_the_agent(
    converse: Converse,
) -> None:
    reward = await judged(judged_by([{"fault": {"status": 400}}]), converse, basis=["DB"])
    assert reward.reward == 1.0
    assert reward.reward_breakdown[RewardType.NL_ASSERTION] == 0.0
    assert reward.judge is not None and reward.judge.error is not None
    assert reward.judge.error.startswith("RequestRejected: ")
    assert reward.infrastructure_error is None


async def test_tasks_without_nl_assertions_never_call_the_judge(converse: Converse) -> None:
    models = judged_by(["unused"])
    pack = bank_pack(task(reward_basis=["DB", "NL_ASSERTION"]))
    evaluator = Evaluator(pack, judge=judge_client(models))
    reward = await evaluator.evaluate(converse(pack).agent("Hi.").episode())
    assert reward.reward == 1.0
    assert reward.reward_breakdown[RewardType.NL_ASSERTION] == 1.0
    assert reward.judge is None
    assert models.requests == []


# ----------------------------------------------------------------------------- the parser


def test_the_answer_is_found_in_fences_after_thinking_and_prose() -> None:
    text = "<think>{not json} maybe</think>\nSure!\n```json\n" + answer(False, True) + "\n```"
    checks = parse_verdict(text, ASSERTIONS)
    assert [(c.nl_assertion, c.met) for c in checks] == [(POLITE, False), (DEPOSITED, True)]


def test_results_pair_by_their_text_when_reordered_else_by_position() -> None:
    reordered = {
        "results": [
            {"expectedOutcome": DEPOSITED.upper(), "reasoning": "b", "metExpectation": False},
            {"expectedOutcome": f"  {POLITE} ", "reasoning": "a", "metExpectation": True},
        ]
    }
    checks = parse_verdict(json.dumps(reordered), ASSERTIONS)
    assert [(c.nl_assertion, c.met, c.justification) for c in checks] == [
        (POLITE, True, "a"),
        (DEPOSITED, False, "b"),
    ]
    paraphrased = {
        "results": [
            {"expectedOutcome": "politeness", "reasoning": "a", "metExpectation": True},
            {"expectedOutcome": "deposit", "reasoning": "b", "metExpectation": False},
        ]
    }
    checks = parse_verdict(json.dumps({"verdict": paraphrased}), ASSERTIONS)
    assert [(c.nl_assertion, c.met) for c in checks] == [(POLITE, True), (DEPOSITED, False)]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no JSON object with `results` in the answer: '(empty)'"),
        ('{"verdict": true}', "no JSON object with `results`"),
        ('{"results": "yes"}', "`results`: Input should be a valid list"),
        (
            '{"results": [{"expectedOutcome": "x", "metExpectation": "perhaps"}, {}]}',
            "`results.0.metExpectation`: Input should be a valid boolean",
        ),
        ('{"results": []}', "0 results for 2 expected outcomes"),
    ],
)
def test_unreadable_answers_say_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(JudgeAnswerError, match="^" + re.escape(problem)):
        parse_verdict(text, ASSERTIONS)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=15), inner, max_size=3)
    ),
    max_leaves=10,
)
RESULTS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "expectedOutcome": st.sampled_from(ASSERTIONS) | JSON_VALUES,
            "reasoning": JSON_VALUES,
            "metExpectation": st.booleans() | JSON_VALUES,
        },
    ),
    max_size=3,
)


@given(
    st.text(max_size=100)
    | st.tuples(st.text(max_size=20), RESULTS | JSON_VALUES, st.text(max_size=20)).map(
        lambda parts: f"{parts[0]}{json.dumps({'results': parts[1]})}{parts[2]}"
    )
)
def test_the_parser_returns_one_check_per_assertion_or_says_why_not(text: str) -> None:
    try:
        checks = parse_verdict(text, ASSERTIONS)
    except JudgeAnswerError:
        return
    assert [c.nl_assertion for c in checks] == ASSERTIONS


# ------------------------------------------------------------------------------ the prompt


def test_the_transcript_shows_every_role_and_summarises_tool_calls(converse: Converse) -> None:
    conversation = (
        converse(bank_pack())
        .user("Hi, put 50 into A1 and turn on my alerts.")
        .call("deposit", account_id="A1", amount=50)
        .user_call("enable_notifications")
        .agent("Done: your balance is 150.")
    )
    conversation.records.append(
        ToolResult(call_id="x", name="get_account", content="y" * (RESULT_CHARACTERS + 5))
    )
    expected = (
        "user: Hi, put 50 into A1 and turn on my alerts.\n"
        'assistant (tool call): deposit({"account_id": "A1", "amount": 50})\n'
        'tool (deposit): {"id": "A1", "owner": "Ana", "balance": 150, "status": "open", '
        '"memo": ""}\n'
        "user (tool call): enable_notifications({})\n"
        'tool (enable_notifications): {"id": "main", "notifications": true}\n'
        "assistant: Done: your balance is 150.\n"
        f"tool (get_account): {'y' * RESULT_CHARACTERS} [... 5 more characters]"
    )
    assert transcript(conversation.records) == expected
    messages = judge_messages(conversation.records, ASSERTIONS)
    assert messages == [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": (
                f"Transcript:\n{expected}\n\nExpected outcomes:\n1. {POLITE}\n2. {DEPOSITED}"
            ),
        },
    ]
    assert "{problem}" in RETRY_PROMPT and "{count}" in RETRY_PROMPT
