"""Re-scoring a run after its pack changed: new rewards beside the run, episodes.jsonl untouched."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from policy_agent.domain import load_pack
from policy_agent.evaluation import JudgeRequired
from policy_agent.report import (
    EVALUATIONS_DIR,
    LATEST,
    RECORDED,
    EvaluationFileError,
    RescoredEpisode,
    Rescoring,
    build_report,
    evaluation_names,
    load_run,
    read_evaluation,
    rescore_run,
    write_evaluation,
)
from policy_agent.trajectory import EPISODES_NAME
from tests.report._support import (
    HOTEL,
    STRICT_TASK,
    episode,
    evaluation_manifest,
    make_stricter,
    reward,
    write_run,
)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def rescore(run: Path, pack: Path, moment: datetime | None = None) -> Rescoring:
    return asyncio.run(rescore_run(load_run(run), load_pack(pack), now=moment))


def test_a_stricter_task_fails_on_rescoring_and_the_log_is_untouched(
    copied: tuple[Path, Path],
) -> None:
    run, pack = copied
    before = digest(run / EPISODES_NAME)
    make_stricter(pack)
    rescoring = rescore(run, pack)
    assert [(c.task_id, c.trial, c.before, c.after) for c in rescoring.changes] == [
        (STRICT_TASK, 0, 1.0, 0.0)
    ]
    assert rescoring.manifest.pack_changed and rescoring.manifest.failed == 0
    assert rescoring.manifest.episodes == 24
    written = write_evaluation(run, rescoring.manifest, rescoring.lines)
    assert written == run / EVALUATIONS_DIR / f"{rescoring.manifest.name}.jsonl"
    assert digest(run / EPISODES_NAME) == before

    loaded = load_run(run)
    assert loaded.evaluation == rescoring.manifest
    assert "re-scored with a changed pack" in loaded.describe_rewards()
    report = build_report(loaded)
    assert report.evaluation == rescoring.manifest.name
    assert report.episodes.successes == 23
    [strict] = [t for t in report.tasks if t.task_id == STRICT_TASK]
    assert strict.rewards == [0.0]
    reward = next(e.reward for e in loaded.episodes if e.task_id == STRICT_TASK)
    assert reward is not None
    assert [check.met for check in reward.env_assertions] == [False, True, True]
    # The recorded rewards stay readable.
    assert build_report(load_run(run, evaluation=RECORDED)).episodes.successes == 24


def test_an_unchanged_pack_changes_nothing(demo: Path) -> None:
    rescoring = rescore(demo, HOTEL)
    assert rescoring.changes == [] and not rescoring.manifest.pack_changed


def test_the_newest_evaluation_is_used_and_any_can_be_named(copied: tuple[Path, Path]) -> None:
    run, pack = copied
    first = rescore(run, pack, datetime(2025, 1, 1, tzinfo=UTC))
    write_evaluation(run, first.manifest, first.lines)
    make_stricter(pack)
    second = rescore(run, pack, datetime(2025, 1, 2, tzinfo=UTC))
    write_evaluation(run, second.manifest, second.lines)
    names = [first.manifest.name, second.manifest.name]
    assert evaluation_names(run) == names == ["20250101-000000-000000", "20250102-000000-000000"]
    assert load_run(run, evaluation=LATEST).evaluation == second.manifest
    assert build_report(load_run(run, evaluation=names[0])).episodes.successes == 24
    manifest, lines = read_evaluation(run, names[1])
    assert manifest == second.manifest and len(lines) == 24


def test_an_evaluation_without_its_manifest_is_ignored(copied: tuple[Path, Path]) -> None:
    run, pack = copied
    make_stricter(pack)
    rescoring = rescore(run, pack)
    write_evaluation(run, rescoring.manifest, rescoring.lines)
    # A crash between the two files leaves lines without a manifest: not an evaluation.
    (run / EVALUATIONS_DIR / f"{rescoring.manifest.name}.json").unlink()
    assert evaluation_names(run) == []
    assert load_run(run).evaluation is None


def test_evaluations_are_never_overwritten_and_unknown_names_are_refused(
    copied: tuple[Path, Path],
) -> None:
    run, pack = copied
    rescoring = rescore(run, pack)
    write_evaluation(run, rescoring.manifest, rescoring.lines)
    with pytest.raises(EvaluationFileError, match="never overwritten"):
        write_evaluation(run, rescoring.manifest, rescoring.lines)
    with pytest.raises(
        EvaluationFileError, match=f"its evaluations are: {rescoring.manifest.name}"
    ):
        load_run(run, evaluation="20990101-000000-000000")


def test_an_episode_whose_task_is_gone_gets_no_reward_and_says_why(
    copied: tuple[Path, Path],
) -> None:
    run, pack = copied
    tasks = pack / "tasks.yaml"
    text = tasks.read_text(encoding="utf-8")
    tasks.write_text(text.replace(f"- id: {STRICT_TASK}", "- id: renamed_task"), encoding="utf-8")
    rescoring = rescore(run, pack)
    [gone] = [line for line in rescoring.lines if line.reward is None]
    assert gone.task_id == STRICT_TASK and gone.error is not None and "UnknownTask" in gone.error
    assert rescoring.manifest.failed == 1
    write_evaluation(run, rescoring.manifest, rescoring.lines)
    assert build_report(load_run(run)).episodes.unevaluated == 1


def test_a_task_needing_the_judge_is_refused_without_one(copied: tuple[Path, Path]) -> None:
    run, pack = copied
    tasks = pack / "tasks.yaml"
    text = tasks.read_text(encoding="utf-8")
    old = "reward_basis: [DB, ENV_ASSERTION, COMMUNICATE]"
    tasks.write_text(text.replace(old, f"{old[:-1]}, NL_ASSERTION]", 1), encoding="utf-8")
    with pytest.raises(JudgeRequired, match=STRICT_TASK):
        rescore(run, pack)


def test_episodes_newer_than_the_evaluation_keep_their_recorded_reward(tmp_path: Path) -> None:
    run = write_run(tmp_path, [episode("a", 0, 1.0), episode("b", 0, 1.0)])
    manifest = evaluation_manifest(1, datetime(2025, 1, 1, tzinfo=UTC))
    # As if the run was resumed after this evaluation and b#0 appended then.
    write_evaluation(run, manifest, [RescoredEpisode(task_id="a", trial=0, reward=reward(0.0))])
    loaded = load_run(run)
    assert [e.reward.reward for e in loaded.episodes if e.reward] == [0.0, 1.0]
    assert loaded.not_in_evaluation == 1
    assert loaded.describe_rewards() == (
        "from evaluation 20250101-000000-000000; episodes newer than it keep their recorded "
        "reward: 1"
    )


def test_a_loaded_run_streams_its_episodes_with_the_evaluation_s_rewards(tmp_path: Path) -> None:
    run = write_run(tmp_path, [episode("a", 0, 1.0), episode("b", 0, 1.0)])
    manifest = evaluation_manifest(1, datetime(2025, 1, 1, tzinfo=UTC))
    write_evaluation(run, manifest, [RescoredEpisode(task_id="a", trial=0, reward=reward(0.0))])
    loaded = load_run(run)
    streamed = loaded.iter_episodes()
    first = next(streamed)
    assert (first.task_id, first.reward and first.reward.reward) == ("a", 0.0)
    # Each pass reads the file anew, independently of one under way.
    assert [e.task_id for e in loaded.iter_episodes()] == ["a", "b"]
    assert [e.task_id for e in streamed] == ["b"]
    kept = loaded.with_episodes([first])
    assert [e.task_id for e in kept.iter_episodes()] == ["a"] and kept.episodes == [first]
    assert kept.evaluation == loaded.evaluation
