"""The NL-assertion judge: one model call per episode, answering in tau2-bench's JSON shape.

The judge reads the conversation as `role: content` lines and the task's expected outcomes, and
answers `{"results": [{"expectedOutcome", "reasoning", "metExpectation"}]}`. An answer that
cannot be read is asked for once more; if the second is no better, or the model cannot be
reached, the verdict carries the error and the caller counts it against the judge, never the
agent.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from policy_agent.errors import PolicyAgentError
from policy_agent.format import split_reasoning
from policy_agent.llm import Completion, LLMError, ModelClient
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ChatAssistantMessage,
    ChatMessage,
    ChatUserMessage,
    ConversationRecord,
    Generation,
    JudgeUsage,
    NLAssertionCheck,
    ToolResult,
    UserMessage,
    UserToolCall,
)

RESULT_CHARACTERS = 1000
"""Tool results longer than this are cut in the judge's transcript: it judges what the agent
did and said, and a search result rarely needs more to show what the agent knew."""

SYSTEM_PROMPT = """\
You review a conversation between a customer-service agent and a customer, and decide whether \
the agent achieved each of a list of expected outcomes.

In the transcript, `user` lines are the customer and `assistant` lines are the agent. \
`assistant (tool call)` lines are actions the agent took in the company's systems, and `tool` \
lines are what those actions returned; the customer sees neither. `user (tool call)` lines are \
actions the customer took on their own device.

Decide each expected outcome on its own, from the transcript alone. An outcome the transcript \
does not show is not met.

Answer with a single JSON object and nothing else, in exactly this shape, with one result per \
expected outcome, in the order given:
{"results": [{"expectedOutcome": "<the expected outcome, copied>", \
"reasoning": "<one or two sentences of evidence>", "metExpectation": true}]}
where `metExpectation` is true when the outcome was achieved and false otherwise."""

RETRY_PROMPT = (
    "That answer could not be read: {problem}. Reply again with only the JSON object described "
    "above, with one result for each of the {count} expected outcomes."
)


class JudgeAnswerError(PolicyAgentError, ValueError):
    """The judge's answer is not the JSON asked for; the message says what is wrong with it."""


@dataclass(frozen=True, kw_only=True)
class JudgeVerdict:
    """What the judge decided for one episode, and what it cost."""

    checks: list[NLAssertionCheck] = field(default_factory=list)
    """One per assertion, in the task's order; empty when the judge failed."""
    usage: JudgeUsage
    """Tokens, latency and cost of every call made; `error` set when the judge failed."""

    @property
    def reward(self) -> float:
        """1 when every assertion was met; 0 when one was not, or the judge failed."""
        return 1.0 if self.usage.error is None and all(c.met for c in self.checks) else 0.0


class Judge:
    """Judges NL assertions with one client (role `judge`), shared by every episode of a run."""

    def __init__(self, client: ModelClient) -> None:
        self.client = client

    async def judge(
        self,
        records: Sequence[ConversationRecord],
        assertions: Sequence[str],
        *,
        seed: int | None = None,
        session: str | None = None,
    ) -> JudgeVerdict:
        """Ask the judge once (twice if the first answer is unreadable); never raises LLMError."""
        messages = judge_messages(records, assertions)
        completions: list[Completion] = []
        generations: list[Generation] = []
        corrections: list[ChatMessage] = []
        failed_ms = 0.0
        error: str | None = None
        checks: list[NLAssertionCheck] = []
        for attempt in (1, 2):
            try:
                completion = await self.client.chat(
                    [*messages, *(m.model_dump(exclude_none=True) for m in corrections)],
                    seed=seed,
                    session=session,
                )
            except LLMError as raised:
                failed_ms += sum(a.latency_ms for a in raised.attempts)
                error = f"{type(raised).__name__}: {str(raised).splitlines()[0]}"
                break
            completions.append(completion)
            generations.append(
                completion.generation(
                    transport="chat", seed=seed, attempt=attempt, corrections=corrections
                )
            )
            failed_ms += sum(a.latency_ms for a in completion.attempts)
            try:
                checks = parse_verdict(completion.text or "", assertions)
            except JudgeAnswerError as problem:
                error = f"malformed answer (attempt {attempt} of 2): {problem}"
                corrections = [
                    ChatAssistantMessage(content=completion.text or ""),
                    ChatUserMessage(
                        content=RETRY_PROMPT.format(problem=problem, count=len(assertions))
                    ),
                ]
                continue
            error = None
            break
        return JudgeVerdict(
            checks=[] if error is not None else checks,
            usage=_usage(self.client.config.model, completions, generations, failed_ms, error),
        )


