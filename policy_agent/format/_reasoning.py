"""Where a model's reasoning ends: the one rule every reader of a completion uses.

The rule is vLLM's reasoning parsers' (`nemotron_v3`, as DeepSeek-R1's): the reasoning is the
text before the FIRST `</think>`, with a `<think>` that opens the text dropped; the answer is
everything after it. A later `</think>` belongs to the answer (and a reader that must not show
markup to a person treats it as such). Whether a completion without `</think>` is unfinished
reasoning or an answer with no reasoning depends on the prompt: a thinking-mode prompt of the
Nemotron template ends inside `<think>`, a generic chat model's prompt does not.
"""

from __future__ import annotations

from dataclasses import dataclass

_OPEN, _CLOSE = "<think>", "</think>"


@dataclass(frozen=True, kw_only=True)
class SplitReasoning:
    """A completion cut at the end of its reasoning."""

    reasoning: str | None
    """The reasoning, trimmed; None when there is none (or it is blank)."""
    answer: str
    """Everything after the reasoning, untrimmed (the whole text when there was none)."""
    finished: bool
    """False when the reasoning was opened and never closed: then `answer` is empty."""


def split_reasoning(text: str, *, opened: bool) -> SplitReasoning:
    """Cut `text` at the first `</think>`.

    `opened`: the prompt already opened the reasoning block (a thinking-mode generation prompt
    ends with `<think>\\n`), so the text starts inside it. A text that itself starts with
    `<think>` (after whitespace) opens it too. Without `</think>`, an opened block is unfinished
    reasoning; otherwise the whole text is the answer.
    """
    stripped = text.lstrip()
    if stripped.startswith(_OPEN):
        text, opened = stripped[len(_OPEN) :], True
    end = text.find(_CLOSE)
    if end < 0:
        if opened:
            return SplitReasoning(reasoning=text.strip() or None, answer="", finished=False)
        return SplitReasoning(reasoning=None, answer=text, finished=True)
    return SplitReasoning(
        reasoning=text[:end].strip() or None, answer=text[end + len(_CLOSE) :], finished=True
    )
