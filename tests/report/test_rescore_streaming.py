"""Re-scoring streams a run: its lines go out in the run's order as they are scored, what it
says is what it says of the run held whole, and its memory does not grow with the episodes."""

from __future__ import annotations

import asyncio
import tracemalloc
from pathlib import Path

import pytest

from policy_agent.domain import load_pack
from policy_agent.report import (
    EvaluationDraft,
    RescoredEpisode,
    load_run,
    read_evaluation,
    rescore_run,
    write_evaluation,
)
from tests.report._support import HOTEL, START, grown


def test_streamed_lines_are_the_kept_ones_in_the_runs_order(demo: Path, tmp_path: Path) -> None:
    run, pack = load_run(grown(tmp_path, demo, copies=2)), load_pack(HOTEL)
    kept = asyncio.run(rescore_run(run, pack, now=START))
    streamed: list[RescoredEpisode] = []
    told = asyncio.run(rescore_run(run, pack, now=START, concurrency=3, write=streamed.append))
    assert streamed == kept.lines and told.lines == []
    assert [(line.task_id, line.trial) for line in streamed] == [e.key for e in run.episodes]
    assert (told.manifest, told.changes, told.rules) == (kept.manifest, kept.changes, kept.rules)
    assert told.unscored == [line for line in kept.lines if line.reward is None]
    # The mixed outcomes' tasks are gone from nothing: every episode was scored.
    assert told.manifest.episodes == 24 * 2 + 10 and told.manifest.failed == 0


def test_a_draft_becomes_the_evaluation_only_when_committed(demo: Path, tmp_path: Path) -> None:
    directory = grown(tmp_path, demo, copies=1)
    run, pack = load_run(directory), load_pack(HOTEL)
    with EvaluationDraft(directory) as draft:
        rescoring = asyncio.run(rescore_run(run, pack, now=START, write=draft.write))
        assert [p.name.endswith(".tmp") for p in (directory / "evaluations").iterdir()] == [True]
        written = draft.commit(rescoring.manifest)
    manifest, lines = read_evaluation(directory, rescoring.manifest.name)
    assert manifest == rescoring.manifest and len(lines) == 34
    assert sorted(p.name for p in written.parent.iterdir()) == [
        f"{manifest.name}.json",
        f"{manifest.name}.jsonl",
    ]
    with EvaluationDraft(directory) as draft:
        draft.write(lines[0])
    assert len(list(written.parent.iterdir())) == 2  # left uncommitted: removed


def rescoring_peak(run: Path, concurrency: int) -> int:
    loaded, pack = load_run(run), load_pack(HOTEL)
    tracemalloc.start()
    try:
        asyncio.run(rescore_run(loaded, pack, concurrency=concurrency, write=lambda _: None))
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("concurrency", [1, 8])
def test_a_rescorings_memory_does_not_grow_with_the_episodes(
    demo: Path, tmp_path: Path, concurrency: int
) -> None:
    small = grown(tmp_path / "small", demo, copies=1)
    big = grown(tmp_path / "big", demo, copies=6)
    rescoring_peak(small, concurrency)  # what is built once
    more = rescoring_peak(big, concurrency) - rescoring_peak(small, concurrency)
    tracemalloc.start()
    try:
        episodes = list(load_run(small).iter_episodes())
        one_episode = tracemalloc.get_traced_memory()[1] // len(episodes)
    finally:
        tracemalloc.stop()
    # 120 episodes more: held (as before the rescoring streamed), they would add 120 episodes'
    # worth. What does grow is per (task, trial) key, the latest attempts' index.
    assert more < 120 * one_episode / 10, (more, one_episode)


def evaluated(runs: Path, demo: Path, copies: int) -> Path:
    """`grown(runs, demo, copies)` with an evaluation of every episode."""
    directory = grown(runs, demo, copies)
    rescoring = asyncio.run(rescore_run(load_run(directory), load_pack(HOTEL), now=START))
    write_evaluation(directory, rescoring.manifest, rescoring.lines)
    return directory


def test_a_run_opened_with_an_evaluation_holds_none_of_its_rewards(
    demo: Path, tmp_path: Path
) -> None:
    small = evaluated(tmp_path / "small", demo, copies=1)
    big = evaluated(tmp_path / "big", demo, copies=6)

    def held(run: Path) -> int:
        tracemalloc.start()
        try:
            opened = load_run(run)
            held = tracemalloc.get_traced_memory()[0]
            assert opened.evaluation is not None  # and `opened` alive until measured
            return held
        finally:
            tracemalloc.stop()

    rescored = load_run(small).rescored
    reward = rescored[next(iter(rescored))]
    assert reward is not None
    tracemalloc.start()
    try:
        rewards = [reward.model_copy(deep=True) for _ in range(10)]
        one_reward = tracemalloc.get_traced_memory()[0] // len(rewards)
    finally:
        tracemalloc.stop()
    # 120 rewards more: held, they would add 120 rewards' worth; a key and two numbers each do not.
    assert held(big) - held(small) < 120 * one_reward / 10
    # What is read is the evaluation's, episode by episode.
    run = load_run(big)
    assert [e.reward for e in run.iter_episodes()] == [run.rescored[k] for k in run.rescored]
