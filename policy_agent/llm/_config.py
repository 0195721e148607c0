"""How one role (agent, user simulator, judge) reaches its model: server, sampling, retries.

A `ModelConfig` lives in run-config YAML and is hashed for resume, so it holds only data: the
API key itself is never stored, only the name of the environment variable that holds it.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

_DEDICATED_FIELDS = ("top_k", "min_p", "repetition_penalty", "skip_special_tokens")
"""vLLM request fields that have their own ModelConfig field, so `extra_body` may not set them."""

_TOKEN_FIELDS = ("return_token_ids", "logprobs", "top_logprobs")
"""What `record_tokens` sends, so `extra_body` may not set them too."""


class ModelConfig(BaseModel):
    """One role's model: where it is served, how to sample, how long to wait, how often to retry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(
        min_length=1,
        description="litellm model string, e.g. `hosted_vllm/nvidia/Nemotron-Cascade-2-30B-A3B`.",
    )
    api_base: str | None = Field(
        default=None,
        description="The server's OpenAI base URL, e.g. `http://127.0.0.1:8000/v1`.",
    )
    api_bases: tuple[str, ...] = Field(
        default=(),
        description=(
            "Several replicas of the same model: every call of an episode goes to one of them, "
            "chosen by a stable hash of the episode and moved to the next only when it fails "
            "(docs/runs.md; give this or `api_base`, not both)."
        ),
    )
    api_key_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="Name of the environment variable holding the API key (vLLM --api-key).",
    )
    temperature: float = Field(default=1.0, ge=0, description="The model card recommends 1.0.")
    top_p: float = Field(default=0.95, gt=0, le=1, description="The model card recommends 0.95.")
    max_tokens: int | None = Field(default=None, gt=0, description="None: the server's limit.")
    top_k: int | None = None
    min_p: float | None = Field(default=None, ge=0, le=1)
    repetition_penalty: float | None = Field(default=None, gt=0)
    skip_special_tokens: bool | None = Field(
        default=None,
        description="vLLM's default is true; the completions transport may need false to keep "
        "`</think>` in the raw text.",
    )
    thinking: bool = Field(
        default=True,
        description="Thinking mode (sent as chat_template_kwargs.enable_thinking on chat calls).",
    )
    chat_template_kwargs: dict[str, JsonValue] = Field(
        default_factory=dict,
        description="More chat-template arguments, e.g. truncate_history_thinking.",
    )
    send_chat_template_kwargs: bool | None = Field(
        default=None,
        description=(
            "Whether chat calls carry chat_template_kwargs (with enable_thinking). Servers that "
            "apply a Hugging Face chat template (vLLM, SGLang) take them; hosted APIs such as "
            "OpenAI's may reject them. Default: yes for `hosted_vllm/` models and for any model "
            "given an api_base, no otherwise."
        ),
    )
    extra_body: dict[str, JsonValue] = Field(
        default_factory=dict, description="Any other request fields the server accepts."
    )
    record_tokens: bool = Field(
        default=False,
        description=(
            "Ask the server for the prompt's token ids, the sampled token ids and their "
            "logprobs (vLLM `return_token_ids` and `logprobs`) and keep them with every "
            "generation, for RL and distillation (docs/rl.md)."
        ),
    )
    timeout: float = Field(
        default=300,
        gt=0,
        description="Seconds per attempt, the whole answer included (the default, with two "
        "retries and their backoff, fits the default episode limit of 1800 s).",
    )
    retries: int = Field(
        default=2, ge=0, description="Further attempts after a failure that may pass."
    )
    retry_backoff: float = Field(
        default=1.0,
        ge=0,
        description="Seconds before the first retry; doubled for each further one (with jitter).",
    )
    price_per_input_token: float | None = Field(
        default=None, ge=0, description="USD; self-hosted models have no litellm price."
    )
    price_per_output_token: float | None = Field(default=None, ge=0, description="USD.")

    @field_validator("api_base")
    @classmethod
    def _is_url(cls, value: str | None) -> str | None:
        if value is not None:
            _check_url(value)
        return value

    @field_validator("api_bases")
    @classmethod
    def _are_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            _check_url(url)
        if len(set(value)) != len(value):
            raise ValueError("lists the same URL twice; give each replica once")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelConfig:
        if self.api_base is not None and self.api_bases:
            raise ValueError(
                "give `api_base` for one server or `api_bases` for several replicas, not both"
            )
        if "enable_thinking" in self.chat_template_kwargs:
            raise ValueError("set `thinking`, not chat_template_kwargs.enable_thinking")
        dedicated: tuple[str, ...] = (*_DEDICATED_FIELDS, "chat_template_kwargs", "seed")
        if self.record_tokens:
            dedicated += _TOKEN_FIELDS
        clashes = [key for key in dedicated if key in self.extra_body]
        if clashes:
            raise ValueError(
                f"extra_body sets {', '.join(clashes)}: use the field of the same name instead "
                "(record_tokens for return_token_ids and logprobs)"
            )
        return self

    @property
    def servers(self) -> tuple[str, ...]:
        """Every api_base this role uses (empty when litellm resolves it from the environment)."""
        return self.api_bases or ((self.api_base,) if self.api_base is not None else ())

    @property
    def sends_chat_template_kwargs(self) -> bool:
        """Whether chat calls carry chat_template_kwargs (see `send_chat_template_kwargs`)."""
        if self.send_chat_template_kwargs is not None:
            return self.send_chat_template_kwargs
        return self.model.startswith("hosted_vllm/") or bool(self.servers)

    def request_extras(self, *, chat: bool) -> dict[str, JsonValue]:
        """The vLLM-specific request fields, sent through litellm's `extra_body`."""
        extras: dict[str, JsonValue] = dict(self.extra_body)
        for name in _DEDICATED_FIELDS:
            value = getattr(self, name)
            if value is not None:
                extras[name] = value
        if self.record_tokens:
            # Every supported vLLM (0.17.1 to 0.33.0) takes `return_token_ids` on both
            # endpoints. `logprobs` is a flag on chat (top_logprobs left at 0) and a count of
            # alternatives on completions: 0 returns the sampled token's logprob alone.
            extras["return_token_ids"] = True
            extras["logprobs"] = True if chat else 0
        if chat and self.sends_chat_template_kwargs:
            # The completions transport renders its own generation prompt (thinking or not),
            # so only chat calls tell the server's chat template.
            extras["chat_template_kwargs"] = {
                **self.chat_template_kwargs,
                "enable_thinking": self.thinking,
            }
        return extras


def _check_url(value: str) -> None:
    if not value.startswith(("http://", "https://")):
        raise ValueError(f"{value!r} is not an http(s) URL, e.g. http://127.0.0.1:8000/v1")
