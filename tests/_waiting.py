"""Waiting in tests: for a condition, with one generous deadline, never for a fixed time.

The suite runs on shared 2-core machines, beside other people's work. So no test asserts how
long something took (only what happened, and in what order), and every wait is for a condition
that the test names, failing only after `DEADLINE_S`. That deadline is far beyond what any wait
here takes on a quiet machine (well under a second, a few seconds for a process that imports
litellm) and still beyond it on a machine five times slower and busy: a wait that reaches it
is a hang, not a slow machine.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import IO

DEADLINE_S = 120.0
"""How long any wait in the suite may take before the test fails (see the module docstring)."""

POLL_S = 0.02
"""How often a wait looks at its condition."""


def wait_until(condition: Callable[[], bool], what: str, *, deadline_s: float = DEADLINE_S) -> None:
    """Return once `condition()` holds; fail naming `what` after `deadline_s`."""
    give_up = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < give_up, f"{what}: not within {deadline_s:.0f} s"
        time.sleep(POLL_S)


async def until(
    condition: Callable[[], bool],
    what: str,
    *,
    pause: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Return once `condition()` holds, letting the event loop run (`pause`, default a short
    sleep); fail naming `what` after `DEADLINE_S`."""
    give_up = time.monotonic() + DEADLINE_S
    while not condition():
        assert time.monotonic() < give_up, f"{what}: not within {DEADLINE_S:.0f} s"
        if pause is None:
            await asyncio.sleep(POLL_S)
        else:
            await pause()


def read_line(stream: IO[str], what: str) -> str:
    """The next line of a child's output (`""` at its end); fails naming `what` after
    `DEADLINE_S` (the caller then kills the child, which ends the read)."""
    reader = ThreadPoolExecutor(max_workers=1)
    try:
        return reader.submit(stream.readline).result(timeout=DEADLINE_S)
    except FutureTimeout:
        raise AssertionError(f"{what}: no line within {DEADLINE_S:.0f} s") from None
    finally:
        reader.shutdown(wait=False)


def ctrl_c_when(
    process: subprocess.Popen[str], ready: Callable[[], bool], what: str, *, group: bool = False
) -> str:
    """Once `ready()` holds, Ctrl-C `process` (its whole process group when `group`: what a
    terminal signals) and return its stderr after it has stopped.

    Fails if the process ends before it is ready, or does not stop within `DEADLINE_S`.
    """

    def running_and_ready() -> bool:
        assert process.poll() is None, f"the process ended before {what}: {process.returncode}"
        return ready()

    wait_until(running_and_ready, what)
    if group:
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=DEADLINE_S)
    return stderr


def stop_with_ctrl_c(process: subprocess.Popen[str]) -> tuple[str, str]:
    """Ctrl-C a running `process`; its stdout and stderr once it has stopped (`DEADLINE_S`)."""
    process.send_signal(signal.SIGINT)
    try:
        return process.communicate(timeout=DEADLINE_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
