"""What the benchmarks share: the scripted server in a process of its own, the hotel pack, tables.

The server runs in another process (`policy-agent serve-script`) so that the CPU a benchmark
reads with `time.process_time()` is the client's alone. Scripts are written as JSON, which is
YAML too.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from policy_agent.format import render_tool_call

REPOSITORY = Path(__file__).resolve().parents[1]
HOTEL = REPOSITORY / "domains" / "hotel"

LOOKUP_RESULT_MARK = "first_name"
"""A word every get_guest_details result holds: the agent's script answers after seeing it."""


def say(text: str) -> dict[str, Any]:
    """An agent message, for both transports (chat: content; completions: raw text)."""
    reasoning = "The guest is answered."
    return {"reasoning": reasoning, "content": text, "text": f"{reasoning}</think>\n{text}"}


def look_up_guest() -> dict[str, Any]:
    """An agent tool call (card style: markup in the content), for both transports."""
    markup = render_tool_call("get_guest_details", {"guest_id": "G90974"}).strip()
    reasoning = "Look the guest up."
    return {"reasoning": reasoning, "content": markup, "text": f"{reasoning}</think>\n{markup}"}


def agent_that_looks_up_then_answers() -> dict[str, Any]:
    """The agent's role: a lookup for each user line, then an answer once the result is in.

    Every user line so costs two model calls, and every episode runs a tool and grows its
    history as a real one does.
    """
    return {
        "mode": "rules",
        "rules": [{"contains": LOOKUP_RESULT_MARK, "answer": say("Done. Anything else?")}],
        "fallback": look_up_guest(),
    }


@dataclass(frozen=True, kw_only=True)
class RunningServer:
    """The scripted server's process."""

    base_url: str
    pid: int


@contextlib.contextmanager
def scripted_server(
    roles: dict[str, Any], *, latency_ms: float = 0, **fields: Any
) -> Iterator[RunningServer]:
    """`policy-agent serve-script` in a subprocess, stopped on leaving the block (`fields`:
    more of the script's fields, e.g. `prompt_tokens_details=True`)."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "script.yaml"
        script.write_text(json.dumps({"latency_ms": latency_ms, "roles": roles, **fields}))
        server = subprocess.Popen(
            [sys.executable, "-m", "policy_agent", "serve-script", str(script), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            first = server.stdout.readline()
            if not first.startswith("Serving "):
                raise RuntimeError(f"the scripted server did not start: {first!r}")
            yield RunningServer(base_url=first.rsplit(" ", 1)[1].strip(), pid=server.pid)
        finally:
            server.terminate()
            server.wait()


def machine_load() -> str:
    """A line saying how busy the machine was (other processes skew wall-clock numbers)."""
    one, five, _ = os.getloadavg()
    return f"{os.cpu_count()} cores; load average {one:.2f} (1 min), {five:.2f} (5 min)"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain text table: left-aligned text, right-aligned numbers."""
    cells = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(header), *(len(row[i]) for row in cells)) for i, header in enumerate(headers)]

    def line(row: Sequence[str], kinds: Sequence[object]) -> str:
        parts = []
        for cell, width, kind in zip(row, widths, kinds, strict=True):
            number = isinstance(kind, int | float)
            parts.append(cell.rjust(width) if number else cell.ljust(width))
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    body = [line(cell_row, row) for cell_row, row in zip(cells, rows, strict=True)]
    return "\n".join([line(headers, headers), rule, *body])
