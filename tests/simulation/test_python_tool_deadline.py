"""A Python tool that blocks stalls neither the run nor its episode's own limits."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from policy_agent.domain import DomainPack, load_pack
from policy_agent.records import TerminationReason, ToolResult
from tests.simulation._support import HOTEL, REPOSITORY, play_one, sim_config

BLOCKING = '''

import threading as _threading

RELEASE = _threading.Event()
_search = search_available_rooms
_calls = []


def search_available_rooms(db, **arguments):
    """The episode's call blocks, as a tool calling a slow service would, until the test
    releases it; the evaluator's replays after it do not."""
    _calls.append(arguments)
    if len(_calls) == 1:
        RELEASE.wait(timeout=120)
    return _search(db, **arguments)
'''


@pytest.fixture
def blocking_hotel(tmp_path: Path) -> Iterator[DomainPack]:
    """The hotel pack in a repository of its own whose `search_available_rooms` blocks."""
    (tmp_path / "pyproject.toml").write_text("")
    shutil.copytree(HOTEL, tmp_path / "domains" / "hotel")
    (tmp_path / "tools").mkdir()
    source = (REPOSITORY / "tools" / "hotel.py").read_text()
    (tmp_path / "tools" / "hotel.py").write_text(source + BLOCKING)
    pack = load_pack(tmp_path / "domains" / "hotel")
    yield pack
    release: threading.Event = _release_of(pack)
    release.set()  # let the abandoned thread end


def _release_of(pack: DomainPack) -> threading.Event:
    from policy_agent.environment import Environment

    function = Environment.from_pack(pack).function("tools/hotel.py:search_available_rooms")
    event = function.__globals__["RELEASE"]
    assert isinstance(event, threading.Event)
    return event


async def test_a_python_tool_past_tool_timeout_s_is_a_tool_error_and_the_episode_goes_on(
    blocking_hotel: DomainPack,
) -> None:
    config = sim_config(domain=str(blocking_hotel.root), tool_timeout_s=0.2)
    episode = await play_one(config, blocking_hotel, "card_triplet_cribs")
    (search,) = [
        r
        for r in episode.messages
        if isinstance(r, ToolResult) and r.name == "search_available_rooms"
    ]
    assert search.error
    assert search.content == "Error: the tool search_available_rooms did not return within 0.2 s"
    # The episode went on after the error (the oracle's next call), and ended as conversations do.
    names = [r.name for r in episode.messages if isinstance(r, ToolResult)]
    assert names[names.index("search_available_rooms") + 1 :] == ["change_room"]
    assert episode.termination_reason.is_normal_end


async def test_the_episode_limit_fires_while_a_python_tool_blocks(
    blocking_hotel: DomainPack,
) -> None:
    # Before: the tool ran on the event loop, so the episode's deadline could never fire.
    config = sim_config(domain=str(blocking_hotel.root), tool_timeout_s=None, episode_timeout_s=0.5)
    episode = await play_one(config, blocking_hotel, "card_triplet_cribs")
    assert episode.termination_reason is TerminationReason.TIMEOUT
