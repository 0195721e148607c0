"""Replaying runs: episodes rendered step by step, for `policy-agent show` and `replay`.

```python
run = ReplayRun(resolve_run("runs/20250603-090000-hotel-abc123"))
run.log.poll()                                   # list every episode (summaries only)
entry = run.log.find("card_triplet_cribs#1")     # or a line number: run.log.find("2")
located = run.log.locate("card_triplet_cribs#1")  # (entry, torn) from its line alone, or None
episode = run.log.load(entry)
expected = run.expected(episode.task_id)         # the task's actions, from the run's pack
Console().print(render_episode(episode, expected=expected.actions, note=expected.note))
ReplayApp(run, follow=True).run()                # the full-screen replay
```
Everything but `ReplayApp` is rich only: `ReplayApp` (and with it Textual) is imported on first
use, so that `policy-agent show` starts without loading Textual.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from policy_agent.tui._actions import ActionRow, arguments_match, call_text, pair_actions
from policy_agent.tui._filter import EpisodeFilter
from policy_agent.tui._listing import ListedEpisode
from policy_agent.tui._log import EpisodeEntry, EpisodeLog, EpisodeNotFound
from policy_agent.tui._render import (
    FOLDED,
    RenderOptions,
    match_count,
    matching_steps,
    pretty_json_text,
    render_step,
    revealing,
)
from policy_agent.tui._rows import RowColumn, RowLayout, RowTable
from policy_agent.tui._run import ExpectedActions, ReplayRun, pack_path_of, resolve_run
from policy_agent.tui._steps import (
    MatchJump,
    Step,
    is_success,
    next_match,
    search_pattern,
    search_text,
    steps_of,
    violation_codes,
)
from policy_agent.tui._summary import (
    ActionsView,
    actions_view,
    outcome_text,
    render_episode,
    render_origin,
    render_reward,
    render_title,
)

if TYPE_CHECKING:
    from policy_agent.tui._app import ReplayApp

__all__ = [
    "FOLDED",
    "ActionRow",
    "ActionsView",
    "EpisodeEntry",
    "EpisodeFilter",
    "EpisodeLog",
    "EpisodeNotFound",
    "ExpectedActions",
    "ListedEpisode",
    "MatchJump",
    "RenderOptions",
    "ReplayApp",
    "ReplayRun",
    "RowColumn",
    "RowLayout",
    "RowTable",
    "Step",
    "actions_view",
    "arguments_match",
    "call_text",
    "is_success",
    "match_count",
    "matching_steps",
    "next_match",
    "outcome_text",
    "pack_path_of",
    "pair_actions",
    "pretty_json_text",
    "render_episode",
    "render_origin",
    "render_reward",
    "render_step",
    "render_title",
    "resolve_run",
    "revealing",
    "search_pattern",
    "search_text",
    "steps_of",
    "violation_codes",
]


def __getattr__(name: str) -> object:
    # Textual takes a fifth of a second to import; only the replay itself needs it.
    if name == "ReplayApp":
        from policy_agent.tui._app import ReplayApp

        return ReplayApp
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
