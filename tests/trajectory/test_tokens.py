"""tokens.jsonl: token traces beside the episode log, joined back by offset, both layouts read."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from policy_agent import records
from policy_agent.trajectory import (
    TOKENS_NAME,
    RunStore,
    RunStoreError,
    RunStoreWarning,
    TokensMissing,
    config_hash,
    generations,
    join_tokens,
    split_tokens,
)

from ._support import CONFIG, DOMAIN_HASH, EXCLUDE, episode_record, episode_with_tokens, new_run

HASH = config_hash(CONFIG, exclude=EXCLUDE)


def _resume(directory: Path) -> RunStore:
    return RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)


def test_split_takes_every_trace_in_order_and_join_puts_them_back() -> None:
    episode = episode_with_tokens("t", 0, size=5)
    stripped, traces = split_tokens(episode)
    assert [g.tokens for g in generations(episode)] == traces
    assert [trace is None for trace in traces] == [False, True, False]
    assert [g.tokens for g in generations(stripped)] == [None, None, None]
    assert join_tokens(stripped, traces) == episode


def test_an_episode_without_traces_is_not_split() -> None:
    episode = episode_record("t", 0)
    assert split_tokens(episode) == (episode, [])


def test_join_refuses_a_trace_count_that_is_not_the_generations() -> None:
    stripped, traces = split_tokens(episode_with_tokens("t", 0))
    with pytest.raises(ValueError, match="fewer than the episode's generations"):
        join_tokens(stripped, traces[:2])
    with pytest.raises(ValueError, match="more than the episode's generations"):
        join_tokens(stripped, [*traces, None])


def test_traces_go_to_tokens_jsonl_and_the_episode_line_keeps_their_offset(
    tmp_path: Path,
) -> None:
    episodes = [episode_with_tokens("a", 0), episode_record("b", 0), episode_with_tokens("c", 1)]
    with new_run(tmp_path) as store:
        for episode in episodes:
            store.append(episode)
    lines = [json.loads(line) for line in store.episodes_path.read_text().splitlines()]
    tokens = store.tokens_path.read_bytes()
    first_length = tokens.index(b"\n") + 1
    assert [line["tokens_offset"] for line in lines] == [0, None, first_length]
    generated = [m["generation"] for m in lines[0]["messages"] if m["generation"] is not None]
    assert [g["tokens"] for g in generated] == [None, None]
    assert b'"tokens":{' not in store.episodes_path.read_bytes()
    token_lines = [json.loads(line) for line in tokens.splitlines()]
    assert [(t["task_id"], t["trial"], t["attempt"]) for t in token_lines] == [
        ("a", 0, 1),
        ("c", 1, 1),
    ]
    assert [episode for _, episode in RunStore.open(store.directory).latest_episodes()] == episodes


def test_a_run_without_traces_has_no_tokens_file(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.append(episode_record("a", 0))
    assert sorted(p.name for p in store.directory.iterdir()) == ["episodes.jsonl", "run.json"]


def test_reading_without_tokens_never_opens_tokens_jsonl(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.append(episode_with_tokens("a", 0))
    store.tokens_path.unlink()
    [(_, episode)] = RunStore.open(store.directory).latest_episodes(tokens=False)
    assert [g.tokens for g in generations(episode)] == [None, None, None]
    assert episode.tokens_offset == 0
    with pytest.raises(TokensMissing, match=r"line 1 of episodes\.jsonl"):
        list(RunStore.open(store.directory).latest_episodes())


def test_an_old_run_with_inline_traces_reads_with_and_without_them(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        directory = store.directory
    episodes = [episode_with_tokens("a", 0), episode_with_tokens("b", 0)]
    # What the store wrote before tokens.jsonl existed: the traces inside each line.
    store.episodes_path.write_text("".join(e.model_dump_json() + "\n" for e in episodes))
    reader = RunStore.open(directory)
    assert [episode for _, episode in reader.latest_episodes()] == episodes
    skipped = [episode for _, episode in reader.latest_episodes(tokens=False)]
    assert skipped == [split_tokens(episode)[0] for episode in episodes]
    assert not reader.tokens_path.exists()


def test_a_resumed_old_run_puts_new_traces_in_tokens_jsonl_and_reads_both(
    tmp_path: Path,
) -> None:
    with new_run(tmp_path) as store:
        directory = store.directory
    old = episode_with_tokens("a", 0)
    store.episodes_path.write_text(old.model_dump_json() + "\n")
    with _resume(directory) as resumed:
        resumed.append(episode_with_tokens("b", 0))
    read = [episode for _, episode in RunStore.open(directory).latest_episodes()]
    assert read == [old, episode_with_tokens("b", 0)]
    assert json.loads(store.tokens_path.read_text())["task_id"] == "b"


def test_an_offset_at_another_episodes_traces_is_refused(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.append(episode_with_tokens("a", 0))
        store.append(episode_with_tokens("b", 0))
    lines = store.episodes_path.read_text().splitlines()
    second = json.loads(lines[1])
    second["tokens_offset"] = 0
    store.episodes_path.write_text(lines[0] + "\n" + json.dumps(second) + "\n")
    with pytest.raises(TokensMissing, match="holds attempt 1 of a#0, not attempt 1 of b#0"):
        list(RunStore.open(store.directory).latest_episodes())


def test_an_episode_pointing_into_another_runs_traces_cannot_be_appended(
    tmp_path: Path,
) -> None:
    with new_run(tmp_path / "one") as store:
        store.append(episode_with_tokens("a", 0))
    [(_, skipped)] = RunStore.open(store.directory).latest_episodes(tokens=False)
    with new_run(tmp_path / "two") as other, pytest.raises(RunStoreError, match="tokens=True"):
        other.append(skipped)


def test_resume_cuts_traces_whose_episode_line_never_landed(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.append(episode_with_tokens("a", 0))
    kept = store.tokens_path.read_bytes()
    # A crash after the second episode's traces were written, before (or during) its line.
    with new_run(tmp_path / "scratch") as scratch:
        scratch.append(episode_with_tokens("b", 0))
    orphan = scratch.tokens_path.read_bytes()
    with store.tokens_path.open("ab") as file:
        file.write(orphan + orphan[:10])
    with store.episodes_path.open("ab") as file:
        file.write(b'{"kind":"episode","task_id":"b"')
    with pytest.warns(RunStoreWarning) as caught, _resume(store.directory) as resumed:
        assert resumed.repaired_tokens is not None
        assert resumed.repaired_tokens.size == len(orphan) + 10
        resumed.append(episode_with_tokens("b", 0))
    assert [str(w.message).split(":")[0] for w in caught] == [
        str(store.episodes_path),
        str(store.tokens_path),
    ]
    assert store.tokens_path.read_bytes() == kept + orphan
    read = [episode for _, episode in RunStore.open(store.directory).latest_episodes()]
    assert read == [episode_with_tokens("a", 0), episode_with_tokens("b", 0)]


def test_resume_with_every_trace_referenced_cuts_nothing(tmp_path: Path) -> None:
    with new_run(tmp_path) as store:
        store.append(episode_with_tokens("a", 0))
        store.append(episode_record("b", 0))
    before = store.tokens_path.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with _resume(store.directory) as resumed:
            assert resumed.repaired_tokens is None
    assert store.tokens_path.read_bytes() == before


def test_a_re_run_attempt_keeps_its_own_traces(tmp_path: Path) -> None:
    lost = records.TerminationReason.INFRASTRUCTURE_ERROR
    with new_run(tmp_path) as store:
        store.append(episode_with_tokens("a", 0, reason=lost))
        again = episode_with_tokens("a", 0, attempt=2).model_copy(update={"supersedes": 1})
        store.append(again)
    assert [e for _, e in RunStore.open(store.directory).latest_episodes()] == [again]
    assert store.tokens_path.name == TOKENS_NAME
