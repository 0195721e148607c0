"""The hotel pack and its scripted policy, made once per session."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack
from tests.rl._support import hotel_policy


@pytest.fixture(scope="session")
def policy() -> tuple[DomainPack, dict[str, list[str]]]:
    """The hotel pack and the completions of each task's oracle episode (do not change them)."""
    return hotel_policy()
