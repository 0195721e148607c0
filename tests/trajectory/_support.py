"""A record model and a manifest for the store's tests (the real episode schema is elsewhere)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, JsonValue

from policy_agent import records
from policy_agent.records import TerminationReason
from policy_agent.trajectory import RunManifest, RunStore, config_hash

NOW = datetime(2025, 6, 1, 12, 30, 45, tzinfo=UTC)

CONFIG: dict[str, JsonValue] = {
    "domain": "domains/hotel",
    "agent": {"model": "hosted_vllm/nemotron", "temperature": 1.0},
    "max_steps": 200,
    "trials": 2,
    "concurrency": 8,
    "output": {"dir": "runs", "format": "jsonl"},
}
EXCLUDE = frozenset({"concurrency", "output.dir", "progress"})
DOMAIN_HASH = "d" * 64


class Episode(BaseModel):
    """Stands in for the episode record: a key and some content."""

    task_id: str
    trial: int
    payload: str = ""


def payload_for(trial: int, size: int) -> str:
    """Deterministic content of `size` characters, so a damaged line cannot pass for whole."""
    unit = hashlib.sha256(str(trial).encode()).hexdigest()
    return (unit * (size // len(unit) + 1))[:size]


def make_manifest(
    *, config: dict[str, JsonValue] | None = None, now: datetime = NOW
) -> RunManifest:
    """A manifest of the hotel domain with `CONFIG` (or `config`)."""
    return RunManifest.start(
        config=CONFIG if config is None else config,
        exclude=EXCLUDE,
        domain_name="hotel",
        domain_hash=DOMAIN_HASH,
        episodes_planned=4,
        now=now,
    )


def new_run(runs: Path, *, fsync: bool = False) -> RunStore:
    """A fresh run under `runs`, open to append (fsync off: these tests do not cut the power)."""
    return RunStore.create(runs, make_manifest(), fsync=fsync)


def run_of(runs: Path, episodes: list[records.Episode]) -> Path:
    """A run under `runs` holding `episodes`, closed; its folder."""
    with new_run(runs) as store:
        for episode in episodes:
            store.append(episode)
    return store.directory


def resume(directory: Path) -> RunStore:
    """The run made by `run_of` (or `new_run`), resumed to append to it."""
    return RunStore.resume(
        directory, config_hash=config_hash(CONFIG, exclude=EXCLUDE), domain_hash=DOMAIN_HASH
    )


def episode_record(
    task_id: str,
    trial: int,
    reason: TerminationReason = TerminationReason.USER_STOP,
    *,
    error: str | None = None,
) -> records.Episode:
    """A real episode line (the schema attempts are part of) ending with `reason`."""
    return records.Episode(
        task_id=task_id,
        trial=trial,
        seed=trial,
        termination_reason=reason,
        started_at=NOW,
        ended_at=NOW,
        duration_s=0.0,
        messages=[records.UserMessage(content="Hello.", timestamp=NOW)],
        database=records.DatabaseState(initial_hash="0" * 64, final_hash="0" * 64),
        error=error,
    )


def generation(tokens: records.TokenTrace | None) -> records.Generation:
    """A model call of a completions transport, with `tokens` as its trace."""
    return records.Generation(
        model="hosted_vllm/nemotron", transport="completions", raw_completion="Hi.", tokens=tokens
    )


def trace(seed: int, size: int) -> records.TokenTrace:
    """A deterministic token trace with `size` sampled tokens (and as many prompt tokens)."""
    ids = [(seed * 7919 + index) % 151_000 for index in range(size)]
    return records.TokenTrace(
        prompt_token_ids=ids,
        completion_token_ids=ids[::-1],
        completion_logprobs=[-(index % 97) / 8 for index in range(size)],
    )


def episode_with_tokens(
    task_id: str,
    trial: int,
    size: int = 50,
    reason: TerminationReason = TerminationReason.USER_STOP,
    *,
    attempt: int = 1,
) -> records.Episode:
    """A real episode whose generations (in messages and events) have traces and one not."""
    seed = trial * 31 + attempt
    messages = [
        records.UserMessage(content="Hello.", timestamp=NOW),
        records.AgentMessage(
            content="Hi.", timestamp=NOW, generation=generation(trace(seed, size))
        ),
        records.AgentMessage(content="Anything else?", timestamp=NOW, generation=generation(None)),
    ]
    retry = records.UserRetryEvent(
        reason="empty",
        raw_completion="",
        attempt=1,
        timestamp=NOW,
        generation=generation(trace(seed + 1, 3)),
    )
    return episode_record(task_id, trial, reason).model_copy(
        update={"attempt": attempt, "messages": messages, "events": [retry]}
    )
