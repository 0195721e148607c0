"""The JSON bodies of `serve-env`: what a trainer sends and gets back (docs/rl.md lists them).

```
GET  /v1/tasks            -> TasksResponse
GET  /v1/schemas          -> the JSON Schema of each body below, by name
POST /v1/reset  ResetRequest -> ResetResponse   (a new episode and its first prompt)
POST /v1/step   StepRequest  -> StepResponse    (the agent's completion; the next prompt)
POST /v1/close  CloseRequest -> {"closed": true} (stop an episode before its end)
```
Every error is an `ErrorResponse` with a 4xx status: 400 a body that is not one of these, 404
an unknown task or episode (an ended or abandoned episode is unknown), 409 a step of an episode
that is still answering the previous one, 503 when the server holds its maximum of episodes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ResetRequest(_Body):
    """Start an episode of `task` (trial `trial`: the same seeds as `policy-agent run`)."""

    task: str | None = Field(
        default=None, description="A task id (GET /v1/tasks); none: one chosen by `seed`."
    )
    trial: int = Field(default=0, ge=0, description="Which trial of the task, from 0.")
    seed: int | None = Field(
        default=None, description="Seeds the choice of task when none is named."
    )


class CompletionBody(_Body):
    """The agent's completion, with the trainer's own tokens if it wants them kept."""

    text: str = Field(description="What the policy wrote after the prompt.")
    finish_reason: Literal["stop", "length"] = "stop"
    prompt_token_ids: list[int] | None = None
    completion_token_ids: list[int] | None = None
    completion_logprobs: list[float | None] | None = None


class StepRequest(_Body):
    """Answer the episode's waiting prompt."""

    episode_id: str
    completion: str | CompletionBody = Field(description="The text, or a CompletionBody.")


class CloseRequest(_Body):
    """Stop an episode and free it."""

    episode_id: str


class ObservationBody(_Body):
    """The agent's next prompt."""

    prompt: str = Field(description="The ChatML prompt, generation opening included.")
    messages: list[dict[str, Any]] = Field(description="The same prompt as OpenAI messages.")
    turn: int = Field(description="This generation's index in the episode, from 0.")
    attempt: int = Field(description="1 unless the completions before it were rejected.")


class StepResponse(_Body):
    """What a step led to: the next prompt (null at the end), the reward, the ends, info."""

    observation: ObservationBody | None
    reward: float = Field(description="0 until the end, then the episode's reward.")
    terminated: bool
    truncated: bool = Field(description="The episode was cut short (max_steps).")
    info: dict[str, Any] = Field(
        description="turn, records, tool_results, violation; at the end termination_reason, "
        "reward_breakdown and reward_info."
    )


class ResetResponse(StepResponse):
    """A new episode: its id, then its first step's fields."""

    episode_id: str


class TasksResponse(_Body):
    """The tasks an episode may play."""

    tasks: list[str]


class ErrorResponse(_Body):
    """What was wrong with a request."""

    error: str