def judge_messages(
    records: Sequence[ConversationRecord], assertions: Sequence[str]
) -> list[dict[str, Any]]:
    """The chat messages sent to the judge for one episode."""
    outcomes = "\n".join(f"{n}. {text}" for n, text in enumerate(assertions, 1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {
            "role": "user",
            "content": f"Transcript:\n{transcript(records)}\n\nExpected outcomes:\n{outcomes}",
        },
    ]


def transcript(records: Sequence[ConversationRecord]) -> str:
    """The conversation as `role: content` lines; tool calls and results shown in one line each."""
    lines = []
    for record in records:
        if isinstance(record, UserMessage | AgentMessage):
            lines.append(f"{record.role}: {record.content}")
        elif isinstance(record, AgentToolCall | UserToolCall):
            arguments = json.dumps(record.arguments, ensure_ascii=False)
            lines.append(f"{record.role} (tool call): {record.name}({arguments})")
        elif isinstance(record, ToolResult):
            content = record.content
            if len(content) > RESULT_CHARACTERS:
                cut = len(content) - RESULT_CHARACTERS
                content = f"{content[:RESULT_CHARACTERS]} [... {cut} more characters]"
            lines.append(f"tool ({record.name}): {content}")
    return "\n".join(lines)


class _Result(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    expected_outcome: str = Field(alias="expectedOutcome")
    reasoning: str = ""
    met_expectation: bool = Field(alias="metExpectation")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    results: list[_Result]


def parse_verdict(text: str, assertions: Sequence[str]) -> list[NLAssertionCheck]:
    """The judge's checks from its answer: the first JSON object with `results` in the text.

    Code fences, a `<think>` block and prose around the object are skipped. Results pair with
    the assertions by their `expectedOutcome` text when every assertion is found there, else in
    order. JudgeAnswerError when there is no such object or it has the wrong shape or count.
    """
    data = _find_object(split_reasoning(text, opened=None).answer)
    try:
        answer = _Answer.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise JudgeAnswerError(f"`{where}`: {first['msg']}") from None
    results = answer.results
    if len(results) != len(assertions):
        raise JudgeAnswerError(
            f"{len(results)} results for {len(assertions)} expected outcomes; give one for each"
        )
    by_text = {_normal(r.expected_outcome): r for r in results}
    if all(_normal(a) in by_text for a in assertions):
        results = [by_text[_normal(a)] for a in assertions]
    return [
        NLAssertionCheck(
            nl_assertion=assertion, met=result.met_expectation, justification=result.reasoning
        )
        for assertion, result in zip(assertions, results, strict=True)
    ]


def _find_object(text: str) -> object:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
        except json.JSONDecodeError:
            pass
        else:
            if isinstance(value, dict) and "results" in value:
                return value
        start = text.find("{", start + 1)
    shown = text.strip()[:200] or "(empty)"
    raise JudgeAnswerError(f"no JSON object with `results` in the answer: {shown!r}")


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def _usage(
    model: str,
    completions: Sequence[Completion],
    generations: list[Generation],
    failed_ms: float,
    error: str | None,
) -> JudgeUsage:
    costs = [c.cost_usd for c in completions]
    return JudgeUsage(
        model=model,
        prompt_tokens=sum(c.usage.prompt_tokens for c in completions),
        completion_tokens=sum(c.usage.completion_tokens for c in completions),
        latency_ms=sum(c.latency_ms for c in completions) + failed_ms,
        cost_usd=None if not costs or None in costs else sum(c for c in costs if c is not None),
        error=error,
        generations=generations,
    )
