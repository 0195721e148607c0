"""`episodes.index`: built by the first reader, extended after appends, rebuilt when the file was
replaced, never written for a read-only folder or a torn or bad line; always what
`index_attempts` says."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policy_agent.records import TerminationReason
from policy_agent.trajectory import (
    EPISODES_NAME,
    INDEX_NAME,
    AttemptConflict,
    LatestAttempts,
    RunIndex,
    index_attempts,
    load_index,
    plan_resumption,
)

from ._filesystems import tmpfs
from ._support import episode_record, episode_with_tokens, resume, run_of

INFRA = TerminationReason.INFRASTRUCTURE_ERROR


def _rows(index: RunIndex) -> list[tuple[int, str, int, int, int | None]]:
    return [(r.line, *r.key, r.attempt, r.supersedes) for r in index.lines]


def _same(found: LatestAttempts, expected: LatestAttempts, lines: int) -> None:
    assert dict(found.latest) == dict(expected.latest)
    assert found.last_line == expected.last_line
    assert found.superseded == expected.superseded
    assert [found.superseded_by(n) for n in range(1, lines + 2)] == [
        expected.superseded_by(n) for n in range(1, lines + 2)
    ]


def test_the_first_reader_builds_it_and_the_next_reads_it(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0), episode_record("b", 0)])
    episodes = run / EPISODES_NAME
    built = load_index(episodes)
    assert built.source == "built" and built.unwritten is None
    assert (run / INDEX_NAME).is_file()
    assert _rows(built) == [(1, "a", 0, 1, None), (2, "b", 0, 1, None)]
    data = episodes.read_bytes()
    for row in built.lines:
        line = data[row.offset : row.offset + row.size]
        assert line.endswith(b"\n") and json.loads(line)["task_id"] == row.key[0]
    again = load_index(episodes)
    assert again.source == "read" and again.lines == built.lines


def test_an_append_extends_it_from_where_it_ended(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0, INFRA), episode_record("b", 0)])
    episodes = run / EPISODES_NAME
    before = load_index(episodes)
    with resume(run) as store:
        store.append(plan_resumption(episodes).next_attempt(episode_record("a", 0)))
    extended = load_index(episodes)
    assert extended.source == "extended"
    assert extended.lines[:2] == before.lines
    assert _rows(extended)[2] == (3, "a", 0, 2, 1)
    assert extended.attempts().latest[("a", 0)].line == 3
    assert load_index(episodes).source == "read"


def test_traces_in_tokens_jsonl_do_not_change_it(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_with_tokens("a", 0), episode_with_tokens("a", 1)])
    index = load_index(run / EPISODES_NAME)
    assert _rows(index) == [(1, "a", 0, 1, None), (2, "a", 1, 1, None)]


def test_a_replaced_file_is_indexed_again(tmp_path: Path) -> None:
    first = run_of(tmp_path / "one", [episode_record("a", 0), episode_record("b", 0)])
    other = run_of(tmp_path / "two", [episode_record("c", 0), episode_record("dd", 1)])
    load_index(first / EPISODES_NAME)
    (first / EPISODES_NAME).write_bytes((other / EPISODES_NAME).read_bytes())
    rebuilt = load_index(first / EPISODES_NAME)
    assert rebuilt.source == "built"
    assert [row.key for row in rebuilt.lines] == [("c", 0), ("dd", 1)]


def test_a_shorter_file_is_indexed_again(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0), episode_record("b", 0)])
    episodes = run / EPISODES_NAME
    load_index(episodes)
    first = episodes.read_bytes().splitlines(keepends=True)[0]
    episodes.write_bytes(first)
    rebuilt = load_index(episodes)
    assert rebuilt.source == "built" and _rows(rebuilt) == [(1, "a", 0, 1, None)]


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",
        lambda data: data[: len(data) // 2],
        lambda data: b"not json\n" + data.partition(b"\n")[2],
        lambda data: data.replace(b'"format":1', b'"format":2'),
        lambda data: data.replace(b"[0,", b"[5,"),
        lambda data: data + b'[1,"x",0,1,null]\n',
    ],
    ids=["empty", "cut", "bad header", "another format", "wrong offset", "one row too many"],
)
def test_an_unreadable_index_is_built_again(tmp_path: Path, damage: object) -> None:
    run = run_of(tmp_path, [episode_record("a", 0), episode_record("b", 0)])
    episodes = run / EPISODES_NAME
    expected = _rows(load_index(episodes))
    index = run / INDEX_NAME
    assert callable(damage)
    index.write_bytes(damage(index.read_bytes()))
    rebuilt = load_index(episodes)
    assert rebuilt.source == "built" and _rows(rebuilt) == expected
    assert load_index(episodes).source == "read"


def test_a_torn_last_line_is_answered_by_scanning_and_not_written(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0), episode_record("b", 0)])
    episodes = run / EPISODES_NAME
    with episodes.open("ab") as file:
        file.write(episode_record("c", 0).model_dump_json().encode()[:40])
    index = load_index(episodes)
    assert index.source == "scanned" and not (run / INDEX_NAME).exists()
    assert index.torn is not None and index.torn.line == 3
    assert index.unwritten is not None and "line 3) is torn" in index.unwritten
    assert _rows(index) == [(1, "a", 0, 1, None), (2, "b", 0, 1, None)]


def test_a_torn_line_after_an_index_leaves_the_index_as_it_was(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0)])
    episodes = run / EPISODES_NAME
    load_index(episodes)
    written = (run / INDEX_NAME).read_bytes()
    with episodes.open("ab") as file:
        file.write(b'{"task_id": "b", "tri')
    index = load_index(episodes)
    assert index.source == "scanned" and [r.key for r in index.lines] == [("a", 0)]
    assert (run / INDEX_NAME).read_bytes() == written


def test_a_line_that_is_no_episode_is_skipped_and_nothing_written(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0)])
    episodes = run / EPISODES_NAME
    with episodes.open("ab") as file:
        file.write(b"[1, 2]\n")
        file.write(episode_record("b", 0).model_dump_json().encode() + b"\n")
    index = load_index(episodes)
    assert index.source == "scanned" and index.skipped == (2,)
    assert index.unwritten is not None and "line 2 is not an episode" in index.unwritten
    assert not (run / INDEX_NAME).exists()
    _same(index.attempts(), index_attempts(episodes), 3)


def test_a_copied_line_is_a_conflict_as_index_attempts_says(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0), episode_record("a", 0)])
    episodes = run / EPISODES_NAME
    with pytest.raises(AttemptConflict) as expected:
        index_attempts(episodes)
    with pytest.raises(AttemptConflict) as found:
        load_index(episodes).attempts()
    assert str(found.value) == str(expected.value)


def test_a_read_only_folder_is_read_and_never_written(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", size_kb=256) as folder:
        run = run_of(folder, [episode_record("a", 0), episode_record("b", 0)])
        subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        index = load_index(run / EPISODES_NAME)
        assert index.source == "built"
        assert index.unwritten is not None and "read-only file system" in index.unwritten
        assert _rows(index) == [(1, "a", 0, 1, None), (2, "b", 0, 1, None)]
        assert sorted(path.name for path in run.iterdir()) == [EPISODES_NAME, "run.json"]


def test_one_line_at_a_time_it_is_extended_and_stays_true(tmp_path: Path) -> None:
    run = run_of(tmp_path, [])
    episodes = run / EPISODES_NAME
    assert load_index(episodes).lines == ()
    with resume(run) as store:
        for trial in range(3):
            store.append(episode_record("a", trial))
            index = load_index(episodes)
            assert index.source == "extended" and len(index.lines) == trial + 1


# One step of a run's life: a first attempt of a new key, or a re-run of a key's latest attempt
# (the store supersedes it), each ending normally or lost to infrastructure; now and then a
# line no store writes (a bad one: no index is written while it is there).
_STEPS = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5), st.booleans(), st.booleans()),
    max_size=25,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=_STEPS,
    read_every=st.integers(min_value=1, max_value=6),
    bad_at=st.none() | st.integers(min_value=0, max_value=25),
    torn=st.booleans(),
)
def test_it_agrees_with_index_attempts_over_appends_and_retries(
    tmp_path_factory: pytest.TempPathFactory,
    steps: list[tuple[int, bool, bool]],
    read_every: int,
    bad_at: int | None,
    torn: bool,
) -> None:
    run = run_of(tmp_path_factory.mktemp("runs"), [])
    episodes = run / EPISODES_NAME
    latest: dict[tuple[str, int], tuple[int, int]] = {}
    written = 0
    with resume(run) as store:
        for step, (trial, again, lost) in enumerate(steps):
            if step == bad_at:
                with episodes.open("ab") as file:
                    file.write(b'{"not": "an episode"}\n')
                written += 1
            key = ("t", trial)
            reason = INFRA if lost else TerminationReason.USER_STOP
            episode = episode_record(*key, reason)
            if again and key in latest:
                line, attempt = latest[key]
                episode = episode.model_copy(update={"attempt": attempt + 1, "supersedes": line})
            elif key in latest:
                continue
            store.append(episode)
            written += 1
            latest[key] = (written, episode.attempt)
            if step % read_every == 0:
                _same(load_index(episodes).attempts(), index_attempts(episodes), written)
    if torn:
        with episodes.open("ab") as file:
            file.write(episode_record("t", 99).model_dump_json().encode()[:30])
    index = load_index(episodes)
    clean = (bad_at is None or bad_at >= len(steps)) and not torn
    assert (index.unwritten is None) == clean
    _same(index.attempts(), index_attempts(episodes), written)
    assert {key: (a.line, a.attempt) for key, a in index.attempts().latest.items()} == latest


def test_readers_racing_a_writer_and_each_other_see_whole_true_indexes(tmp_path: Path) -> None:
    run = run_of(tmp_path, [])
    episodes = run / EPISODES_NAME
    seen: list[RunIndex] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            seen.append(load_index(episodes))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        with resume(run) as store:
            for trial in range(150):
                store.append(episode_record("t", trial))
    finally:
        done.set()
        for reader in readers:
            reader.join()
    final = load_index(episodes)
    assert final.source in ("read", "extended") and len(final.lines) == 150
    # Each answer is true of the file as that reader read it: a prefix of the final one.
    assert seen and all(index.lines == final.lines[: len(index.lines)] for index in seen)


def test_a_resume_deletes_the_temporary_index_of_a_killed_reader(tmp_path: Path) -> None:
    run = run_of(tmp_path, [episode_record("a", 0)])
    stale = run / f".{INDEX_NAME}.k1ll3d.tmp"
    stale.write_bytes(b'{"format":1,')
    resume(run).close()
    assert not stale.exists()
    assert load_index(run / EPISODES_NAME).source == "built"
