"""A tiny bank pack built in code (agent and user tools), the shipped hotel pack, and a builder of
episodes whose tool results come from a real environment, as the runner would log them."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import JsonValue

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack, Task, ToolSpec
from policy_agent.environment import HASH_SCHEME, Environment
from policy_agent.records import (
    AgentMessage,
    AgentToolCall,
    ConversationRecord,
    DatabaseState,
    Episode,
    Requestor,
    TerminationReason,
    UserMessage,
    UserToolCall,
)

HOTEL = Path(__file__).resolve().parents[2] / "domains" / "hotel"

TOOLS: list[dict[str, Any]] = [
    {
        "name": "get_account",
        "kind": "read",
        "parameters": {"account_id": {"type": "string"}},
        "implementation": {"op": "get", "table": "accounts", "key": "account_id"},
    },
    {
        "name": "deposit",
        "kind": "write",
        "parameters": {
            "account_id": {"type": "string"},
            "amount": {"type": "number"},
            "memo": {"type": "string", "default": ""},
        },
        "implementation": {
            "op": "update",
            "table": "accounts",
            "key": "account_id",
            "preconditions": [{"check": "amount > 0", "error": "Deposits must be positive."}],
            "set": {"balance": "record.balance + amount", "memo": "memo"},
        },
    },
    {
        "name": "close_account",
        "kind": "write",
        "parameters": {"account_id": {"type": "string"}},
        "implementation": {
            "op": "update",
            "table": "accounts",
            "key": "account_id",
            "set": {"status": "'closed'"},
        },
    },
    {
        "name": "open_account",
        "kind": "write",
        "parameters": {"owner": {"type": "string"}},
        "implementation": {
            "op": "create",
            "table": "accounts",
            "id": "'A-' + owner",
            "values": {"owner": "owner", "balance": "0", "status": "'open'", "memo": "''"},
        },
    },
]
USER_TOOLS: list[dict[str, Any]] = [
    {
        "name": "enable_notifications",
        "kind": "write",
        "implementation": {
            "op": "update",
            "table": "phone",
            "key": "'main'",
            "set": {"notifications": "true"},
        },
    },
]


def bank_pack(*tasks: dict[str, Any]) -> DomainPack:
    """The bank pack with these tasks (task dicts as in tasks.yaml)."""
    return DomainPack(
        root=Path(__file__).parent,
        repository=Path(__file__).parent,
        name="bank",
        description="A bank for evaluation tests.",
        version="0.1.0",
        policy="Be careful with money.",
        tools=tuple(ToolSpec.model_validate(t) for t in TOOLS),
        user_tools=tuple(ToolSpec.model_validate(t) for t in USER_TOOLS),
        database={
            "accounts": {
                "A1": {"owner": "Ana", "balance": 100, "status": "open", "memo": ""},
                "A2": {"owner": "Bo", "balance": 5, "status": "open", "memo": ""},
            }
        },
        user_database={"phone": {"main": {"notifications": False}}},
        tasks=tuple(Task.model_validate(t) for t in tasks),
    )


def task(task_id: str = "t", **criteria: Any) -> dict[str, Any]:
    """A task dict with these evaluation criteria."""
    return {
        "id": task_id,
        "user_scenario": {"instructions": "You are a bank customer."},
        "evaluation_criteria": criteria,
    }


class Conversation:
    """Builds an episode's records; each call really runs, so its logged result is genuine."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.live = environment.new_episode()
        self.records: list[ConversationRecord] = []
        self.initial = self.live.content_hash()

    def user(self, text: str) -> Conversation:
        self.records.append(UserMessage(content=text))
        return self

    def agent(self, text: str) -> Conversation:
        self.records.append(AgentMessage(content=text))
        return self

    def call(self, name: str, **arguments: JsonValue) -> Conversation:
        return self._call("assistant", name, arguments)

    def user_call(self, name: str, **arguments: JsonValue) -> Conversation:
        return self._call("user", name, arguments)

    def _call(
        self, requestor: Requestor, name: str, arguments: dict[str, JsonValue]
    ) -> Conversation:
        call_id = f"call_{len(self.records)}"
        record = (
            AgentToolCall(call_id=call_id, name=name, arguments=arguments)
            if requestor == "assistant"
            else UserToolCall(call_id=call_id, name=name, arguments=arguments)
        )
        result = self.live.call(name, arguments, requestor=requestor)
        self.records.extend([record, result.record(call_id, name, requestor=requestor)])
        return self

    def episode(
        self,
        task_id: str = "t",
        *,
        termination: TerminationReason = TerminationReason.USER_STOP,
        trial: int = 0,
        error: str | None = None,
    ) -> Episode:
        """The finished episode, with the live databases' hashes as the runner records them."""
        final = self.live.content_hash()
        moment = datetime(2025, 6, 4, 9, 0, tzinfo=UTC)
        return Episode(
            task_id=task_id,
            trial=trial,
            seed=1234 + trial,
            termination_reason=termination,
            started_at=moment,
            ended_at=moment,
            duration_s=0.0,
            messages=list(self.records),
            database=DatabaseState(
                initial_hash=self.initial.agent, final_hash=final.agent, hash_scheme=HASH_SCHEME
            ),
            user_database=DatabaseState(
                initial_hash=self.initial.user, final_hash=final.user, hash_scheme=HASH_SCHEME
            ),
            error=error,
        )


Converse = Callable[[DomainPack], Conversation]


@pytest.fixture
def converse() -> Converse:
    """`converse(pack)`: a new conversation on a fresh episode of the pack."""
    return lambda pack: Conversation(Environment.from_pack(pack))
