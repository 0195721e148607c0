"""Reports, comparisons, evaluations and exports count each (task, trial)'s latest attempt: an
attempt a resume ran again (after an infrastructure failure) counts nowhere."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

from policy_agent.domain import load_pack
from policy_agent.export import RewardFilter, export_run
from policy_agent.records import Episode
from policy_agent.report import (
    RescoredEpisode,
    build_report,
    load_run,
    rescore_run,
    write_evaluation,
)
from policy_agent.trajectory import RunStore, plan_resumption
from tests.report._support import (
    HOTEL,
    Reason,
    episode,
    evaluation_manifest,
    reward,
    write_run,
)


def _retried_run(tmp_path: Path, a: str = "a", b: str = "b") -> Path:
    """a#0 passed; b#0 was lost to infrastructure, and a resume ran it again: it passed."""
    lost = episode(b, 0, None, reason=Reason.INFRASTRUCTURE_ERROR)
    run = write_run(tmp_path, [episode(a, 0, 1.0), lost])
    manifest = RunStore.open(run).manifest
    with RunStore.resume(
        run, config_hash=manifest.config_hash, domain_hash=manifest.domain_hash
    ) as store:
        resumption = plan_resumption(store.episodes_path)
        store.append(resumption.next_attempt(episode(b, 0, 1.0)))
    return run


def _keys(episodes: list[Episode]) -> list[tuple[str, int, int]]:
    return [(e.task_id, e.trial, e.attempt) for e in episodes]


def test_the_report_counts_the_latest_attempt_only(tmp_path: Path) -> None:
    run = _retried_run(tmp_path)
    loaded = load_run(run)
    assert _keys(loaded.episodes) == [("a", 0, 1), ("b", 0, 2)]
    counts = build_report(loaded).episodes
    assert (counts.total, counts.scored, counts.infrastructure_failures) == (2, 2, 0)


def test_an_evaluation_applies_to_the_attempt_it_scored(tmp_path: Path) -> None:
    run = write_run(
        tmp_path, [episode("a", 0, 1.0), episode("b", 0, None, reason=Reason.INFRASTRUCTURE_ERROR)]
    )
    manifest = evaluation_manifest(2)
    # Written before the resume: it scored attempt 1 of b#0 (an old line has no attempt field).
    old = json.dumps({"kind": "rescored", "task_id": "b", "trial": 0, "reward": None, "error": "x"})
    write_evaluation(run, manifest, [RescoredEpisode(task_id="a", trial=0, reward=reward(0.5))])
    (run / "evaluations" / f"{manifest.name}.jsonl").write_text(
        (run / "evaluations" / f"{manifest.name}.jsonl").read_text() + old + "\n"
    )
    assert [e.reward.reward if e.reward else None for e in load_run(run).episodes] == [0.5, None]
    manifest_of_run = RunStore.open(run).manifest
    with RunStore.resume(
        run, config_hash=manifest_of_run.config_hash, domain_hash=manifest_of_run.domain_hash
    ) as store:
        store.append(plan_resumption(store.episodes_path).next_attempt(episode("b", 0, 1.0)))
    loaded = load_run(run)
    # Attempt 2 is newer than the evaluation: it keeps its recorded reward.
    assert [e.reward.reward if e.reward else None for e in loaded.episodes] == [0.5, 1.0]
    assert loaded.not_in_evaluation == 1


def test_rescoring_scores_the_latest_attempts_and_says_which(tmp_path: Path) -> None:
    run = _retried_run(tmp_path)
    rescoring = asyncio.run(rescore_run(load_run(run), load_pack(HOTEL)))
    assert [(line.task_id, line.trial, line.attempt) for line in rescoring.lines] == [
        ("a", 0, 1),
        ("b", 0, 2),
    ]


def test_an_export_has_the_latest_attempt_only(tmp_path: Path) -> None:
    run = _retried_run(tmp_path, "crib_too_late", "complaint_transfer")
    stream = io.StringIO()
    export_run(load_run(run), load_pack(HOTEL), "tau2", stream, reward_filter=RewardFilter())
    simulations = json.loads(stream.getvalue())["simulations"]
    assert [(s["task_id"], s["trial"]) for s in simulations] == [
        ("crib_too_late", 0),
        ("complaint_transfer", 0),
    ]
    assert [s["termination_reason"] for s in simulations] == ["user_stop", "user_stop"]
