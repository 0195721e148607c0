"""`run --resume`: which episodes a resumption runs, and its summary apart from the whole run's.

A resumption runs the episodes the run lacks and, unless `--keep-failed`, runs again those lost
to infrastructure (`is_retried_on_resume`); each re-run is appended as the next attempt of its
(task, trial), and every reader counts the latest attempt. Its summary has two lines, one for
what this resumption did and one for the whole run as `report` counts it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from policy_agent.simulation import RunTally
    from policy_agent.trajectory import Resumption, RunStore


def plan(store: RunStore, *, keep_failed: bool) -> Resumption:
    """What the resumed `store` runs; `RunStoreError` for a log it cannot make sense of."""
    from policy_agent.trajectory import plan_resumption

    return plan_resumption(store.episodes_path, retry=not keep_failed)


def describe_plan(resumption: Resumption, planned: int, *, keep_failed: bool) -> str:
    """One line: how many episodes this resumption runs, and why."""
    retried = len(resumption.retried)
    todo = planned - len(resumption.done)
    parts = [f"{todo} of {planned} episodes to run"]
    if retried:
        parts.append(
            f"{retried} of them again, lost to infrastructure the last time "
            "(--keep-failed keeps such episodes)"
        )
    elif keep_failed:
        parts.append("episodes lost to infrastructure are kept (--keep-failed)")
    return "Resuming: " + "; ".join(parts)


def summary(store: RunStore, tally: RunTally) -> str:
    """Two lines: this resumption's counts, then the whole run's (each (task, trial)'s latest
    attempt, what `report` counts)."""
    from policy_agent.simulation import RunTally
    from policy_agent.trajectory import RunStore, RunStoreError

    this = dataclasses.replace(tally, planned=tally.planned - tally.already_done, already_done=0)
    lines = [f"{store.directory}: this resumption: {this.summary()}"]
    whole = RunTally(planned=tally.planned)
    try:
        for _, episode in RunStore.open(store.directory).latest_episodes(tokens=False):
            whole.add(episode)
    except RunStoreError as error:
        lines.append(f"{store.directory}: whole run: cannot be counted: {error}")
    else:
        lines.append(f"{store.directory}: whole run: {whole.summary()}")
    return "\n".join(lines)
