"""The retry rule every model client follows, so failed attempts are logged the same way.

An attempt that raises a retryable `LLMError` is tried again after an exponential backoff with
jitter, up to `config.retries` more times; every failed attempt becomes an `AttemptRecord`,
carried by the answer that finally came (`Completion.attempts`) or by the error given up on.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable

from policy_agent.llm._completion import AttemptRecord, Completion
from policy_agent.llm._config import ModelConfig
from policy_agent.llm._errors import LLMError

_MAX_BACKOFF_S = 60.0

Attempt = Callable[[tuple[AttemptRecord, ...]], Awaitable[Completion]]
"""One try of a call: given the failures so far (to put on the answer), the answer or an error.
Every exception it raises must already be an `LLMError`."""


class Backoff:
    """Delays between attempts: `retry_backoff * 2**(n-1)`, capped, with jitter (so that many
    episodes failing together do not retry in lockstep)."""

    def __init__(self, config: ModelConfig) -> None:
        self._base = config.retry_backoff
        self._jitter = random.Random()

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt `attempt` (1 for the first)."""
        delay = min(self._base * 2 ** (attempt - 1), _MAX_BACKOFF_S)
        return float(delay * (0.5 + self._jitter.random() / 2))


def longest_call_s(config: ModelConfig) -> float:
    """The most time one call may take: every attempt up to its `timeout`, and the longest
    backoff between them (a hung server costs exactly this)."""
    waits = sum(
        min(config.retry_backoff * 2 ** (attempt - 1), _MAX_BACKOFF_S)
        for attempt in range(1, config.retries + 1)
    )
    return float((config.retries + 1) * config.timeout + waits)


async def with_retries(config: ModelConfig, backoff: Backoff, attempt_once: Attempt) -> Completion:
    """The first answer of up to `1 + config.retries` attempts, or the last error given up on
    (carrying every attempt)."""
    attempts: list[AttemptRecord] = []
    for attempt in range(1, config.retries + 2):
        start = time.perf_counter()
        try:
            return await attempt_once(tuple(attempts))
        except LLMError as error:
            attempts.append(
                AttemptRecord(
                    attempt=attempt,
                    error_type=type(error).__name__,
                    message=error.detail,
                    latency_ms=(time.perf_counter() - start) * 1000,
                    api_base=error.api_base,
                    moved_to=error.moved_to,
                )
            )
            if not error.retryable or attempt > config.retries:
                raise error.with_attempts(tuple(attempts)) from error
        await asyncio.sleep(backoff.delay(attempt))
    raise AssertionError("unreachable: the loop returns or raises")
