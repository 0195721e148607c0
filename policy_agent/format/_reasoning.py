"""Where a model's reasoning ends: the one rule every reader of a completion uses.

The rule follows vLLM's `nemotron_v3` reasoning parser and depends on what the reader knows
of the prompt (`opened`):

- `True`, the prompt opened `<think>` (thinking mode: the generation prompt ends with
  `<think>\\n`): the reasoning is the text before the FIRST `</think>` (a `<think>` that opens
  the text is dropped); the answer is everything after it, and a later `</think>` is answer
  text. Without `</think>` the reasoning is unfinished. Every release agrees: 0.17.1–0.22.1
  (`DeepSeekR1ReasoningParser.extract_reasoning`, vllm/reasoning/basic_parsers.py) partition at
  the first `</think>`; 0.33.0 and 0.34.0 (`nemotron_v3_config`, vllm/parser/qwen3.py and
  nemotron_v3.py) leave the REASONING state at the first `</think>` and read a later one as
  text inside a tool call.
- `False`, the prompt closed it (instruct mode: the prompt ends with `<think></think>`): only a
  block the text opens itself, `<think>...</think>` after leading whitespace, is reasoning; a
  bare `</think>` later is text. This is the raw completions transport, where no server parser
  runs and the grammar (`answer_grammar`, instruct mode) covers the whole completion, so its
  text is read exactly as the grammar wrote it. (vLLM's chat readings differ per release here:
  0.17.1 still cuts at a bare `</think>`, 0.33.0 drops it from the content.)
- `None`, unknown (chat content from a server that may or may not run a reasoning parser, the
  user simulator, the judge): a leading `<think>` opens the block, and a bare `</think>` ends
  it, as `DeepSeekR1ReasoningParser` reads any output; without either, it is all answer.
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


def split_reasoning(text: str, *, opened: bool | None) -> SplitReasoning:
    """Cut `text` where its reasoning ends, by what the prompt did with `<think>` (`opened`:
    True it opened the block, False it closed it, None unknown; the module docstring has the
    rule). A text that itself starts with `<think>` (after whitespace) opens a block in all
    three cases."""
    stripped = text.lstrip()
    if stripped.startswith(_OPEN):
        text, opened = stripped[len(_OPEN) :], True
    elif opened is False:
        return SplitReasoning(reasoning=None, answer=text, finished=True)
    end = text.find(_CLOSE)
    if end < 0:
        if opened:
            return SplitReasoning(reasoning=text.strip() or None, answer="", finished=False)
        return SplitReasoning(reasoning=None, answer=text, finished=True)
    return SplitReasoning(
        reasoning=text[:end].strip() or None, answer=text[end + len(_CLOSE) :], finished=True
    )
