"""Token ids, logprobs and usage details out of a vLLM response, for either transport.

Where vLLM puts them (the same in every supported release, 0.17.1 to 0.33.0; its
`entrypoints/openai/{chat_completion,completion}/protocol.py`), and what litellm 1.106.2 keeps:

- prompt token ids: chat, the response's `prompt_token_ids`; completions, the choice's.
- sampled token ids: the choice's `token_ids` (both).
- their logprobs: chat `choice.logprobs.content[i].logprob`; completions
  `choice.logprobs.token_logprobs[i]`.
- prefix-cache hits: `usage.prompt_tokens_details.cached_tokens` (both; vLLM fills it only when
  started with `--enable-prompt-tokens-details`).
- server timings: the response's `metrics` (vLLM 0.25.0+, with `--enable-per-request-metrics`).

litellm moves the chat choice's `token_ids` into `choice.provider_specific_fields` and keeps the
response's `prompt_token_ids` and `metrics` as extra attributes of its `ModelResponse`; the
completions choice it keeps whole (tests/llm/test_tokens.py checks each path over HTTP). These
functions read plain JSON values, so `LLMClient` and the in-process scripted client share them.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import JsonValue

from policy_agent.records import TokenTrace


class TokensNotReturned(UserWarning):
    """`record_tokens` is on, but the server sent no token ids or logprobs (once per role)."""


def token_trace(
    choice: Mapping[str, JsonValue], response_prompt_ids: JsonValue, *, chat: bool
) -> TokenTrace:
    """The trace of one choice; `response_prompt_ids` is the response's own `prompt_token_ids`
    (chat puts it there, completions in the choice)."""
    prompt_ids = response_prompt_ids if chat else choice.get("prompt_token_ids")
    sampled = choice.get("token_ids")
    if sampled is None:
        moved = choice.get("provider_specific_fields")
        if isinstance(moved, Mapping):
            sampled = moved.get("token_ids")
    return TokenTrace(
        prompt_token_ids=_ints(prompt_ids),
        completion_token_ids=_ints(sampled),
        completion_logprobs=_logprobs(choice.get("logprobs"), chat=chat),
    )


def cached_tokens(usage: Any) -> int | None:
    """`usage.prompt_tokens_details.cached_tokens` (an object or a dict), None when absent."""
    value = _field(_field(usage, "prompt_tokens_details"), "cached_tokens")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def server_timing(metrics: Any) -> dict[str, float] | None:
    """The numeric fields of vLLM's per-request `metrics`, None when the server sent none."""
    if metrics is None:
        return None
    if not isinstance(metrics, Mapping):
        dump = getattr(metrics, "model_dump", None)
        metrics = dump() if callable(dump) else getattr(metrics, "__dict__", {})
    timing = {
        str(key): float(value)
        for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }
    return timing or None


def warn_missing(role: str, model: str, trace: TokenTrace) -> None:
    """The warning for a call whose server returned no (or mismatched) tokens."""
    missing = [
        name
        for name in ("prompt_token_ids", "completion_token_ids", "completion_logprobs")
        if getattr(trace, name) is None
    ]
    what = (
        f"no {', '.join(missing)}"
        if missing
        else "a different number of logprobs than sampled tokens"
    )
    warnings.warn(
        TokensNotReturned(
            f"{role} ({model}): record_tokens is on, but the server sent {what}; those fields "
            "are stored as null for this run's calls. The vLLM releases policy-agent supports "
            "(0.17.1 to 0.33.0) return them; other providers may not. Further calls of this "
            "role are not reported again."
        ),
        stacklevel=2,
    )


def _field(value: Any, name: str) -> Any:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value.get(name)
    return getattr(value, name, None)


def _ints(value: JsonValue) -> list[int] | None:
    if not isinstance(value, list):
        return None
    if all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return [item for item in value if isinstance(item, int)]
    return None


def _logprobs(value: JsonValue, *, chat: bool) -> list[float | None] | None:
    if not isinstance(value, Mapping):
        return None
    if chat:
        content = value.get("content")
        if not isinstance(content, list):
            return None
        entries = [
            entry.get("logprob") if isinstance(entry, Mapping) else None for entry in content
        ]
    else:
        listed = value.get("token_logprobs")
        if not isinstance(listed, list):
            return None
        entries = list(listed)
    return [float(entry) if isinstance(entry, int | float) else None for entry in entries]
