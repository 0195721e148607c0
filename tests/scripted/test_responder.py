"""The responder alone (no HTTP): which answer comes next, and the exact OpenAI shapes it builds."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy_agent.scripted import Script, approximate_tokens
from policy_agent.scripted._responder import Responder


def responder(roles: dict[str, Any], **script: Any) -> Responder:
    return Responder(Script.model_validate({"roles": roles, **script}))


def chat(model: str = "agent", text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}


def body_of(reply: Any) -> Any:
    return json.loads(reply.body)


def test_chat_reply_has_the_openai_shape_vllm_sends() -> None:
    reply = responder({"agent": {"answers": [{"content": "Hello", "reasoning": "Greet."}]}}).reply(
        "chat", chat()
    )
    assert reply.status == 200
    body = body_of(reply)
    assert body["object"] == "chat.completion"
    assert body["model"] == "agent"
    assert body["id"].startswith("chatcmpl-")
    assert isinstance(body["created"], int)
    assert body["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello",
                "reasoning": "Greet.",
                "tool_calls": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ]
    usage = body["usage"]
    assert usage["completion_tokens"] == approximate_tokens("Greet.Hello[]")
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_reasoning_field_can_be_the_older_reasoning_content() -> None:
    script = {"agent": {"answers": [{"content": "x", "reasoning": "r"}]}}
    reply = responder(script, reasoning_field="reasoning_content").reply("chat", chat())
    message = body_of(reply)["choices"][0]["message"]
    assert message["reasoning_content"] == "r"
    assert "reasoning" not in message


def test_tool_calls_carry_json_arguments_and_finish_with_tool_calls() -> None:
    answer = {
        "content": None,
        "tool_calls": [
            {"name": "get_booking", "arguments": {"booking_id": "B1", "n": 2}},
            {"name": "broken", "arguments": '{"booking_id": ', "id": "mine"},
        ],
    }
    body = body_of(responder({"agent": {"answers": [answer]}}).reply("chat", chat()))
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1_0",
            "type": "function",
            "function": {"name": "get_booking", "arguments": '{"booking_id": "B1", "n": 2}'},
        },
        {
            "id": "mine",
            "type": "function",
            "function": {"name": "broken", "arguments": '{"booking_id": '},
        },
    ]


def test_completion_is_cut_at_the_first_stop_string_like_vllm() -> None:
    text = "thinking</think>\nHello<|im_end|>\n<|im_start|>user\nmore"
    script = {"agent": {"answers": [{"text": text}]}}
    body = body_of(
        responder(script).reply(
            "completions", {"model": "agent", "prompt": "P", "stop": ["<|im_start|>", "<|im_end|>"]}
        )
    )
    assert body["object"] == "text_completion"
    assert body["choices"] == [
        {"index": 0, "text": "thinking</think>\nHello", "logprobs": None, "finish_reason": "stop"}
    ]


def test_cut_off_output_reports_finish_reason_length() -> None:
    script = {"agent": {"answers": [{"text": "The booking is", "finish_reason": "length"}]}}
    body = body_of(responder(script).reply("completions", {"model": "agent", "prompt": "P"}))
    assert body["choices"][0]["finish_reason"] == "length"


@pytest.mark.parametrize(
    ("when_exhausted", "expected"),
    [("repeat_last", ["a", "b", "b", "b"]), ("cycle", ["a", "b", "a", "b"])],
)
def test_what_follows_the_last_answer(when_exhausted: str, expected: list[str]) -> None:
    role = {"answers": ["a", "b"], "when_exhausted": when_exhausted}
    served = responder({"agent": role})
    contents = [
        body_of(served.reply("chat", chat()))["choices"][0]["message"]["content"] for _ in expected
    ]
    assert contents == expected


def test_exhausted_answers_are_an_http_500_naming_the_role() -> None:
    served = responder({"agent": {"answers": ["only"]}})
    served.reply("chat", chat())
    reply = served.reply("chat", chat())
    assert reply.status == 500
    message = body_of(reply)["error"]["message"]
    assert "role 'agent'" in message
    assert "request #2" in message


def test_reset_starts_the_answers_again() -> None:
    served = responder({"agent": {"answers": ["one", "two"]}})
    served.reply("chat", chat())
    served.reset()
    assert body_of(served.reply("chat", chat()))["choices"][0]["message"]["content"] == "one"


def test_rules_match_the_last_message_then_fall_back() -> None:
    role = {
        "mode": "rules",
        "rules": [
            {"contains": "booking", "answer": "Which booking?"},
            {"regex": r"^B\d+$", "answer": "Found it."},
        ],
        "fallback": "Pardon?",
    }
    served = responder({"user": role})

    def answer(text: str) -> str:
        request: dict[str, Any] = {
            "model": "user",
            "messages": [
                {"role": "user", "content": "booking"},
                {"role": "assistant", "content": text},
            ],
        }
        content: str = body_of(served.reply("chat", request))["choices"][0]["message"]["content"]
        return content

    assert answer("my booking please") == "Which booking?"
    assert answer("B11246") == "Found it."
    assert answer("hello") == "Pardon?"


def test_rules_without_fallback_answer_500_quoting_the_text() -> None:
    served = responder({"user": {"mode": "rules", "rules": [{"contains": "x", "answer": "y"}]}})
    reply = served.reply("chat", chat("user", "nothing matches"))
    assert reply.status == 500
    assert "'nothing matches'" in body_of(reply)["error"]["message"]


def test_rules_on_completions_match_the_prompt() -> None:
    role = {"mode": "rules", "rules": [{"contains": "crib", "answer": {"text": "Sure."}}]}
    body = body_of(
        responder({"agent": role}).reply("completions", {"model": "agent", "prompt": "a crib?"})
    )
    assert body["choices"][0]["text"] == "Sure."


def test_unknown_model_is_a_404_listing_the_roles() -> None:
    reply = responder({"agent": {"answers": ["x"]}, "user": {"answers": ["y"]}}).reply(
        "chat", chat("hosted_vllm/agent")
    )
    assert reply.status == 404
    error = body_of(reply)["error"]
    assert (
        error["message"]
        == "The model `hosted_vllm/agent` does not exist; the script has roles: agent, user."
    )
    assert (error["type"], error["param"], error["code"]) == ("NotFoundError", "model", 404)


def test_an_answer_for_the_other_endpoint_is_a_500_that_says_so() -> None:
    served = responder({"agent": {"answers": [{"text": "raw"}, "content only"]}})
    first = served.reply("chat", chat())
    assert first.status == 500
    assert "has only `text`" in body_of(first)["error"]["message"]
    second = served.reply("completions", {"model": "agent", "prompt": "P"})
    assert second.status == 500
    assert "has no `text`" in body_of(second)["error"]["message"]


def test_faults_hangs_and_latency() -> None:
    answers = [
        {"fault": {"status": 429}, "latency_ms": 20},
        {"fault": {"status": 502, "body": "<html>bad gateway</html>", "content_type": "text/html"}},
        {"fault": {"status": 200, "body": '{"choices": ['}},
        {"hang": True},
    ]
    served = responder({"agent": {"answers": answers}}, latency_ms=5)
    limited = served.reply("chat", chat())
    assert (limited.status, limited.delay_s) == (429, 0.02)
    assert body_of(limited)["error"]["type"] == "RateLimitError"
    html = served.reply("chat", chat())
    assert (html.status, html.body, html.content_type, html.delay_s) == (
        502,
        "<html>bad gateway</html>",
        "text/html",
        0.005,
    )
    garbage = served.reply("chat", chat())
    assert (garbage.status, garbage.body, garbage.content_type) == (
        200,
        '{"choices": [',
        "application/json",
    )
    assert served.reply("chat", chat()).hang


@given(st.text(max_size=400))
def test_token_estimate_is_a_quarter_of_the_characters_rounded_up(text: str) -> None:
    tokens = approximate_tokens(text)
    assert 4 * tokens >= len(text) > 4 * (tokens - 1)


def test_by_seed_keeps_each_seeds_answers_apart_whatever_the_interleaving() -> None:
    role = {"mode": "by_seed", "answers": {7: ["a1", "a2"], 8: ["b1"], 900: ["c1", "c2"]}}
    served = responder({"agent": role})

    def content(seed: int) -> str:
        text: str = body_of(served.reply("chat", chat(seed=seed)))["choices"][0]["message"][
            "content"
        ]
        return text

    assert [content(s) for s in (900, 7, 8, 7, 900)] == ["c1", "a1", "b1", "a2", "c2"]
    served.reset()
    assert content(7) == "a1"


def test_by_seed_serves_completions_too() -> None:
    role = {"mode": "by_seed", "answers": {3: [{"text": "raw</think>\nHi"}]}}
    body = body_of(
        responder({"agent": role}).reply(
            "completions", {"model": "agent", "prompt": "P", "seed": 3}
        )
    )
    assert body["choices"][0]["text"] == "raw</think>\nHi"


@pytest.mark.parametrize(
    ("seeds", "expected"),
    [
        (
            [8],
            "the script has no answers for seed 8 of role 'agent'. In a replay, the run asked "
            "for something the recording did not: the conversation took another path (a "
            "rejected answer is asked again with the next seed), or the run's seed, tasks or "
            "trials differ from the recorded run's",
        ),
        (
            [7, 7],
            "the 1 answer(s) for seed 7 of role 'agent' are used up (request #2 with this seed). "
            "In a replay, the conversation went on longer than the recorded one, or this server "
            "has served the run already (restart it before each re-run)",
        ),
        (
            [None],
            "role 'agent' answers by seed, but the request has no integer `seed`; send one (the "
            "runner sends each episode's)",
        ),
        ([True], "role 'agent' answers by seed, but the request has no integer `seed`"),
    ],
)
def test_by_seed_without_an_answer_is_a_500_naming_the_seed(
    seeds: list[Any], expected: str
) -> None:
    served = responder({"agent": {"mode": "by_seed", "answers": {7: ["only"]}}})
    replies = [served.reply("chat", chat() if seed is None else chat(seed=seed)) for seed in seeds]
    assert [r.status for r in replies[:-1]] == [200] * (len(seeds) - 1)
    assert replies[-1].status == 500
    error = body_of(replies[-1])["error"]
    assert error["message"].startswith(expected)
    assert (error["type"], error["code"]) == ("InternalServerError", 500)


def test_a_by_seed_error_does_not_use_up_an_answer() -> None:
    served = responder({"agent": {"mode": "by_seed", "answers": {7: ["one", "two"]}}})
    assert served.reply("chat", chat(seed=8)).status == 500
    assert body_of(served.reply("chat", chat(seed=7)))["choices"][0]["message"]["content"] == "one"
