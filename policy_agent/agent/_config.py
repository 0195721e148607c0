"""How the agent talks to its model and what it does when a turn is not one action."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
)

from policy_agent.format import (
    CARD_MINIMUM,
    PROFILE_NAMES,
    GrammarSyntax,
    PromptStyle,
    ServerProfile,
    profile_named,
)
from policy_agent.llm import ModelConfig

DEFAULT_FEEDBACK = (
    "(Automatic format check, not from the customer.) Your last turn was not a single action: "
    "{detail}. Reply again with exactly one message to the user or exactly one tool call."
)

ViolationStrategy = Literal["resample", "feedback", "keep_first", "terminate"]
Constraint = Literal["none", "grammar"]
"""How the agent's decoding is constrained: not at all, or by the one-answer grammar."""
"""What to do about a turn that is not exactly one message or one tool call."""


class ViolationPolicy(BaseModel):
    """The one-action-per-turn rule's enforcement.

    - `resample`: ask again with the same prompt (the conversation stays clean).
    - `feedback`: show the model its answer and a correction (`feedback`), then ask again; the
      exchange is part of that turn's prompt only, never of the conversation.
    - `keep_first`: run the first well-formed call and drop the rest (extra calls, text); with
      no well-formed call to keep (empty answer, broken markup, unfinished reasoning) it
      resamples instead.
    - `terminate`: end the episode (`agent_error`) at the first violation.

    Asking again stops after `max_attempts` model calls for the turn; the episode then ends as
    `agent_error`. Attempt n sends seed + n - 1, so a deterministic server can answer differently.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: ViolationStrategy = "resample"
    max_attempts: int = Field(
        default=3, ge=1, description="Model calls per turn, the first included."
    )
    feedback: str = Field(
        default=DEFAULT_FEEDBACK,
        min_length=1,
        description="The correction for `feedback`; `{detail}` is replaced by what was wrong.",
    )

    @field_validator("feedback")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        try:
            value.format(detail="")
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"the feedback text may use only the placeholder {{detail}} "
                f"(write {{{{ and }}}} for literal braces): {error!r}"
            ) from None
        return value

    def correction(self, detail: str) -> str:
        """The feedback text for one violation."""
        return self.feedback.format(detail=detail)


class AgentConfig(BaseModel):
    """The agent's part of a run configuration (hashed for resume)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: ModelConfig
    transport: Literal["chat", "completions"] = Field(
        default="chat",
        description="`chat`: /v1/chat/completions, the server renders the prompt. "
        "`completions`: /v1/completions with the prompt rendered here (exact format, for "
        "training logs).",
    )
    style: PromptStyle = Field(
        default=PromptStyle.CARD,
        description="`card`: the functions are in the system prompt (the model card's layout). "
        "`template`: the chat template renders them from `tools=` (chat: the server parses the "
        "calls).",
    )
    violations: ViolationPolicy = Field(default_factory=ViolationPolicy)
    constrain: Constraint = Field(
        default="none",
        description="`grammar`: every agent call carries the pack's one-answer grammar "
        "(`format.answer_grammar` for this style and thinking mode) as vLLM structured "
        "outputs, so the server decodes only one message or one tool call; the thinking stays "
        "free (docs/grammar.md). `none`: no constraint. The violation strategy stays the "
        "backstop either way.",
    )
    grammar_syntax: GrammarSyntax = Field(
        default=GrammarSyntax.EBNF,
        description="The grammar's dialect with `constrain: grammar`: `ebnf` (vLLM's default "
        "`xgrammar` backend, and `guidance` too) or `lark` (needs `vllm serve "
        "--structured-outputs-config.backend guidance`; exact JSON Schema for object and array "
        "parameters).",
    )
    server_profile: str = Field(
        default="auto",
        description="Which vLLM release line serves the agent (docs/servers.md): `auto` asks "
        "the server (GET /version) when the run starts, falling back to the card minimum "
        f"`{CARD_MINIMUM.name}`; or one of {', '.join(PROFILE_NAMES)}.",
    )

    @field_validator("server_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        if value != "auto" and value not in PROFILE_NAMES:
            raise ValueError(f"give auto or one of {', '.join(PROFILE_NAMES)}, not {value!r}")
        return value

    @model_serializer(mode="wrap")
    def _without_auto(
        self, handler: SerializerFunctionWrapHandler, info: SerializationInfo
    ) -> dict[str, object]:
        # `auto` is left out, so runs made before the field existed keep their resume hash;
        # the profile a run used is in run.json's `agent_server`.
        data: dict[str, object] = handler(self)
        if data.get("server_profile") == "auto":
            del data["server_profile"]
        return data

    def named_profile(self) -> ServerProfile | None:
        """The profile the config names, or None for `auto` (detected when a run starts)."""
        return None if self.server_profile == "auto" else profile_named(self.server_profile)
