"""Where the reasoning ends, by what the prompt did with `<think>` (vLLM's `nemotron_v3`)."""

from __future__ import annotations

import pytest

from policy_agent.format import SplitReasoning, split_reasoning

CASES = [
    # (text, opened, reasoning, answer, finished)
    ("plan</think>\nHi", True, "plan", "\nHi", True),
    ("plan</think>Hi </think> there", True, "plan", "Hi </think> there", True),
    ("<think>plan</think>Hi", True, "plan", "Hi", True),
    ("still thinking", True, "still thinking", "", False),
    ("Hi </think> there", False, None, "Hi </think> there", True),
    ("\n<think>plan</think>Hi", False, "plan", "Hi", True),
    ("<think>plan", False, "plan", "", False),
    ("Hi", False, None, "Hi", True),
    ("plan</think>Hi", None, "plan", "Hi", True),
    ("<think>plan</think>Hi", None, "plan", "Hi", True),
    ("<think>plan", None, "plan", "", False),
    ("Hi", None, None, "Hi", True),
]


@pytest.mark.parametrize(("text", "opened", "reasoning", "answer", "finished"), CASES)
def test_the_reasoning_ends_where_the_prompt_says(
    text: str, opened: bool | None, reasoning: str | None, answer: str, finished: bool
) -> None:
    assert split_reasoning(text, opened=opened) == SplitReasoning(
        reasoning=reasoning, answer=answer, finished=finished
    )
