"""The demo run (made once per session: the runner takes about a second) and the mixed run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from tests.report._support import copy_hotel, demo_run, mixed_episodes, write_run


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The README's demo run: 24 hotel tasks, one trial, every reward 1. Do not write to it."""
    return demo_run(tmp_path_factory.mktemp("demo"))


@pytest.fixture
def copied(tmp_path: Path) -> tuple[Path, Path]:
    """A demo run made on a copy of the hotel pack: (run folder, pack folder); change either."""
    pack = copy_hotel(tmp_path / "repo")
    return demo_run(tmp_path / "runs", domain=pack), pack


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """The hand-built run of `mixed_episodes`, two trials per task."""
    return write_run(tmp_path / "runs", mixed_episodes(), trials=2)
