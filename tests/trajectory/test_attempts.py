"""Attempts: a resume's re-run supersedes the failed line; every reader counts the latest."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from policy_agent.records import Episode, TerminationReason
from policy_agent.trajectory import (
    EPISODES_NAME,
    AttemptConflict,
    CorruptLine,
    LatestAttempts,
    RunStore,
    RunStoreWarning,
    index_attempts,
    is_retried_on_resume,
    iter_latest,
    plan_resumption,
)

from ._support import episode_record, resume, run_of

INFRA = TerminationReason.INFRASTRUCTURE_ERROR


def _latest(directory: Path) -> list[tuple[int, str, int, int]]:
    return [
        (line, e.task_id, e.trial, e.attempt)
        for line, e in RunStore.open(directory).latest_episodes()
    ]


def _mixed(tmp_path: Path) -> Path:
    return run_of(
        tmp_path,
        [
            episode_record("a", 0),
            episode_record("b", 0, INFRA, error="agent model unreachable"),
            episode_record("a", 1, TerminationReason.MAX_STEPS),
            episode_record("b", 1, INFRA),
        ],
    )


@pytest.mark.parametrize("reason", list(TerminationReason))
def test_resume_runs_again_exactly_the_episodes_infrastructure_ended(
    reason: TerminationReason,
) -> None:
    assert is_retried_on_resume(episode_record("a", 0, reason)) is reason.is_infrastructure


def test_a_run_without_re_runs_reads_every_line_as_a_first_attempt(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    assert _latest(directory) == [(1, "a", 0, 1), (2, "b", 0, 1), (3, "a", 1, 1), (4, "b", 1, 1)]


def test_the_plan_keeps_what_stands_and_runs_again_what_infrastructure_lost(
    tmp_path: Path,
) -> None:
    directory = _mixed(tmp_path)
    with resume(directory) as store:
        resumption = plan_resumption(store.episodes_path)
        kept = plan_resumption(store.episodes_path, retry=False)
    assert resumption.done == {("a", 0), ("a", 1)}
    assert {key: (a.line, a.attempt) for key, a in resumption.retried.items()} == {
        ("b", 0): (2, 1),
        ("b", 1): (4, 1),
    }
    assert kept.done == {("a", 0), ("a", 1), ("b", 0), ("b", 1)} and not kept.retried


def test_a_re_run_supersedes_the_failed_line_which_stays_byte_for_byte(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    before = (directory / EPISODES_NAME).read_bytes()
    with resume(directory) as store:
        resumption = plan_resumption(store.episodes_path)
        again = resumption.next_attempt(episode_record("b", 1))
        store.append(again)
        store.append(resumption.next_attempt(episode_record("b", 0)))
    assert (again.attempt, again.supersedes) == (2, 4)
    # Append-only: the old lines are untouched, the new ones follow.
    assert (directory / EPISODES_NAME).read_bytes().startswith(before)
    assert _latest(directory) == [(1, "a", 0, 1), (3, "a", 1, 1), (5, "b", 1, 2), (6, "b", 0, 2)]
    written = [json.loads(line) for line in (directory / EPISODES_NAME).read_text().splitlines()]
    assert [(w["attempt"], w["supersedes"]) for w in written] == [
        (1, None),
        (1, None),
        (1, None),
        (1, None),
        (2, 4),
        (2, 2),
    ]
    assert len(RunStore.open(directory).read(Episode)) == 6, "read() is the log as written"
    with resume(directory) as store:
        assert plan_resumption(store.episodes_path).done == {("a", 0), ("a", 1), ("b", 0), ("b", 1)}


def test_an_attempt_lost_again_is_run_a_third_time(tmp_path: Path) -> None:
    directory = run_of(tmp_path, [episode_record("a", 0, INFRA)])
    for expected in (2, 3):
        with resume(directory) as store:
            resumption = plan_resumption(store.episodes_path)
            reason = INFRA if expected == 2 else TerminationReason.USER_STOP
            store.append(resumption.next_attempt(episode_record("a", 0, reason)))
    assert _latest(directory) == [(3, "a", 0, 3)]
    index = index_attempts(directory / EPISODES_NAME)
    assert [index.superseded_by(line) for line in (1, 2, 3)] == [2, 3, None]


def test_a_non_retried_episode_is_appended_as_it_is(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    with resume(directory) as store:
        fresh = episode_record("c", 0)
        assert plan_resumption(store.episodes_path).next_attempt(fresh) is fresh


def test_lines_from_before_attempts_existed_read_as_first_attempts(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    log = directory / EPISODES_NAME
    old = []
    for line in log.read_text().splitlines():
        value = json.loads(line)
        del value["attempt"], value["supersedes"]
        old.append(json.dumps(value))
    log.write_text("".join(f"{line}\n" for line in old))
    assert _latest(directory) == [(1, "a", 0, 1), (2, "b", 0, 1), (3, "a", 1, 1), (4, "b", 1, 1)]


def test_a_copied_line_is_refused_naming_both_lines(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    log = directory / EPISODES_NAME
    log.write_bytes(log.read_bytes() + log.read_bytes().splitlines(keepends=True)[1])
    with pytest.raises(AttemptConflict) as caught:
        list(RunStore.open(directory).latest_episodes())
    assert str(caught.value) == (
        f"{log}:5: episode b#0 is already on line 2, and this line does not say it supersedes "
        "it. policy-agent never writes such a line, so something else appended or copied it; "
        "delete the line that should not count (its episode runs again on resume if none is "
        "left)."
    )
    assert caught.value.line == 5


@pytest.mark.parametrize(
    ("task", "attempt", "supersedes", "detail"),
    [
        (
            "b",
            2,
            1,
            "attempt 2 of b#0 says it supersedes line 1, but the latest attempt of b#0 "
            "before it is attempt 1 on line 2",
        ),
        (
            "b",
            3,
            2,
            "attempt 3 of b#0 says it supersedes line 2, but the latest attempt of b#0 "
            "before it is attempt 1 on line 2",
        ),
        (
            "c",
            2,
            1,
            "attempt 2 of c#0 says it supersedes line 1, but the latest attempt of c#0 "
            "before it is none",
        ),
        ("c", 2, None, "attempt 2 of c#0 supersedes no line"),
    ],
)
def test_a_line_that_supersedes_what_it_cannot_is_refused(
    tmp_path: Path, task: str, attempt: int, supersedes: int | None, detail: str
) -> None:
    directory = _mixed(tmp_path)
    wrong = episode_record(task, 0).model_copy(
        update={"attempt": attempt, "supersedes": supersedes}
    )
    with (directory / EPISODES_NAME).open("a") as file:
        file.write(wrong.model_dump_json() + "\n")
    with pytest.raises(AttemptConflict, match=f"episodes.jsonl:5: {detail}\\."):
        list(iter_latest(directory / EPISODES_NAME))


def test_a_corrupt_line_is_reported_by_the_episodes_pass_with_its_line(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    log = directory / EPISODES_NAME
    lines = log.read_bytes().splitlines(keepends=True)
    log.write_bytes(b"".join([lines[0], b"{not json\n", *lines[1:]]))
    with pytest.raises(CorruptLine, match=r"episodes.jsonl:2: corrupt line \(not valid JSON"):
        list(iter_latest(log))


def test_a_torn_last_line_is_dropped_with_one_warning(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    log = directory / EPISODES_NAME
    log.write_bytes(log.read_bytes() + episode_record("c", 0).model_dump_json().encode()[:50])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert len(list(iter_latest(log))) == 4
    assert [str(w.message).split(": the last line")[0] for w in caught] == [f"{log}:5"]
    assert all(w.category is RunStoreWarning for w in caught)


def test_lines_appended_during_a_read_wait_for_the_next_read(tmp_path: Path) -> None:
    directory = _mixed(tmp_path)
    log = directory / EPISODES_NAME
    reading = iter_latest(log)
    assert next(reading)[0] == 1  # the index is made: four lines
    with resume(directory) as store:
        store.append(plan_resumption(log).next_attempt(episode_record("b", 0)))
    # Line 2 is still the latest of b#0 for this read: what it counts stays consistent.
    assert [line for line, _ in reading] == [2, 3, 4]
    assert [line for line, _ in iter_latest(log)] == [1, 3, 4, 5]


def test_latest_attempts_keeps_one_entry_per_key_fed_in_file_order(tmp_path: Path) -> None:
    attempts = LatestAttempts(tmp_path / EPISODES_NAME)
    assert attempts.add(1, ("a", 0), 1, None) is None
    assert attempts.add(2, ("a", 1), 1, None) is None
    attempts.skip(3)
    assert attempts.add(4, ("a", 0), 2, 1) == 1
    assert {key: attempt.line for key, attempt in attempts.latest.items()} == {
        ("a", 0): 4,
        ("a", 1): 2,
    }
    assert (attempts.last_line, attempts.superseded) == (4, 1)
    assert [attempts.is_latest(line) for line in (1, 2, 4)] == [False, True, True]


def test_the_index_reads_lines_in_any_key_order_as_it_reads_the_store_s(tmp_path: Path) -> None:
    directory = run_of(tmp_path, [episode_record("a", 0, reason=INFRA)])
    log = directory / EPISODES_NAME
    again = episode_record("a", 0).model_copy(update={"attempt": 2, "supersedes": 1})
    value = json.loads(again.model_dump_json())
    rest = {key: item for key, item in value.items() if key not in ("attempt", "supersedes")}
    # Written by hand: the attempt fields after tokens_offset; a nested tokens_offset first.
    after = {**rest, "attempt": 2, "supersedes": 1}
    nested = {"note": {"x": 1, "tokens_offset": 3}, **value}
    for line in (after, nested, value):
        compact = json.dumps(line, separators=(",", ":"))
        log.write_text(log.read_text().splitlines()[0] + "\n" + compact + "\n")
        index = index_attempts(log)
        assert (index.latest[("a", 0)].line, index.superseded_by(1)) == (2, 2)
