"""`--format rl`: the tokens an RL or distillation step trains on, per agent turn and per episode.

A run made with `record_tokens: true` keeps, with every agent generation (rejected attempts
too), the prompt's token ids as the server tokenized them, the sampled token ids and their
logprobs under the sampling policy. This export lays them out for a trainer:

- one `RLTurn` per agent generation, in the order they were asked: `prompt_token_ids` (mask 0),
  `completion_token_ids` (mask 1) and `completion_logprobs`, with `loss_mask` over
  prompt + completion; `kept: false` marks an attempt the violation strategy rejected (its
  answer was not one action), which the conversation never shows again;
- one `RLEpisode` per episode: the kept turns joined into token `segments`. Turn n+1's prompt
  starts, as a rule, with turn n's prompt and completion (the server renders the same
  conversation one turn longer), and then the two share a segment: the new prompt tokens after
  it (tool results, user messages, template tokens) get mask 0, the new completion mask 1. The
  rule breaks where the chat template re-renders history: the Nemotron template drops the
  reasoning of assistant turns before the last user message (`truncate_history_thinking`, on by
  default), so after each user message the prompt no longer contains the earlier completions as
  sampled. A new segment starts there (`RLTurn.extends_previous: false`): each segment is one
  sequence a trainer can score in one forward pass, with every completion token in exactly one
  segment.

Both carry the episode's reward and its components and join back to `episodes.jsonl` by
(`task_id`, `trial`): `message_index` is the number of conversation records before the turn,
so `episode.messages[message_index]` is the kept turn's record.

`rl_checks` are the consistency checks a record must pass (and the export applies): as many
logprobs as sampled tokens, the server's usage equal to the token counts, the mask as long as
the tokens, and each segment's tokens the turns' tokens.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.errors import PolicyAgentError
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    Episode,
    Generation,
    ViolationEvent,
)


class NoTokens(PolicyAgentError):
    """The run kept no token ids: it was not made with `record_tokens: true`."""


class RLTurn(BaseModel):
    """One agent generation: what the model was given and what it sampled."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["turn"] = "turn"
    run_id: str
    task_id: str
    trial: int
    seed: int
    turn: int = Field(description="The generation's index in the episode (rejected ones too).")
    message_index: int = Field(
        description="Conversation records before this generation: the kept turn is "
        "episode.messages[message_index]."
    )
    attempt: int = Field(description="Which attempt of its turn (1 unless earlier were rejected).")
    kept: bool = Field(description="False: an attempt the violation strategy rejected.")
    transport: Literal["chat", "completions"]
    finish_reason: str | None
    prompt_token_ids: list[int]
    completion_token_ids: list[int]
    completion_logprobs: list[float | None]
    loss_mask: list[int] = Field(
        description="One per prompt + completion token: 0 on the prompt, 1 on the completion."
    )
    extends_previous: bool | None = Field(
        description="Whether the prompt starts with the previous kept turn's prompt and "
        "completion (null: the first kept turn, or a rejected attempt)."
    )
    reward: float | None
    reward_components: dict[str, float]


class RLSegment(BaseModel):
    """Kept turns whose prompts extend each other: one token sequence."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turns: list[int] = Field(description="The `RLTurn.turn`s it holds, in order.")
    token_ids: list[int]
    loss_mask: list[int] = Field(description="1 on the tokens the agent's model sampled.")
    logprobs: list[float | None] = Field(
        description="The sampling policy's logprob on mask-1 tokens, null elsewhere."
    )


class RLEpisode(BaseModel):
    """One episode: its kept turns as segments, its reward and how it ended."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["episode"] = "episode"
    run_id: str
    task_id: str
    trial: int
    seed: int
    termination_reason: str
    reward: float | None
    reward_components: dict[str, float]
    turns: int = Field(description="How many RLTurn lines the episode has (rejected ones too).")
    segments: list[RLSegment]


@dataclass(frozen=True, kw_only=True)
class _Asked:
    generation: Generation
    message_index: int
    kept: bool


def rl_records(episode: Episode, run_id: str) -> tuple[list[RLTurn], RLEpisode]:
    """The turn lines and the episode line of `episode`.

    Raises `NoTokens` when a generation of it has no complete token trace (the run was made
    without `record_tokens`, or its server did not return them).
    """
    reward = None if episode.reward is None else episode.reward.reward
    components = (
        {}
        if episode.reward is None
        else {str(k): v for k, v in episode.reward.reward_breakdown.items()}
    )
    turns: list[RLTurn] = []
    previous: list[int] | None = None
    for number, asked in enumerate(_generations(episode)):
        trace = asked.generation.tokens
        if trace is None or not trace.complete:
            raise NoTokens(
                f"task {episode.task_id!r} trial {episode.trial}, agent generation {number}: "
                + (
                    "no token ids were recorded; run with `record_tokens: true` on the agent's "
                    "model (docs/rl.md)"
                    if trace is None
                    else "the server did not return its token ids and logprobs"
                )
            )
        prompt = trace.prompt_token_ids or []
        completion = trace.completion_token_ids or []
        extends = None
        if asked.kept:
            extends = None if previous is None else prompt[: len(previous)] == previous
            previous = prompt + completion
        turns.append(
            RLTurn(
                run_id=run_id,
                task_id=episode.task_id,
                trial=episode.trial,
                seed=episode.seed,
                turn=number,
                message_index=asked.message_index,
                attempt=asked.generation.attempt,
                kept=asked.kept,
                transport=asked.generation.transport,
                finish_reason=asked.generation.finish_reason,
                prompt_token_ids=prompt,
                completion_token_ids=completion,
                completion_logprobs=list(trace.completion_logprobs or []),
                loss_mask=[0] * len(prompt) + [1] * len(completion),
                extends_previous=extends,
                reward=reward,
                reward_components=components,
            )
        )
    line = RLEpisode(
        run_id=run_id,
        task_id=episode.task_id,
        trial=episode.trial,
        seed=episode.seed,
        termination_reason=episode.termination_reason.value,
        reward=reward,
        reward_components=components,
        turns=len(turns),
        segments=list(_segments(turns)),
    )
    return turns, line


