"""One run on several processes: children play the episodes, the parent alone writes them.

A process spends ~1.5 ms of CPU per model call in litellm, so one process cannot keep 64
episodes' calls in flight at 100 ms latency. With `processes: N` the parent starts N children.
They are forks of a fork server (the `forkserver` context), a fresh process that imported
litellm and the simulation package once: nothing of the parent's event loop, threads or open
files is inherited, as with `spawn`, but no child pays litellm's import again (~4.5 s each, all
at once on a busy machine). `start_process_server` starts it as the run's `Simulation` is made,
so its import overlaps the parent's own loading. Each child takes the parent's environment and
working directory at its start, loads the config and the pack, makes its own model clients and
plays its round-robin share of the episodes left, ~concurrency/N at a time, sending each
finished episode back as its JSON line over a pipe. The parent appends each one (the run's only
writer) and tells the observer, as a one-process run does. Seeds derive from (run seed, task,
trial), so an episode is the same whichever process plays it.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING

from pydantic import JsonValue

from policy_agent.errors import PolicyAgentError
from policy_agent.records import Episode
from policy_agent.simulation._progress import RunTally

if TYPE_CHECKING:
    from policy_agent.simulation._runner import PlannedEpisode, RecordEpisode

__all__ = ["WorkerProcessFailed", "play_in_processes", "start_process_server"]

_EPISODE, _DONE, _FAILED = "episode", "done", "failed"
"""The kinds of message a child sends: an episode's JSON line, its share done, why it stopped."""
_STOP_GRACE_S = 5.0
"""How long a stopped child may take to exit before it is killed."""
_PRELOAD = ["policy_agent.simulation", "policy_agent.llm._direct"]
"""What the fork server imports once for every child: the runner and litellm (its handlers)."""


class WorkerProcessFailed(PolicyAgentError):
    """A runner process stopped before playing its share; the message says which and why."""


@dataclass(frozen=True, kw_only=True)
class _Share:
    """What one child plays: the run's config (as JSON), its episodes and how many at once."""

    config: dict[str, JsonValue]
    environment: dict[str, str]
    domain_hash: str
    keys: list[tuple[str, int]]
    concurrency: int


