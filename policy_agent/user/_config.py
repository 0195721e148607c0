"""The user simulator's part of a run configuration (hashed for resume)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from policy_agent.llm import ModelConfig


class UserConfig(BaseModel):
    """Who plays the customer: an LLM (`llm`) or the task's script (`scripted`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["llm", "scripted"] = Field(
        default="llm",
        description="`llm`: a model plays the scenario. `scripted`: the task's "
        "`user_scenario.script` lines are said in order (deterministic, no model).",
    )
    model: ModelConfig | None = Field(
        default=None,
        description="The user model (required for `llm`), sampled as configured: tau2-bench "
        "uses gpt-4.1 at temperature 0.",
    )
    guidelines: str | None = Field(
        default=None,
        min_length=1,
        description="Text replacing the built-in simulation guidelines as a whole (the part on "
        "user tools included); the scenario is still appended.",
    )
    max_retries: int = Field(
        default=3,
        ge=0,
        description="Unusable user turns (empty, malformed, several actions) asked again before "
        "the episode ends as user_error.",
    )

    @model_validator(mode="after")
    def _model_matches_kind(self) -> UserConfig:
        if self.kind == "llm" and self.model is None:
            raise ValueError("an `llm` user needs `model` (e.g. model: openai/gpt-4.1)")
        if self.kind == "scripted" and self.model is not None:
            # A model that is never called would still change the run's config hash.
            raise ValueError("a `scripted` user calls no model; remove `model`")
        if self.kind == "scripted" and self.guidelines is not None:
            raise ValueError("a `scripted` user reads no guidelines; remove `guidelines`")
        return self
