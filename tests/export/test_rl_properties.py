"""Property tests of the rl export's layout: whatever the prompts do, every sampled token lands in
exactly one segment with its logprob, and the checks catch a record that lies."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policy_agent.export import NoTokens, rl_checks, rl_records, usage_checks
from policy_agent.records import (
    AgentMessage,
    Episode,
    Generation,
    TokenTrace,
    TokenUsage,
    UserMessage,
)
from tests.report._support import episode

ids = st.lists(st.integers(min_value=0, max_value=200_000), max_size=12)


@st.composite
def conversations(draw: st.DrawFn) -> list[tuple[list[int], list[int]]]:
    """(prompt, completion) per turn; each prompt extends the last prompt + completion or not."""
    turns: list[tuple[list[int], list[int]]] = []
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        completion = draw(ids.filter(bool))
        extend: bool = draw(st.booleans())
        if turns and extend:
            previous, sampled = turns[-1]
            prompt = previous + sampled + draw(ids)
        else:
            prompt = draw(ids.filter(bool))
        turns.append((prompt, completion))
    return turns


def generation(prompt: list[int], completion: list[int], logprob: float) -> Generation:
    return Generation(
        model="hosted_vllm/agent",
        transport="completions",
        raw_completion="x",
        usage=TokenUsage(prompt_tokens=len(prompt), completion_tokens=len(completion)),
        tokens=TokenTrace(
            prompt_token_ids=prompt,
            completion_token_ids=completion,
            completion_logprobs=[logprob] * len(completion),
        ),
    )


def played(turns: list[tuple[list[int], list[int]]]) -> Episode:
    messages: list[UserMessage | AgentMessage] = []
    for number, (prompt, completion) in enumerate(turns):
        messages.append(UserMessage(content=f"line {number}"))
        gen = generation(prompt, completion, -1.0 / (number + 2))
        messages.append(AgentMessage(content=f"answer {number}", generation=gen))
    return episode("task", 0, 1.0, messages=messages)


@settings(max_examples=200, deadline=None)
@given(conversations())
def test_every_sampled_token_is_in_one_segment_with_its_logprob(
    turns: list[tuple[list[int], list[int]]],
) -> None:
    recorded = played(turns)
    lines, line = rl_records(recorded, "run")
    assert rl_checks(lines, line) == [] and usage_checks(recorded) == []
    assert [segment.turns for segment in line.segments] == _expected_segments(turns)
    for segment in line.segments:
        sampled = [t for t, m in zip(segment.token_ids, segment.loss_mask, strict=True) if m]
        assert sampled == [t for n in segment.turns for t in lines[n].completion_token_ids]
        scored = [lp for lp, m in zip(segment.logprobs, segment.loss_mask, strict=True) if m]
        assert scored == [lp for n in segment.turns for lp in lines[n].completion_logprobs]


@settings(max_examples=100, deadline=None)
@given(conversations())
def test_a_missing_logprob_or_a_wrong_usage_is_caught(
    turns: list[tuple[list[int], list[int]]],
) -> None:
    recorded = played(turns)
    lines, line = rl_records(recorded, "run")
    short = lines[0].model_copy(update={"completion_logprobs": lines[0].completion_logprobs[1:]})
    assert rl_checks([short, *lines[1:]], line)[0].endswith(
        f"{len(short.completion_logprobs)} logprobs for "
        f"{len(short.completion_token_ids)} sampled tokens"
    )
    first = recorded.messages[1]
    assert isinstance(first, AgentMessage) and first.generation is not None
    wrong = first.generation.usage.model_copy(update={"completion_tokens": 10_000})
    lying = first.model_copy(
        update={"generation": first.generation.model_copy(update={"usage": wrong})}
    )
    changed = recorded.model_copy(
        update={"messages": [recorded.messages[0], lying, *recorded.messages[2:]]}
    )
    assert usage_checks(changed)[0].startswith("task#0 turn 0: usage says")


def _expected_segments(turns: list[tuple[list[int], list[int]]]) -> list[list[int]]:
    segments: list[list[int]] = []
    for number, (prompt, _) in enumerate(turns):
        if number:
            previous, sampled = turns[number - 1]
            if prompt[: len(previous) + len(sampled)] == previous + sampled:
                segments[-1].append(number)
                continue
        segments.append([number])
    return segments


def test_a_generation_whose_server_sent_no_tokens_is_named() -> None:
    empty = Generation(
        model="hosted_vllm/agent",
        transport="chat",
        raw_completion="x",
        tokens=TokenTrace(),  # record_tokens was on; the server sent none of the three
    )
    recorded = episode(
        "task",
        3,
        1.0,
        messages=[UserMessage(content="Hi."), AgentMessage(content="Hello.", generation=empty)],
    )
    with pytest.raises(
        NoTokens, match=r"task 'task' trial 3, agent generation 0: the server did not"
    ):
        rl_records(recorded, "run")
