"""Per-episode seeds: a stable hash of (run seed, task, trial), never global random state."""

from __future__ import annotations

import hashlib
import json

SEED_BITS = 31
"""Seeds fit a signed 32-bit integer, which every server and sampler accepts."""


def episode_seed(run_seed: int, task_id: str, trial: int) -> int:
    """The seed of trial `trial` of task `task_id` in a run seeded with `run_seed`.

    sha256 of the JSON array `[run_seed, task_id, trial]`, first 8 bytes, reduced to 31 bits:
    the same on every machine and Python version, independent of which other episodes run or
    in what order (so a resumed run gives its remaining episodes the seeds they would have had).
    """
    digest = hashlib.sha256(json.dumps([run_seed, task_id, trial]).encode()).digest()
    return int.from_bytes(digest[:8], "big") % (1 << SEED_BITS)
