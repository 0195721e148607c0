"""Exports stream a run: each episode is read, written and let go. What they write is what the
whole run held in memory gave, and their memory does not grow with the number of episodes."""

from __future__ import annotations

import io
import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from policy_agent.domain import load_pack
from policy_agent.export import (
    ExportFormat,
    RewardFilter,
    Tau2Results,
    export_run,
    tau2_results_head,
    tau2_simulation,
)
from policy_agent.records import ConversationRecord, Episode
from policy_agent.report import LoadedRun, load_run
from policy_agent.trajectory import RunStore
from tests.report._support import HOTEL, grown, write_run

HISTORY_TASK = "cancel_confirmed_mid_call"
"""The hotel task that starts from a message history (`initial_state.messages`)."""


def whole_tau2(run: LoadedRun, reward_filter: RewardFilter) -> str:
    """The tau2 file as built before exports streamed: every kept episode in one `Tau2Results`."""
    kept = [episode for episode in run.episodes if reward_filter.admits(episode)]
    histories: dict[str, list[ConversationRecord]] = {}
    for episode in kept:
        if episode.initial_messages:
            histories.setdefault(episode.task_id, episode.messages[: episode.initial_messages])
    head = tau2_results_head(
        run, run.config(), load_pack(HOTEL), {e.task_id for e in kept}, histories
    )
    simulations = [tau2_simulation(run.manifest.run_id, episode) for episode in kept]
    return head.model_copy(update={"simulations": simulations}).model_dump_json(indent=4) + "\n"


@pytest.mark.parametrize(
    "reward_filter",
    [RewardFilter(), RewardFilter(only_success=True), RewardFilter(min_reward=2.0)],
    ids=["all", "successes", "none"],
)
def test_the_streamed_tau2_file_is_the_whole_results_byte_for_byte(
    demo: Path, tmp_path: Path, reward_filter: RewardFilter
) -> None:
    run = load_run(grown(tmp_path, demo, copies=3))
    assert any(e.task_id == HISTORY_TASK and e.initial_messages for e in run.episodes)
    out = io.StringIO()
    result = export_run(run, load_pack(HOTEL), "tau2", out, reward_filter=reward_filter)
    assert out.getvalue() == whole_tau2(run, reward_filter)
    kept = sum(reward_filter.admits(e) for e in run.episodes)
    assert result.records == result.selection.kept == kept
    assert result.selection.filtered_out == len(run.episodes) - kept


def test_the_history_of_a_task_is_its_first_kept_episodes(demo: Path, tmp_path: Path) -> None:
    played = [episode for _, episode in RunStore.open(demo).latest_episodes()]
    [first] = [e for e in played if e.task_id == HISTORY_TASK]
    assert first.initial_messages
    # Trial 0 is filtered out and says another history than trial 1, which is kept.
    said = first.messages[0].model_copy(update={"content": "Not the history kept."})
    changed = first.model_copy(
        update={"messages": [said, *first.messages[1:]], "reward": None, "trial": 0}
    )
    run = load_run(write_run(tmp_path, [changed, first.model_copy(update={"trial": 1})], trials=2))
    out = io.StringIO()
    only = RewardFilter(min_reward=0.0)
    export_run(run, load_pack(HOTEL), "tau2", out, reward_filter=only)
    assert out.getvalue() == whole_tau2(run, only)
    assert "Not the history kept." not in out.getvalue()


def peak_bytes(export: Callable[[], object]) -> int:
    """The most memory `export` held at once, as Python allocated it."""
    tracemalloc.start()
    try:
        export()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def exporting(run: Path, export_format: ExportFormat) -> Callable[[], object]:
    """An export of `run` to /dev/null (a file, which keeps nothing of what it is given)."""
    loaded, pack = load_run(run), load_pack(HOTEL)

    def export() -> object:
        with open(os.devnull, "w", encoding="utf-8") as out:
            return export_run(loaded, pack, export_format, out, include_oracle=True)

    return export


@pytest.mark.parametrize("export_format", ["sft", "tau2"])
def test_an_exports_memory_does_not_grow_with_the_episodes(
    demo: Path, tmp_path: Path, export_format: ExportFormat
) -> None:
    small = grown(tmp_path / "small", demo, copies=1)
    big = grown(tmp_path / "big", demo, copies=6)
    peak_bytes(exporting(small, export_format))  # what is built once (schemas, caches)
    more = peak_bytes(exporting(big, export_format)) - peak_bytes(exporting(small, export_format))
    one_episode = peak_bytes(lambda: list(load_run(small).iter_episodes())) // 34
    # The big run has 120 episodes more: held, they would add 120 episodes' worth. What does
    # grow is per (task, trial) key, the latest attempts' index: some hundred bytes each.
    assert more < 120 * one_episode / 10, (more, one_episode)


class AppendingWhenFirstWritten(io.StringIO):
    """An export's output that, when the export first writes to it, appends `episode` to the
    run: the run is still being written while it is exported (between tau2's passes)."""

    def __init__(self, run: Path, episode: Episode) -> None:
        super().__init__()
        self.run = run
        self.episode: Episode | None = episode

    def write(self, text: str) -> int:
        if self.episode is not None:
            manifest = RunStore.open(self.run).manifest
            with RunStore.resume(
                self.run, config_hash=manifest.config_hash, domain_hash=manifest.domain_hash
            ) as store:
                store.append(self.episode)
            self.episode = None
        return super().write(text)


def test_a_run_that_grows_while_exported_gives_a_tau2_file_that_agrees_with_itself(
    demo: Path, tmp_path: Path
) -> None:
    played = [episode for _, episode in RunStore.open(demo).latest_episodes()]
    directory = write_run(tmp_path, played[1:], trials=2)
    out = AppendingWhenFirstWritten(directory, played[0])  # a task the first pass did not see
    result = export_run(load_run(directory), load_pack(HOTEL), "tau2", out)
    results = Tau2Results.model_validate_json(out.getvalue())
    assert {s.task_id for s in results.simulations} == {t.id for t in results.tasks}
    assert played[0].task_id not in {t.id for t in results.tasks}
    assert len(results.simulations) == result.records == result.selection.kept == 23
    # Read again, the run has the episode appended while it was exported.
    assert len(load_run(directory).episodes) == 24
