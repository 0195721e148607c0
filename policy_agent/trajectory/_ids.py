"""How people name one episode of a run: `task_id#trial`, or its line in episodes.jsonl.

`show`, `replay` and `script-from-run` take both forms through `parse_episode_id`.
"""

from __future__ import annotations

import re
from typing import Protocol

EpisodeRef = tuple[str, int] | int
"""`(task_id, trial)`, or the 1-based line number of the episode in episodes.jsonl."""

_EPISODE_ID = re.compile(r"(?P<task>.+)#(?P<trial>[0-9]+)", re.DOTALL)
_LINE_NUMBER = re.compile(r"[0-9]+")


class _Keyed(Protocol):
    """An `Episode`, or a reader's slim copy of one."""

    @property
    def task_id(self) -> str: ...

    @property
    def trial(self) -> int: ...


def episode_id(episode: _Keyed) -> str:
    """`task_id#trial`, the id `show`, `replay` and `script-from-run` accept."""
    return f"{episode.task_id}#{episode.trial}"


def parse_episode_id(text: str) -> EpisodeRef:
    """`(task_id, trial)` for `task#trial`, or the 1-based line number for a bare number.

    Raises ValueError, saying which forms are accepted, for anything else.
    """
    stripped = text.strip()
    if _LINE_NUMBER.fullmatch(stripped) and int(stripped) > 0:
        return int(stripped)
    found = _EPISODE_ID.fullmatch(stripped)
    if found is None:
        raise ValueError(
            f"episode {text!r} is neither TASK_ID#TRIAL (e.g. card_triplet_cribs#0) "
            "nor a line number of episodes.jsonl (1 for the first)"
        )
    return found["task"], int(found["trial"])
