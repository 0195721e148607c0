"""What every persisted record shares: strict, immutable, stamped in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict


class Record(BaseModel):
    """Base of every persisted model: unknown keys are errors, and nothing changes once made."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def now() -> datetime:
    """The current time in UTC, as records are stamped."""
    return datetime.now(UTC)


Requestor = Literal["assistant", "user"]
"""Who called a tool: the agent, or the user simulator on its own side (dual control)."""