def rl_checks(turns: Sequence[RLTurn], episode: RLEpisode) -> list[str]:
    """What is inconsistent in one episode's records (empty: they pass)."""
    problems: list[str] = []
    for turn in turns:
        where = f"{turn.task_id}#{turn.trial} turn {turn.turn}"
        sampled = len(turn.completion_token_ids)
        if len(turn.completion_logprobs) != sampled:
            problems.append(
                f"{where}: {len(turn.completion_logprobs)} logprobs for {sampled} sampled tokens"
            )
        if len(turn.loss_mask) != len(turn.prompt_token_ids) + sampled:
            problems.append(f"{where}: the loss mask is not as long as prompt + completion")
    kept = {turn.turn: turn for turn in turns if turn.kept}
    covered: list[int] = []
    for segment in episode.segments:
        covered += segment.turns
        rebuilt: list[int] = []
        for number in segment.turns:
            turn = kept[number]
            rebuilt += turn.prompt_token_ids[len(rebuilt) :] + turn.completion_token_ids
        if rebuilt != segment.token_ids:
            problems.append(f"segment of turns {segment.turns}: its tokens are not its turns'")
        if not len(segment.token_ids) == len(segment.loss_mask) == len(segment.logprobs):
            problems.append(f"segment of turns {segment.turns}: mask or logprobs misaligned")
        generated = sum(len(kept[n].completion_token_ids) for n in segment.turns)
        if sum(segment.loss_mask) != generated:
            problems.append(f"segment of turns {segment.turns}: mask 1 on other than completions")
    if covered != sorted(kept):
        problems.append(f"{episode.task_id}#{episode.trial}: segments hold turns {covered}")
    return problems


def usage_checks(episode: Episode) -> list[str]:
    """Generations whose server-reported usage differs from their token counts."""
    problems = []
    for number, asked in enumerate(_generations(episode)):
        generation = asked.generation
        trace = generation.tokens
        if trace is None or not trace.complete:
            continue
        counted = (len(trace.prompt_token_ids or []), len(trace.completion_token_ids or []))
        reported = (generation.usage.prompt_tokens, generation.usage.completion_tokens)
        if counted != reported:
            problems.append(
                f"{episode.task_id}#{episode.trial} turn {number}: usage says {reported} "
                f"(prompt, completion) tokens, the ids count {counted}"
            )
    return problems


def _generations(episode: Episode) -> Iterator[_Asked]:
    """Every agent generation in the order asked: a turn's rejected attempts, then its record.

    A turn kept at attempt n was preceded by exactly n - 1 rejected attempts, each recorded by a
    violation event (in `events`, in the order they happened); a `keep_first` violation's
    generation is the kept one itself. A turn that gave up has rejected attempts and no record.
    """
    rejected = iter(
        event.generation
        for event in episode.events
        if isinstance(event, ViolationEvent) and event.action_taken != "keep_first"
    )
    for index, record in enumerate(episode.messages):
        if not isinstance(record, AgentMessage | AgentToolCall) or record.generation is None:
            continue
        kept = record.generation
        for _ in range(kept.attempt - 1):
            earlier = next(rejected, None)
            if earlier is not None:
                yield _Asked(generation=earlier, message_index=index, kept=False)
        yield _Asked(generation=kept, message_index=index, kept=True)
    for earlier in rejected:
        yield _Asked(generation=earlier, message_index=len(episode.messages), kept=False)


def _segments(turns: Sequence[RLTurn]) -> Iterator[RLSegment]:
    members: list[int] = []
    tokens: list[int] = []
    mask: list[int] = []
    logprobs: list[float | None] = []
    for turn in turns:
        if not turn.kept:
            continue
        if turn.extends_previous is False and members:
            yield RLSegment(turns=members, token_ids=tokens, loss_mask=mask, logprobs=logprobs)
            members, tokens, mask, logprobs = [], [], [], []
        added = turn.prompt_token_ids[len(tokens) :]
        members.append(turn.turn)
        tokens = tokens + added + turn.completion_token_ids
        mask = mask + [0] * len(added) + [1] * len(turn.completion_token_ids)
        logprobs = logprobs + [None] * len(added) + list(turn.completion_logprobs)
    if members:
        yield RLSegment(turns=members, token_ids=tokens, loss_mask=mask, logprobs=logprobs)
