"""Crash safety against real SIGKILLs: a forked child appends (to episodes.jsonl, and with token
traces to tokens.jsonl first), or rewrites run.json, until killed.

Each round kills the child at a seeded random moment, then checks what the issue promises: every
line before the tail intact, at most the last line dropped, no episode duplicated or lost (every
append the child saw return is on disk), a manifest that is the old or the new one, and a resume
after which appending goes on cleanly. A fork (not a fresh interpreter) keeps a round short.
"""

from __future__ import annotations

import os
import random
import signal
import time
import traceback
import warnings
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Generic, NoReturn, TypeVar

import pytest

from policy_agent import records
from policy_agent.records import TerminationReason
from policy_agent.trajectory import (
    MANIFEST_NAME,
    TOKENS_NAME,
    RunStore,
    RunStoreWarning,
    config_hash,
    find_unreferenced_tokens,
    plan_resumption,
)

from ._support import (
    CONFIG,
    DOMAIN_HASH,
    EXCLUDE,
    NOW,
    Episode,
    episode_record,
    episode_with_tokens,
    new_run,
    payload_for,
)

HASH = config_hash(CONFIG, exclude=EXCLUDE)
AckT = TypeVar("AckT")


def _episode(trial: int, largest: int) -> Episode:
    """Lines from 100 bytes to `largest`: SIGKILL can cut a big write short (a real torn tail)."""
    size = random.Random(trial).choice([100, 5_000, 300_000, largest])
    return Episode(task_id="t", trial=trial, payload=payload_for(trial, size))


class _Child(Generic[AckT]):
    """A forked child running `work(ack_fd)` until killed, and the acknowledgements it wrote
    (one a line, each read with `parse`: an int, unless told otherwise)."""

    def __init__(
        self,
        work: Callable[[int], None],
        parse: Callable[[bytes], AckT] = int,  # type: ignore[assignment]
    ) -> None:
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover  (the child never returns to pytest)
            os.close(read_end)
            _run_child(work, write_end)
        os.close(write_end)
        self._pipe = os.fdopen(read_end, "rb")
        self._parse = parse
        self.acks: list[AckT] = []

    def wait_for_acks(self, count: int) -> None:
        """Block until the child has acknowledged `count` more items (or has died)."""
        for _ in range(count):
            line = self._pipe.readline()
            if not line:
                return
            self.acks.append(self._parse(line))

    def kill_after(self, seconds: float) -> None:
        """SIGKILL the child after `seconds`, then collect every acknowledgement it wrote."""
        time.sleep(seconds)
        os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
            f"the child ended by itself (status {status}) before it was killed: see its traceback"
        )
        self.acks.extend(self._parse(line) for line in self._pipe.read().splitlines())
        self._pipe.close()


def _run_child(work: Callable[[int], None], ack_fd: int) -> NoReturn:
    try:
        work(ack_fd)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)


def _append_forever(directory: Path, largest: int) -> Callable[[int], None]:
    def work(ack_fd: int) -> None:
        store = RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
        trial = len(store.read(Episode))
        while True:
            store.append(_episode(trial, largest))
            os.write(ack_fd, f"{trial}\n".encode())
            trial += 1

    return work


def _kill_appending_children(directory: Path, *, rounds: int, seed: int, largest: int) -> int:
    """Kill `rounds` appending children in turn, checking the log after each; the lines kept."""
    rng = random.Random(seed)
    episodes = directory / "episodes.jsonl"
    total = 0
    for round_ in range(rounds):
        child = _Child(_append_forever(directory, largest))
        # Let it finish a few appends first, so that every round makes progress however
        # loaded the machine is, then kill it wherever it is (serialising, writing, fsyncing).
        child.wait_for_acks(rng.randint(0, 3))
        child.kill_after(rng.uniform(0, 0.04))
        acknowledged = child.acks

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)  # a torn tail is allowed here
            found = RunStore.open(directory).read(Episode)
        trials = [episode.trial for episode in found]
        assert trials == list(range(len(trials))), f"round {round_}: gap or duplicate"
        expected = [_episode(trial, largest) for trial in trials]
        assert found == expected, f"round {round_}: damaged line"
        assert len(trials) >= total, f"round {round_}: an earlier line disappeared"
        if acknowledged:
            assert acknowledged == list(range(total, acknowledged[-1] + 1))
            assert acknowledged[-1] < len(trials), f"round {round_}: an acknowledged line is lost"
            assert len(trials) <= acknowledged[-1] + 2, "more than one unacknowledged line"
        else:
            assert len(trials) <= total + 1
        total = len(trials)

        # Resuming leaves a clean end: whole lines only, and no temporary manifests.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)
            RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH).close()
        data = episodes.read_bytes()
        assert data == b"" or data.endswith(b"\n")
        assert data.count(b"\n") == total
        assert [p.name for p in directory.iterdir() if p.name.endswith(".tmp")] == []
    return total


