"""Scripted servers over real HTTP, the hotel pack, and configs pointed at them."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.llm.conftest import Serve, serve

__all__ = ["Serve", "serve"]
