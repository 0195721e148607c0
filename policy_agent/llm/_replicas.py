"""Which replica serves a call: one per episode, moved only when it fails.

vLLM keeps a prefix cache per server. An episode's calls share its whole prompt so far (the
hotel's system prompt alone is 17 kB), so every call of an episode goes to the same replica:
its *home*, chosen by a stable hash of the episode's session id (the same replica in every run,
on every machine). A call whose replica fails with an infrastructure error (unreachable, a 5xx,
a timeout) moves the session to the next replica in the configured order, for its retry and
for the rest of the episode. A call without a session takes the replicas in turn.

This is NeMo Gym's sticky choice (`responses_api_models/vllm_model/app.py`), without litellm's
Router on the hot path: choosing a replica is a dict look-up, so a call to one of several
replicas costs what a call to a single server does.
"""

from __future__ import annotations

import hashlib
import itertools

from policy_agent.llm._errors import LLMError, LLMTimeout, ServerError, ServerUnreachable

FAILOVER_ERRORS: tuple[type[LLMError], ...] = (ServerUnreachable, ServerError, LLMTimeout)
"""What moves a session to another replica: the replica (not the request) failed. A 429 or a
malformed answer stays: another replica would be no likelier to take it."""


def home_replica(session: str, count: int) -> int:
    """The index of the replica that serves `session` while it answers (stable across runs)."""
    digest = hashlib.sha256(session.encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


class ReplicaChoice:
    """The replica of each session: its home, or where a failure moved it."""

    def __init__(self, count: int) -> None:
        self.count = count
        self._moved: dict[str, int] = {}
        """Sessions whose home failed, and their replica now (the rest are at home)."""
        self._turns = itertools.count()

    def index(self, session: str | None) -> int:
        """The replica for the next call of `session` (None: the next in turn)."""
        if self.count == 1:
            return 0
        if session is None:
            return next(self._turns) % self.count
        moved = self._moved.get(session)
        return moved if moved is not None else home_replica(session, self.count)

    def failed(self, session: str | None, index: int, error: LLMError) -> int | None:
        """Record that replica `index` failed a call of `session` with `error`; the index of the
        replica the session moves to, or None when it stays."""
        if self.count == 1 or session is None or not isinstance(error, FAILOVER_ERRORS):
            return None
        moved = (index + 1) % self.count
        self._moved[session] = moved
        return moved
