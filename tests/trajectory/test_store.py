"""RunStore: create, open, append, read, torn tails, corrupt lines, locking."""

from __future__ import annotations

import asyncio
import json
import os
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from policy_agent.trajectory import (
    EPISODES_NAME,
    MANIFEST_NAME,
    CorruptLine,
    NotARun,
    RecordInvalid,
    RunExists,
    RunLocked,
    RunStore,
    RunStoreError,
    RunStoreWarning,
    config_hash,
)

from ._support import (
    CONFIG,
    DOMAIN_HASH,
    EXCLUDE,
    NOW,
    Episode,
    make_manifest,
    new_run,
    payload_for,
)

HASH = config_hash(CONFIG, exclude=EXCLUDE)


def _episodes(count: int, *, size: int = 10) -> list[Episode]:
    return [
        Episode(task_id=f"t{i // 2}", trial=i % 2, payload=payload_for(i, size))
        for i in range(count)
    ]


def _run_with(tmp_path: Path, episodes: list[Episode]) -> Path:
    with new_run(tmp_path) as store:
        for episode in episodes:
            store.append(episode)
    return store.directory


def test_create_makes_the_run_directory(tmp_path: Path) -> None:
    manifest = make_manifest()
    with RunStore.create(tmp_path / "runs", manifest) as store:
        assert store.directory == tmp_path / "runs" / manifest.run_id
        assert store.writable
        assert sorted(p.name for p in store.directory.iterdir()) == [EPISODES_NAME, MANIFEST_NAME]
        assert store.episodes_path.read_bytes() == b""
    assert not store.writable


def test_create_refuses_to_overwrite_a_run(tmp_path: Path) -> None:
    manifest = make_manifest()
    RunStore.create(tmp_path, manifest).close()
    (tmp_path / manifest.run_id / EPISODES_NAME).write_text('{"task_id":"t","trial":0}\n')
    with pytest.raises(RunExists, match=rf"{manifest.run_id}: a run with this id already exists"):
        RunStore.create(tmp_path, manifest)
    assert (tmp_path / manifest.run_id / EPISODES_NAME).read_text() == '{"task_id":"t","trial":0}\n'


def test_appended_records_read_back_equal_one_line_each(tmp_path: Path) -> None:
    episodes = _episodes(5)
    directory = _run_with(tmp_path, episodes)
    lines = (directory / EPISODES_NAME).read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) == 6
    assert lines[0] == episodes[0].model_dump_json().encode()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        store = RunStore.open(directory)
        assert store.read(Episode) == episodes
        assert [(line.number, line.value) for line in store.iter_lines()] == [
            (i + 1, e.model_dump(mode="json")) for i, e in enumerate(episodes)
        ]
    assert store.find_torn_tail() is None
    assert store.repaired is None
    assert store.manifest == RunStore.open(directory).manifest


def test_text_with_newlines_and_any_unicode_stays_on_one_line(tmp_path: Path) -> None:
    episode = Episode(task_id="t\n1", trial=0, payload="a\nb\r\u2028\u0085ü😀\x00")
    directory = _run_with(tmp_path, [episode, episode])
    assert (directory / EPISODES_NAME).read_bytes().count(b"\n") == 2
    assert RunStore.open(directory).read(Episode) == [episode, episode]


def test_open_is_read_only(tmp_path: Path) -> None:
    directory = _run_with(tmp_path, _episodes(1))
    store = RunStore.open(directory)
    assert not store.writable
    with pytest.raises(RunStoreError, match=r"this store cannot append: it was opened for"):
        store.append(_episodes(1)[0])
    with pytest.raises(RunStoreError, match=r"this store cannot finish the run: it was opened"):
        store.finish()


def test_open_refuses_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    with pytest.raises(NotARun, match=r"there is no run.json.*runs/<run-id>"):
        RunStore.open(tmp_path)
    directory = _run_with(tmp_path, [])
    (directory / EPISODES_NAME).unlink()
    with pytest.raises(NotARun, match=r"there is no episodes.jsonl"):
        RunStore.open(directory)