def _context() -> ForkServerContext | SpawnContext:
    """The fork server's context, or `spawn` where there is none (Windows: no fork at all, so
    each child there imports litellm and the pack again)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    # Python keeps one fork server per process: the preload list is its, set before it starts.
    context.set_forkserver_preload(_PRELOAD)
    return context


def start_process_server() -> None:
    """Start the fork server the runner's children are forked from, if it is not running;
    it imports litellm and the simulation package in the background while this process goes on."""
    if _context().get_start_method() == "forkserver":
        multiprocessing.forkserver.ensure_running()


def shares(
    todo: Sequence[PlannedEpisode], processes: int, concurrency: int
) -> list[tuple[list[tuple[str, int]], int]]:
    """Round-robin shares of `todo` and of `concurrency`, one per process that gets any work."""
    count = max(1, min(processes, concurrency, len(todo)))
    return [
        (
            [planned.key for planned in todo[index::count]],
            concurrency // count + (index < concurrency % count),
        )
        for index in range(count)
    ]


async def play_in_processes(
    config: dict[str, JsonValue],
    domain_hash: str,
    todo: Sequence[PlannedEpisode],
    tally: RunTally,
    record: RecordEpisode,
    *,
    processes: int,
    concurrency: int,
) -> None:
    """Play `todo` on `processes` children, handing each finished episode to `record`.

    When a child dies the others finish their shares (every finished episode is kept), then
    `WorkerProcessFailed` says which child stopped and why. Cancellation stops every child.
    """
    context = _context()
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[int, str, str | None]] = asyncio.Queue()
    children: list[BaseProcess] = []
    readers: list[threading.Thread] = []
    try:
        for index, (keys, share_concurrency) in enumerate(shares(todo, processes, concurrency)):
            receiving, sending = context.Pipe(duplex=False)
            share = _Share(
                config=config,
                environment=dict(os.environ),
                domain_hash=domain_hash,
                keys=keys,
                concurrency=share_concurrency,
            )
            child = context.Process(
                target=_child, args=(share, sending), name=f"runner-{index + 1}", daemon=True
            )
            child.start()
            sending.close()  # the child holds the only write end: its exit is our EOF
            children.append(child)
            reader = threading.Thread(
                target=_read, args=(index, receiving, inbox, loop), daemon=True
            )
            reader.start()
            readers.append(reader)
        failures = await _collect(inbox, children, tally, record)
    finally:
        _stop(children)
        for reader in readers:
            reader.join(timeout=_STOP_GRACE_S)
    if failures:
        raise WorkerProcessFailed("; ".join(failures))


async def _collect(
    inbox: asyncio.Queue[tuple[int, str, str | None]],
    children: list[BaseProcess],
    tally: RunTally,
    record: RecordEpisode,
) -> list[str]:
    """Record episodes as they arrive until every child has closed its pipe; the failures."""
    from policy_agent.simulation._executor import received

    open_pipes, done = len(children), set[int]()
    reasons: dict[int, str] = {}
    while open_pipes:
        index, kind, payload = await inbox.get()
        if kind == _EPISODE and payload is not None:
            await received(payload, tally, record)
        elif kind == _DONE:
            done.add(index)
        elif kind == _FAILED and payload is not None:
            reasons[index] = payload
        else:  # the pipe closed: the child exited or died
            open_pipes -= 1
    failures = []
    for index, child in enumerate(children):
        if index in done:
            continue
        child.join(_STOP_GRACE_S)
        why = reasons.get(index, f"exit code {child.exitcode}")
        failures.append(f"runner process {index + 1} of {len(children)} stopped: {why}")
    return failures


def _read(
    index: int,
    connection: Connection,
    inbox: asyncio.Queue[tuple[int, str, str | None]],
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Pass one child's messages to the event loop; `(index, "closed", None)` at its end."""
    with connection:
        while True:
            try:
                kind, payload = connection.recv()
            except (EOFError, OSError):
                break
            loop.call_soon_threadsafe(inbox.put_nowait, (index, kind, payload))
    with contextlib.suppress(RuntimeError):  # the loop closed: the run is over anyway
        loop.call_soon_threadsafe(inbox.put_nowait, (index, "closed", None))


def _stop(children: list[BaseProcess]) -> None:
    """End the children still running (a cancelled run), killing any that will not stop."""
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join(_STOP_GRACE_S)
        if child.is_alive():
            child.kill()
            child.join()


def _child(share: _Share, connection: Connection) -> None:
    """A child process: play the share, send each episode, then `done` (or why it failed)."""
    # Ctrl-C reaches the whole process group: the parent alone decides, and stops us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A fork of the fork server has the environment it started with: take the parent's now.
    os.environ.clear()
    os.environ.update(share.environment)
    with connection:
        try:
            asyncio.run(_play_share(share, connection))
        except Exception as error:
            connection.send((_FAILED, f"{type(error).__name__}: {error}"))
            raise SystemExit(1) from None
        connection.send((_DONE, None))


async def _play_share(share: _Share, connection: Connection) -> None:
    from policy_agent.simulation._executor import worker_simulation

    simulation = worker_simulation(share.config, share.domain_hash, concurrency=share.concurrency)
    wanted = set(share.keys)
    todo = [planned for planned in simulation.episodes if planned.key in wanted]
    # As the run command does for one process: the loaded heap stays out of the collector's way.
    gc.collect()
    gc.freeze()

    async def send(episode: Episode) -> None:
        connection.send((_EPISODE, episode.model_dump_json()))

    try:
        await simulation.play_all(todo, RunTally(planned=len(todo)), send)
    finally:
        await simulation.aclose()
