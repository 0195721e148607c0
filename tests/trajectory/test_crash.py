"""Crash safety against real SIGKILLs: a forked child appends, or rewrites run.json, until killed.

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
from typing import NoReturn

import pytest

from policy_agent.trajectory import MANIFEST_NAME, RunStore, RunStoreWarning, config_hash

from ._support import CONFIG, DOMAIN_HASH, EXCLUDE, NOW, Episode, new_run, payload_for

HASH = config_hash(CONFIG, exclude=EXCLUDE)


def _episode(trial: int, largest: int) -> Episode:
    """Lines from 100 bytes to `largest`: SIGKILL can cut a big write short (a real torn tail)."""
    size = random.Random(trial).choice([100, 5_000, 300_000, largest])
    return Episode(task_id="t", trial=trial, payload=payload_for(trial, size))


class _Child:
    """A forked child running `work(ack_fd)` until killed, and the acknowledgements it wrote."""

    def __init__(self, work: Callable[[int], None]) -> None:
        read_end, write_end = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # pragma: no cover  (the child never returns to pytest)
            os.close(read_end)
            _run_child(work, write_end)
        os.close(write_end)
        self._pipe = os.fdopen(read_end, "rb")
        self.acks: list[int] = []

    def wait_for_acks(self, count: int) -> None:
        """Block until the child has acknowledged `count` more items (or has died)."""
        for _ in range(count):
            line = self._pipe.readline()
            if not line:
                return
            self.acks.append(int(line))

    def kill_after(self, seconds: float) -> None:
        """SIGKILL the child after `seconds`, then collect every acknowledgement it wrote."""
        time.sleep(seconds)
        os.kill(self.pid, signal.SIGKILL)
        _, status = os.waitpid(self.pid, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, (
            f"the child ended by itself (status {status}) before it was killed: see its traceback"
        )
        self.acks.extend(int(line) for line in self._pipe.read().split())
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
        trial = len(store.completed_keys(Episode, lambda e: e.trial))
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
