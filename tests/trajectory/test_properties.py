"""Properties of the episode log's reader, over any records and any point a crash may cut
(in `episodes.jsonl` and, for episodes with token traces, in `tokens.jsonl` too)."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from policy_agent import records
from policy_agent.trajectory import RunStore, RunStoreWarning, config_hash

from ._support import (
    CONFIG,
    DOMAIN_HASH,
    EXCLUDE,
    Episode,
    episode_record,
    episode_with_tokens,
    new_run,
)

episodes = st.lists(
    st.builds(Episode, task_id=st.text(max_size=8), trial=st.integers(0, 9), payload=st.text()),
    max_size=6,
)


@settings(max_examples=80, deadline=None)
@given(records=episodes, data=st.data())
def test_a_log_cut_anywhere_reads_as_the_lines_written_whole(
    records: list[Episode], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        with new_run(Path(folder)) as store:
            for record in records:
                store.append(record)
        log = store.episodes_path.read_bytes()
        cut = data.draw(st.integers(0, len(log)), label="cut")
        store.episodes_path.write_bytes(log[:cut])
        whole = log[:cut].count(b"\n")

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert RunStore.open(store.directory).read(Episode) == records[:whole]
        torn = bool(log[:cut].rsplit(b"\n", 1)[-1])  # bytes after the last newline kept
        assert [w.category for w in caught] == ([RunStoreWarning] if torn else [])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)
            RunStore.resume(
                store.directory,
                config_hash=config_hash(CONFIG, exclude=EXCLUDE),
                domain_hash=DOMAIN_HASH,
            ).close()
        assert store.episodes_path.read_bytes() == log[: log.rfind(b"\n", 0, cut) + 1]


@settings(max_examples=60, deadline=None)
@given(
    records=episodes.filter(bool), garbage=st.binary(min_size=1).filter(lambda b: b"\n" not in b)
)
def test_any_bytes_after_the_last_newline_are_a_torn_tail(
    records: list[Episode], garbage: bytes
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        with new_run(Path(folder)) as store:
            for record in records:
                store.append(record)
        with store.episodes_path.open("ab") as file:
            file.write(garbage)
        reader = RunStore.open(store.directory)
        torn = reader.find_torn_tail()
        assert torn is not None and torn.line == len(records) + 1 and torn.size == len(garbage)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert reader.read(Episode) == records
        assert [w.category for w in caught] == [RunStoreWarning]


def _two_file_run(folder: Path, sizes: list[int | None]) -> tuple[RunStore, list[records.Episode]]:
    """A run of one episode per size: with traces of that size, or none (None)."""
    written = [
        episode_record("t", trial) if size is None else episode_with_tokens("t", trial, size)
        for trial, size in enumerate(sizes)
    ]
    with new_run(folder) as store:
        for episode in written:
            store.append(episode)
    return store, written


@settings(max_examples=80, deadline=None)
@given(sizes=st.lists(st.one_of(st.none(), st.integers(0, 300)), max_size=6), data=st.data())
def test_a_crash_anywhere_in_the_two_file_append_reads_as_the_episodes_written_whole(
    sizes: list[int | None], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store, written = _two_file_run(Path(folder), sizes)
        log = store.episodes_path.read_bytes()
        tokens = store.tokens_path.read_bytes() if store.tokens_path.exists() else b""
        ends = [0]  # where each episode's token line ends (or the last end, without traces)
        for size in sizes:
            ends.append(ends[-1] if size is None else tokens.index(b"\n", ends[-1]) + 1)
        cut = data.draw(st.integers(0, len(log)), label="episodes cut")
        whole = log[:cut].count(b"\n")
        # Traces are on disk before their episode line: a crash keeps at least theirs.
        tokens_cut = data.draw(st.integers(ends[whole], len(tokens)), label="tokens cut")
        store.episodes_path.write_bytes(log[:cut])
        if store.tokens_path.exists():
            store.tokens_path.write_bytes(tokens[:tokens_cut])

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)
            read = [e for _, e in RunStore.open(store.directory).latest_episodes()]
            assert read == written[:whole]
            resumed = RunStore.resume(
                store.directory,
                config_hash=config_hash(CONFIG, exclude=EXCLUDE),
                domain_hash=DOMAIN_HASH,
            )
        assert store.episodes_path.read_bytes() == log[: log.rfind(b"\n", 0, cut) + 1]
        if store.tokens_path.exists():
            assert store.tokens_path.read_bytes() == tokens[: ends[whole]]
        following = episode_with_tokens("t", len(sizes), 7)
        with resumed:
            resumed.append(following)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read = [e for _, e in RunStore.open(store.directory).latest_episodes()]
        assert read == [*written[:whole], following]
