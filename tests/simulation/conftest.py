"""Scripted servers over real HTTP, the hotel pack, and configs pointed at them."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from policy_agent.domain import DomainPack, load_pack
from tests.llm.conftest import Serve, serve
from tests.simulation._support import HOTEL

__all__ = ["Serve", "serve"]


@pytest.fixture(scope="session")
def hotel() -> DomainPack:
    """The shipped hotel pack."""
    return load_pack(HOTEL)