def test_finish_records_the_end_time(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.finish(now=NOW + timedelta(hours=1))
    assert RunStore.open(store.directory).manifest.finished_at == NOW + timedelta(hours=1)


@pytest.mark.parametrize(
    ("tail", "reason"),
    [
        (b'{"task_id":"t9","tri', "it does not end with a newline"),
        (b'{"task_id":"t9","trial":1}', "it does not end with a newline"),
        (b'{"task_id":"t9","tri\x00\x00\x00\n', "it is not valid JSON"),
        (b"\x00" * 4096, "it does not end with a newline"),
        (b"\n", "it is not valid JSON"),
    ],
)
def test_a_torn_last_line_is_dropped_with_a_warning(
    tmp_path: Path, tail: bytes, reason: str
) -> None:
    episodes = _episodes(3)
    directory = _run_with(tmp_path, episodes)
    path = directory / EPISODES_NAME
    whole = path.read_bytes()
    with path.open("ab") as file:
        file.write(tail)
    store = RunStore.open(directory)
    torn = store.find_torn_tail()
    assert torn is not None
    assert (torn.line, torn.offset, torn.size, torn.reason) == (4, len(whole), len(tail), reason)
    with pytest.warns(
        RunStoreWarning, match=rf"episodes.jsonl:4: the last line .* is torn: {reason}"
    ):
        assert store.read(Episode) == episodes
    with pytest.warns(RunStoreWarning, match=r"is torn"):
        assert [line.number for line in store.iter_lines()] == [1, 2, 3]
    assert path.read_bytes() == whole + tail, "reading must not modify the file"


def test_resume_truncates_a_torn_tail_so_appending_continues_cleanly(tmp_path: Path) -> None:
    episodes = _episodes(3)
    directory = _run_with(tmp_path, episodes)
    path = directory / EPISODES_NAME
    whole = path.read_bytes()
    with path.open("ab") as file:
        file.write(b'{"task_id":"t1","trial":1,"payl')
    with pytest.warns(RunStoreWarning, match=r"episodes.jsonl:4: the last line .* is torn"):
        store = RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
    assert store.repaired is not None and store.repaired.line == 4
    assert store.find_torn_tail() is None
    assert path.read_bytes() == whole
    extra = Episode(task_id="t1", trial=1)
    store.append(extra)
    store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RunStore.open(directory).read(Episode) == [*episodes, extra]


@pytest.mark.parametrize(
    ("bad", "detail"),
    [
        (b'{"task_id":"t9","tri\n', "not valid JSON"),
        (b"\n", "not valid JSON"),
        (b"\xff\xfe\n", "not valid JSON"),
        (b"[1, 2]\n", "a JSON list, not an object"),
    ],
)
def test_a_corrupt_line_before_the_last_is_an_error_naming_it(
    tmp_path: Path, bad: bytes, detail: str
) -> None:
    directory = _run_with(tmp_path, _episodes(2))
    path = directory / EPISODES_NAME
    with path.open("ab") as file:
        file.write(bad + _episodes(1)[0].model_dump_json().encode() + b"\n")
    store = RunStore.open(directory)
    with pytest.raises(CorruptLine, match=rf"episodes.jsonl:3: corrupt line \({detail}") as caught:
        list(store.iter_lines())
    assert caught.value.line == 3
    with pytest.raises(CorruptLine, match=rf"episodes.jsonl:3: corrupt line \({detail}") as caught:
        store.read(Episode)
    assert caught.value.line == 3


def test_a_line_of_another_schema_is_an_error_naming_it(tmp_path: Path) -> None:
    directory = _run_with(tmp_path, _episodes(1))
    with (directory / EPISODES_NAME).open("ab") as file:
        file.write(b'{"task_id":"t9","trial":"second"}\n')
    with pytest.raises(RecordInvalid, match=r"episodes.jsonl:2: not a valid Episode: trial: ") as e:
        RunStore.open(directory).read(Episode)
    assert e.value.line == 2


def test_a_second_writer_is_refused_while_the_first_holds_the_run(tmp_path: Path) -> None:
    store = new_run(tmp_path)
    with pytest.raises(RunLocked, match=r"another process is writing this run"):
        RunStore.resume(store.directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
    RunStore.open(store.directory).read(Episode)
    store.close()
    RunStore.resume(store.directory, config_hash=HASH, domain_hash=DOMAIN_HASH).close()


def test_a_write_that_fails_part_way_leaves_no_partial_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = new_run(tmp_path)
    first, second, third = _episodes(3, size=1000)
    store.append(first)
    real_write = os.write

    def write_half_then_fail(handle: int, data: bytes) -> int:
        if len(data) > 600:
            return real_write(handle, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "write", write_half_then_fail)
    with pytest.raises(OSError, match=r"No space left"):
        store.append(second)
    monkeypatch.undo()
    store.append(third)
    store.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert RunStore.open(store.directory).read(Episode) == [first, third]


def test_a_short_write_is_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = new_run(tmp_path)
    real_write = os.write

    def write_100_bytes(handle: int, data: bytes) -> int:
        return real_write(handle, bytes(data[:100]))

    monkeypatch.setattr(os, "write", write_100_bytes)
    episode = _episodes(1, size=1000)[0]
    store.append(episode)
    store.close()
    assert RunStore.open(store.directory).read(Episode) == [episode]


async def test_appends_from_200_tasks_never_interleave(tmp_path: Path) -> None:
    store = new_run(tmp_path, fsync=True)
    # Sizes up to 256 kB, so that a write spans many pages and could interleave if unguarded.
    episodes = [
        Episode(task_id=f"t{i}", trial=0, payload=payload_for(i, (i * 7919) % 262144))
        for i in range(200)
    ]

    async def finish(episode: Episode) -> None:
        await asyncio.sleep(0)
        await asyncio.to_thread(store.append, episode)

    await asyncio.gather(*(finish(e) for e in episodes))
    store.close()
    raw = store.episodes_path.read_bytes()
    assert raw.count(b"\n") == 200
    read = RunStore.open(store.directory).read(Episode)
    assert sorted(read, key=lambda e: e.task_id) == sorted(episodes, key=lambda e: e.task_id)


def test_a_line_is_one_write_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    writes: list[bytes] = []
    real_write = os.write

    def spy(handle: int, data: bytes) -> int:
        writes.append(bytes(data))
        return real_write(handle, data)

    store = new_run(tmp_path)
    monkeypatch.setattr(os, "write", spy)
    episode = _episodes(1, size=300_000)[0]
    store.append(episode)
    assert writes == [episode.model_dump_json().encode() + b"\n"]
    assert json.loads(writes[0])["payload"] == episode.payload