def _check_appending_goes_on(directory: Path, total: int, largest: int) -> None:
    with RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH) as store:
        store.append(_episode(total, largest))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = RunStore.open(directory).read(Episode)
    assert found == [_episode(t, largest) for t in range(total + 1)]


def test_sigkill_mid_append_loses_nothing_acknowledged_and_duplicates_nothing(
    tmp_path: Path,
) -> None:
    with new_run(tmp_path) as store:
        directory = store.directory
    total = _kill_appending_children(directory, rounds=6, seed=20250601, largest=2_000_000)
    _check_appending_goes_on(directory, total, 2_000_000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_many_sigkills_with_large_lines(tmp_path: Path, seed: int) -> None:
    with new_run(tmp_path) as store:
        directory = store.directory
    total = _kill_appending_children(directory, rounds=20, seed=seed, largest=6_000_000)
    _check_appending_goes_on(directory, total, 6_000_000)


def test_sigkill_while_rewriting_run_json_leaves_the_old_or_the_new_manifest(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    with new_run(tmp_path) as store:
        directory = store.directory
    for _ in range(5):

        def rewrite_forever(ack_fd: int) -> None:
            store = RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
            for second in range(1, 10**9):
                store.finish(now=NOW + timedelta(seconds=second))
                os.write(ack_fd, f"{second}\n".encode())

        child = _Child(rewrite_forever)
        child.wait_for_acks(rng.randint(0, 3))
        child.kill_after(rng.uniform(0, 0.02))
        written = child.acks
        manifest = RunStore.open(directory).manifest  # parses: never a partial file
        assert manifest.run_id == directory.name
        if manifest.finished_at is not None:
            second = int((manifest.finished_at - NOW).total_seconds())
            newest = written[-1] if written else 0
            assert newest <= second <= newest + 1, "neither the last acknowledged nor the next"
        RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH).close()
        assert sorted(p.name for p in directory.iterdir()) == ["episodes.jsonl", MANIFEST_NAME]


Key = tuple[str, int]
KEYS: list[Key] = [(f"t{index}", trial) for index in range(4) for trial in range(2)]
INFRA = TerminationReason.INFRASTRUCTURE_ERROR


def _attempt(key: Key, attempt: int, largest: int) -> records.Episode:
    """Attempt `attempt` of `key`, the same every time: lost again (the first always) or not."""
    rng = random.Random(f"{key}#{attempt}")
    lost = attempt == 1 or rng.random() < 0.6
    size = rng.choice([100, 5_000, 300_000, largest])
    reason = INFRA if lost else TerminationReason.USER_STOP
    return episode_record(*key, reason, error=payload_for(attempt, size))


def _retry_until_killed(directory: Path, largest: int) -> Callable[[int], None]:
    def work(ack_fd: int) -> None:
        store = RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
        resumption = plan_resumption(store.episodes_path)
        for key, replaced in sorted(resumption.retried.items()):
            store.append(resumption.next_attempt(_attempt(key, replaced.attempt + 1, largest)))
            os.write(ack_fd, f"{key[0]} {key[1]} {replaced.attempt + 1}\n".encode())
        os.close(ack_fd)  # no more acknowledgements: the parent stops waiting for them
        while True:  # nothing left to run: wait for the kill, as every round ends
            time.sleep(1)

    return work


def _parse_ack(line: bytes) -> tuple[Key, int]:
    task, trial, attempt = line.decode().split()
    return (task, int(trial)), int(attempt)


def _check_attempts(directory: Path, acknowledged: dict[Key, int], largest: int) -> int:
    """Every line whole and as written, one latest attempt per key, none acknowledged lost."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RunStoreWarning)  # a torn tail is allowed here
        every = RunStore.open(directory).read(records.Episode)
        latest = {e.key: e for _, e in RunStore.open(directory).latest_episodes()}
    for episode in every:
        plain = episode.model_copy(update={"attempt": 1, "supersedes": None})
        assert plain == _attempt(episode.key, episode.attempt, largest), "a damaged line"
    assert sorted(latest) == KEYS, "an episode lost or counted twice"
    for key, attempt in acknowledged.items():
        assert latest[key].attempt >= attempt, f"acknowledged attempt {attempt} of {key} lost"
    return sum(episode.termination_reason is INFRA for episode in latest.values())


def test_sigkill_while_a_resume_runs_lost_episodes_again_keeps_one_latest_attempt_each(
    tmp_path: Path,
) -> None:
    largest = 2_000_000
    with new_run(tmp_path) as store:
        for key in KEYS:
            store.append(_attempt(key, 1, largest))
    directory = store.directory
    rng = random.Random(20251202)
    acknowledged: dict[Key, int] = {}
    lost = len(KEYS)
    for _ in range(10):
        child = _Child(_retry_until_killed(directory, largest), _parse_ack)
        child.wait_for_acks(rng.randint(0, 2))
        child.kill_after(rng.uniform(0, 0.04))
        acknowledged.update(child.acks)
        lost = _check_attempts(directory, acknowledged, largest)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)
            RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH).close()
        data = (directory / "episodes.jsonl").read_bytes()
        assert data.endswith(b"\n"), "resume leaves whole lines only"
    assert lost < len(KEYS), "no round re-ran anything: the test proved nothing"


def _with_tokens(trial: int) -> records.Episode:
    """Traces from none to 200,000 ids (a few MB of JSON): SIGKILL can tear either file."""
    size = random.Random(trial).choice([None, 10, 5_000, 200_000])
    if size is None:
        return episode_record("t", trial)
    return episode_with_tokens("t", trial, size)


def _append_with_tokens_forever(directory: Path) -> Callable[[int], None]:
    def work(ack_fd: int) -> None:
        store = RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH)
        trial = len(store.read(records.Episode))
        while True:
            store.append(_with_tokens(trial))
            os.write(ack_fd, f"{trial}\n".encode())
            trial += 1

    return work


def test_sigkill_mid_two_file_append_loses_no_acknowledged_traces_and_keeps_no_orphans(
    tmp_path: Path,
) -> None:
    with new_run(tmp_path) as store:
        directory = store.directory
    rng = random.Random(20261202)
    total = 0
    for round_ in range(8):
        child = _Child(_append_with_tokens_forever(directory))
        child.wait_for_acks(rng.randint(0, 3))
        child.kill_after(rng.uniform(0, 0.05))
        acknowledged = child.acks

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)  # a torn tail is allowed here
            found = [e for _, e in RunStore.open(directory).latest_episodes()]
        trials = [episode.trial for episode in found]
        assert trials == list(range(len(trials))), f"round {round_}: gap or duplicate"
        assert found == [_with_tokens(t) for t in trials], f"round {round_}: damaged traces"
        assert len(trials) >= total, f"round {round_}: an earlier episode disappeared"
        if acknowledged:
            assert acknowledged[-1] < len(trials), f"round {round_}: an acknowledged line is lost"
            assert len(trials) <= acknowledged[-1] + 2, "more than one unacknowledged line"
        total = len(trials)

        # Resuming leaves both files clean: every token line is an episode line's.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RunStoreWarning)
            RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH).close()
        assert find_unreferenced_tokens(directory) is None
        tokens = directory / TOKENS_NAME
        if tokens.exists():
            data = tokens.read_bytes()
            offsets = [e.tokens_offset for e in RunStore.open(directory).read(records.Episode)]
            assert data.count(b"\n") == sum(offset is not None for offset in offsets)
    assert (directory / TOKENS_NAME).stat().st_size > 0, "no traces written: proved nothing"
    with RunStore.resume(directory, config_hash=HASH, domain_hash=DOMAIN_HASH) as store:
        store.append(_with_tokens(total))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = [e for _, e in RunStore.open(directory).latest_episodes()]
    assert found == [_with_tokens(t) for t in range(total + 1)]
