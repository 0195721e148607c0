"""`--format chatml`: the rendered prompt and the completion of every agent turn, with the
episode's reward: what an RL or on-policy-distillation pipeline (Cascade RL, for one) consumes.

`prompt + completion` is the text of the turn as the model's context held it (and, in a run
made with `record_tokens`, `prompt_token_ids` / `completion_token_ids` / `completion_logprobs`
are its tokens as the server saw and sampled them; `--format rl` lays them out for training):
- completions transport (`exact: true`): `prompt` is rebuilt with `Agent.prompt` and must hash
  to the turn's recorded `prompt_sha256`, so it is byte for byte what the server was sent;
  `completion` is the raw text the model wrote, plus `<|im_end|>` when it stopped on that token
  (vLLM leaves the stop token out of the text; a turn cut at max_tokens has none). A prompt that
  no longer matches its hash (the pack's policy or tools, or the agent's format, changed since
  the run) is refused, or exported with `exact: false` when the caller allows it.
- chat transport (`exact: false`): the server rendered the prompt, and its reasoning parser split
  the model's text. `prompt` is rendered here from the same messages with the template's rules
  and the run's server profile (FORMAT.md, docs/servers.md). It is the prompt vLLM built only
  when the server ran the card's chat template (the Nemotron-3 template policy-agent follows,
  not a `--chat-template` of its own) and read every field the request sent: past reasoning
  is sent as `reasoning`, which every supported release reads, so runs made since then match;
  earlier chat runs on vLLM 0.17-0.21 sent `reasoning_content`, which those releases ignored.
  Nothing in the run proves the server's template, so the line says `exact: false`.
  `completion` is the turn as the chat template renders it
  (`{reasoning}\\n</think>\\n{answer}<|im_end|>`): the model's
  words, but its exact whitespace around `</think>` and its tool-call markup (template style)
  are not recorded, so they are the template's.
Rejected attempts (violation events) are not exported: only the turns the conversation kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from policy_agent.agent import Agent, to_chat_messages
from policy_agent.errors import PolicyAgentError
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    Episode,
    Generation,
)

END_OF_TURN = "<|im_end|>"


class PromptMismatch(PolicyAgentError):
    """A completions-transport prompt rebuilt from the run does not hash to the recorded one."""


class ChatMLTurn(BaseModel):
    """One line of the chatml export: one agent turn."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task_id: str
    trial: int
    turn: int = Field(description="The agent turn's index in the episode, from 0.")
    prompt: str = Field(description="The rendered ChatML prompt, generation prompt included.")
    completion: str = Field(description="What the model wrote; ends with <|im_end|> if it stopped.")
    reward: float | None = Field(description="The episode's reward; null when it has none.")
    exact: bool = Field(
        description="True: the prompt is the bytes sent (its sha256 checked) and the completion "
        "the raw text returned (completions transport)."
    )
    transport: Literal["chat", "completions"]
    finish_reason: str | None
    prompt_token_ids: list[int] | None = Field(
        default=None,
        description="The prompt's token ids as the server tokenized them (runs with "
        "record_tokens; absent otherwise).",
    )
    completion_token_ids: list[int] | None = Field(
        default=None, description="The sampled token ids (record_tokens)."
    )
    completion_logprobs: list[float | None] | None = Field(
        default=None, description="Each sampled token's logprob (record_tokens)."
    )


def chatml_turns(
    episode: Episode, agent: Agent, *, allow_inexact: bool = False
) -> list[ChatMLTurn]:
    """Every agent turn of `episode` that a model wrote, in order.

    Raises `PromptMismatch` for a completions-transport turn whose rebuilt prompt does not match
    its recorded hash, unless `allow_inexact` (it is then exported with `exact: false`).
    """
    turns: list[ChatMLTurn] = []
    reward = None if episode.reward is None else episode.reward.reward
    for index, record in enumerate(episode.messages):
        if not isinstance(record, AgentMessage | AgentToolCall) or record.generation is None:
            continue
        generation = record.generation
        trace = generation.tokens
        history = episode.messages[:index]
        prompt = agent.prompt(history, corrections=generation.correction_messages)
        if generation.transport == "completions":
            exact = hashlib.sha256(prompt.encode()).hexdigest() == generation.prompt_sha256
            if not exact and not allow_inexact:
                raise PromptMismatch(
                    f"task {episode.task_id!r} trial {episode.trial}, agent turn {len(turns)}: "
                    "the prompt rebuilt from the run does not match the sha256 recorded when it "
                    "was sent, so the pack's policy or tools (or the agent's format) changed "
                    "since the run. Export with the pack the run was made on (--pack), or allow "
                    "inexact prompts (they are then marked exact: false)."
                )
            completion = generation.raw_completion + _stop(generation)
        else:
            exact = False
            completion = _rendered_turn(agent, prompt, history, generation, record)
        turns.append(
            ChatMLTurn(
                task_id=episode.task_id,
                trial=episode.trial,
                turn=len(turns),
                prompt=prompt,
                completion=completion,
                reward=reward,
                exact=exact,
                transport=generation.transport,
                finish_reason=generation.finish_reason,
                prompt_token_ids=None if trace is None else trace.prompt_token_ids,
                completion_token_ids=None if trace is None else trace.completion_token_ids,
                completion_logprobs=None if trace is None else trace.completion_logprobs,
            )
        )
    return turns


def _stop(generation: Generation) -> str:
    """The stop token the server left out of the text, when the model stopped on it."""
    return END_OF_TURN if generation.finish_reason == "stop" else ""


def _rendered_turn(
    agent: Agent,
    prompt: str,
    history: Sequence[ConversationRecord],
    generation: Generation,
    record: AgentMessage | AgentToolCall,
) -> str:
    """The turn as the chat template renders it right after `prompt`, through `<|im_end|>`."""
    [answer] = to_chat_messages([record])
    after = agent.prompt(history, corrections=[*generation.correction_messages, answer])
    # The prompt ends with the generation prompt; so does `after`, one turn later.
    opening = prompt[prompt.rindex(END_OF_TURN + "\n") + len(END_OF_TURN) + 1 :]
    tail = after[len(prompt) :]
    if after.startswith(prompt) and tail.endswith(END_OF_TURN + "\n" + opening):
        return tail[: len(tail) - len(opening) - 1]
    # Thinking was on but the server returned no reasoning: the template then renders the turn
    # as `<think></think>...`, which does not continue the prompt; keep the text as returned.
    return generation.raw_completion + _stop(generation)
