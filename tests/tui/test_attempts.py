"""The replay's list and `show` hold each episode's latest attempt: an attempt a resume ran again
leaves the list, even while the replay follows the resume, and is still shown by its line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.records import Episode, TerminationReason
from policy_agent.trajectory import AttemptConflict
from policy_agent.tui import EpisodeFilter, ReplayRun
from tests.tui._runs import failed, successful, write_run
from tests.tui.test_app import replay, rows, until


def _lost(episode: Episode) -> Episode:
    """`episode` as an infrastructure failure (the kind a resume runs again)."""
    return episode.model_copy(
        update={"termination_reason": TerminationReason.INFRASTRUCTURE_ERROR, "reward": None}
    )


def _again(episode: Episode, line: int, attempt: int = 2) -> bytes:
    again = episode.model_copy(update={"attempt": attempt, "supersedes": line})
    return again.model_dump_json().encode() + b"\n"


def _append(run: Path, data: bytes) -> None:
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(data)


def test_a_superseded_attempt_leaves_the_list(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    _append(run, _again(successful(), 1))
    log = ReplayRun(run).log
    log.poll()
    assert [(e.id, e.line, e.attempt) for e in log.entries] == [
        ("card_triplet_cribs#1", 2, 1),
        ("card_triplet_cribs#0", 3, 2),
    ]
    assert list(log.superseded) == [1]
    assert log.find("card_triplet_cribs#0").line == 3, "an id names the latest attempt"
    assert log.find("1").termination is TerminationReason.INFRASTRUCTURE_ERROR
    assert log.problems == []


def test_a_supersession_in_a_later_poll_takes_the_entry_out(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    log = ReplayRun(run).log
    assert [e.line for e in log.poll()] == [1, 2]
    _append(run, _again(successful(), 1))
    assert [e.line for e in log.poll()] == [3]
    assert [e.line for e in log.entries] == [2, 3]
    assert [e.line for e in log.poll(max_lines=1)] == []


def test_batches_see_a_supersession_within_the_batch(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    _append(run, _again(successful(), 1))
    log = ReplayRun(run).log
    assert [e.line for e in log.poll(max_lines=1)] == [1]
    assert [e.line for e in log.poll(max_lines=5)] == [2, 3]
    assert [e.line for e in log.entries] == [2, 3]


def test_a_copied_line_is_a_problem_and_both_stay_listed(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    _append(run, successful().model_dump_json().encode() + b"\n")
    log = ReplayRun(run).log
    log.poll()
    assert [e.line for e in log.entries] == [1, 2]
    [problem] = log.problems
    assert isinstance(problem, AttemptConflict) and problem.line == 2


def test_show_lists_the_latest_attempts_and_says_how_many_are_superseded(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    _append(run, _again(successful(), 1))
    result = CliRunner().invoke(main, ["show", str(run), "--plain", "--width", "100"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "20250603-090000-hotel-abc123: 2 of 4 episodes, 1 failed (1 earlier attempts "
        "superseded, not listed)"
    )
    assert [line.split()[:2] for line in lines[2:4]] == [
        ["2", "card_triplet_cribs#1"],
        ["3", "card_triplet_cribs#0"],
    ]
    earlier = CliRunner().invoke(main, ["show", str(run), "-e", "1", "--plain"])
    assert earlier.stdout.startswith("card_triplet_cribs#0  ✗ —  infrastructure_error")


async def test_the_followed_list_drops_an_attempt_a_resume_supersedes(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    async with replay(run, follow=True, poll_seconds=0.05) as (app, pilot):
        assert rows(app) == ["card_triplet_cribs#0", "card_triplet_cribs#1"]
        _append(run, _again(successful(), 1))
        await until(lambda: app.entries[-1].line == 3, pilot)
        assert rows(app) == ["card_triplet_cribs#1", "card_triplet_cribs#0"]
        assert [entry.line for entry in app.entries] == [2, 3]


def test_a_run_of_one_episode_shows_its_latest_attempt(tmp_path: Path) -> None:
    # One episode, run again by a resume: `show RUN` showed line 1, the lost attempt.
    run = write_run(tmp_path, [_lost(successful())])
    _append(run, _again(successful(), 1))
    result = CliRunner().invoke(main, ["show", str(run), "--plain"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("card_triplet_cribs#0  ✓ 1.00  user_stop")


def test_the_stream_keeps_no_entry_and_says_which_lines_were_superseded(tmp_path: Path) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    _append(run, _again(successful(), 1))
    log = ReplayRun(run).log
    assert [(e.line, e.attempt) for e in log.stream()] == [(1, 1), (2, 1), (3, 2)]
    assert log.entries == [] and log.superseded == {}
    assert log.superseded_lines == {1}
    _append(run, _again(failed(), 2))
    assert [e.line for e in log.stream()] == [4], "a later stream reads what was appended"
    assert log.superseded_lines == {1, 2}


def test_without_a_writable_temporary_folder_the_lists_keep_their_rows_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = write_run(tmp_path, [_lost(successful()), failed()])
    _append(run, _again(successful(), 1))
    listed = CliRunner().invoke(main, ["show", str(run), "--plain", "--width", "100"])
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "no such folder"))
    assert CliRunner().invoke(main, ["show", str(run), "--plain", "--width", "100"]).stdout == (
        listed.stdout
    )
    log = ReplayRun(run).log
    log.poll()
    assert [EpisodeFilter.parse("never mind").matches(e, log.text) for e in log.entries] == [
        True,
        False,
    ]
