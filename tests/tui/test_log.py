"""The episode index: read once, extended as lines are appended, episodes loaded on demand."""

from __future__ import annotations

from pathlib import Path

import pytest

from policy_agent.trajectory import CorruptLine, NotARun, RecordInvalid
from policy_agent.tui import EpisodeNotFound, ListedEpisode, ReplayRun, resolve_run
from tests.tui._runs import RUN_ID, all_episodes, failed, successful, write_run


def test_the_index_summarises_every_episode(fixture_run: Path) -> None:
    log = ReplayRun(fixture_run).log
    new = log.poll()
    assert new == log.entries
    assert [e.id for e in new] == [
        "card_triplet_cribs#0",
        "card_triplet_cribs#1",
        "twins_upgrade_for_cribs#0",
        "crib_limit_partial#0",
    ]
    assert [e.line for e in new] == [1, 2, 3, 4]
    assert [e.success for e in new] == [True, False, False, False]
    assert [e.reward for e in new] == [1.0, 0.0, None, None]
    assert [e.termination.value for e in new] == [
        "user_stop",
        "user_stop",
        "max_steps",
        "user_error",
    ]
    assert [e.turns for e in new] == [15, 11, 7, 2]
    assert [e.violations for e in new] == [0, 1, 0, 0]
    assert new[1].codes == ("multiple_tool_calls",)
    assert log.poll() == []  # nothing appended since
    assert log.problems == [] and log.pending_bytes == 0


def test_an_entry_loads_its_whole_episode_again(fixture_run: Path) -> None:
    log = ReplayRun(fixture_run).log
    log.poll()
    assert [log.load(entry) for entry in log.entries] == all_episodes()


def test_find_takes_an_id_or_a_line_number(fixture_run: Path) -> None:
    log = ReplayRun(fixture_run).log
    log.poll()
    assert log.find("card_triplet_cribs#1") is log.entries[1]
    assert log.find("2") is log.entries[1]
    with pytest.raises(EpisodeNotFound, match=r"no episode 'card_triplet_cribs#7' among its 4"):
        log.find("card_triplet_cribs#7")
    with pytest.raises(EpisodeNotFound, match="no line 9"):
        log.find("9")
    with pytest.raises(ValueError, match="TASK_ID#TRIAL"):
        log.find("card_triplet_cribs")


def test_batches_read_the_log_a_few_lines_at_a_time(fixture_run: Path) -> None:
    log = ReplayRun(fixture_run).log
    assert [e.line for e in log.poll(max_lines=3)] == [1, 2, 3]
    assert log.pending_bytes > 0
    assert [e.line for e in log.poll(max_lines=3)] == [4]
    assert log.poll(max_lines=3) == [] and log.pending_bytes == 0


def test_a_line_being_written_is_read_once_it_is_whole(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    log = ReplayRun(run).log
    assert len(log.poll()) == 1
    line = failed().model_dump_json().encode() + b"\n"
    episodes = run / "episodes.jsonl"
    with episodes.open("ab") as file:
        file.write(line[:100])
    assert log.poll() == [] and log.pending_bytes == 100
    with episodes.open("ab") as file:
        file.write(line[100:])
    [entry] = log.poll()
    assert entry.id == "card_triplet_cribs#1" and entry.line == 2
    assert log.load(entry) == failed()
    assert log.problems == []


def test_bad_lines_are_reported_and_skipped_not_fatal(tmp_path: Path) -> None:
    run = write_run(tmp_path, [successful()])
    with (run / "episodes.jsonl").open("ab") as file:
        file.write(b"{not json\n")
        file.write(b"[1, 2]\n")
        file.write(b'{"kind": "episode", "task_id": "x"}\n')
        file.write(failed().model_dump_json().encode() + b"\n")
    log = ReplayRun(run).log
    assert [e.line for e in log.poll()] == [1, 5]
    first, second, third = log.problems
    assert isinstance(first, CorruptLine) and first.line == 2 and "not valid JSON" in str(first)
    assert isinstance(second, CorruptLine) and "a JSON list, not an object" in str(second)
    assert isinstance(third, RecordInvalid) and third.line == 4
    assert "trial: Field required" in str(third) and "more)" in str(third)


def test_a_run_is_a_folder_or_a_run_id_under_runs(
    fixture_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert resolve_run(str(fixture_run)) == fixture_run
    monkeypatch.chdir(tmp_path)
    Path("runs").symlink_to(fixture_run.parent)
    assert resolve_run(RUN_ID) == Path("runs") / RUN_ID
    with pytest.raises(NotARun, match=r"nowhere: .*no such folder, nor runs/nowhere"):
        resolve_run("nowhere")
    with pytest.raises(NotARun, match=r"there is no run\.json"):
        ReplayRun(tmp_path)


def test_a_log_made_without_search_keeps_no_text_and_the_same_summaries(
    fixture_run: Path,
) -> None:
    searchable = ReplayRun(fixture_run).log
    searchable.poll()
    printed = ReplayRun(fixture_run, searchable=False).log
    printed.poll()
    assert all(searchable.text(entry) for entry in searchable.entries)
    assert [printed.text(entry) for entry in printed.entries] == [""] * 4
    assert searchable.entries == printed.entries  # where its text is kept is not compared


def test_the_search_texts_are_kept_on_disk_and_read_back_as_made(fixture_run: Path) -> None:
    log = ReplayRun(fixture_run).log
    log.poll()
    episodes = [log.load(entry, tokens=False) for entry in log.entries]
    assert [log.text(entry) for entry in log.entries] == [
        ListedEpisode.of(episode).search_text() for episode in episodes
    ]
    assert all(entry.text_size > 0 for entry in log.entries)
