"""The runner's throughput at a simulated model latency: episodes and model calls per second.

The agent is a model (chat transport, card style) played by the scripted server in another
process, answering each call after `--latency-ms`: for every guest line it looks the guest up
(a tool call, run against the hotel database) and then answers, so each line costs two calls.
The user is the scripted user saying the hotel task card_triplet_cribs's script (no model):
every episode makes the same 8 calls, so no worker idles while another finishes a long
episode and calls/s measures the runner, not the pack's mix of episode lengths. Episodes are
evaluated and appended to a run folder as in a real run. Ideal throughput is concurrency /
latency model calls per second. Each row runs in fresh processes (so its peak RSS is its own),
timed from when every process has loaded and is ready. "call wall ms" is the mean wall time of
a model call as the agent saw it: the latency plus the time its answer waited for the client.
"first request s" is the time from the start of `Simulation(...)` (the pack already loaded) to
the first episode's start (its first model call follows at once): the run's whole start-up,
the driver's own loading (litellm, the agent) and whatever its executor starts meanwhile or
after the go, as a real run (`policy-agent run`) has it.

Each row plays `WAVES` waves of `concurrency` episodes (fewer at long latencies, down to
`MIN_WAVES`: the first wave is the ramp, the later ones the steady state), and has a deadline
(`--deadline-s`, by default generous for a busy machine): a row past it is killed and reported
as "did not finish" instead of holding up the others.

    python benchmarks/throughput.py [--latency-ms 100] [--concurrency 1 8 64] [--workers 2]
        [--ray [--ray-address HOST:PORT]] [--deadline-s SECONDS]

At the largest concurrency three more rows: the run with `gc.freeze()` once everything is
loaded (litellm's module state is large, and every full garbage collection walks it), the run
split into `--workers` separate runs against the same server, and one run with the runner's
own `processes: --workers` (children play, the parent writes; the children, forks of the fork
server the run starts as its `Simulation` is made, start after the go, inside its wall time as
in a real run; their CPU and memory are sampled from /proc, as they are the fork server's).
With `--ray` (the `ray` extra), one more: the run with `executor: ray` on `--workers` Ray
actors, on the cluster at `--ray-address` or on a local Ray the run starts. Joining it and
starting the actors begin as the `Simulation` is made, before the go: the wall time holds what
is left of it then, "first request s" all of it. Its CPU and memory are those of every Ray
process (actors, raylet, GCS, agents), sampled from /proc during the row: against the
one-process row, Ray's own cost per episode.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import math
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from _support import HOTEL, agent_that_looks_up_then_answers, machine_load, scripted_server, table

from policy_agent.domain import load_pack
from policy_agent.llm import ModelConfig
from policy_agent.records import Episode
from policy_agent.simulation import ModelAgentConfig, Simulation, SimulationConfig
from policy_agent.trajectory import RunStore
from policy_agent.user import UserConfig

TASK = "card_triplet_cribs"
"""Five guest lines, the last one ends the episode: four agent turns of two calls each."""
TARGET, TARGET_CONCURRENCY = 0.8, 64
"""The issue's target: at least 80% of the ideal calls per second at 64 concurrent episodes."""
CALLS_PER_EPISODE = 8
"""Model calls in every episode of TASK (its four agent turns, two calls each)."""
WAVES, MIN_WAVES = 8, 4
"""Waves of `concurrency` episodes per row: `WAVES`, or fewer when the row's ideal time would
pass `STEADY_S`, never fewer than `MIN_WAVES` (one wave of ramp, three of steady state)."""
STEADY_S = 30.0
"""The ideal time of a row (waves x one episode's calls x latency) that is enough to measure."""


class _Collect:
    """Keeps the finished episodes (a `RunObserver`)."""

    def __init__(self) -> None:
        self.episodes: list[Episode] = []
        self.times: list[float] = []

    def started(self, tally: object) -> None:
        """Nothing to do at the start."""

    def finished(self, episode: Episode) -> None:
        """Keep it, and when it arrived."""
        self.episodes.append(episode)
        self.times.append(time.time())

    def stopped(self) -> None:
        """Nothing to do at the end."""


def episodes_for(concurrency: int, latency_ms: float) -> int:
    """Enough episodes for several waves at this concurrency, and a few seconds at least; at a
    long latency (1 s: 8 s an episode) fewer waves, so that a row ends in bounded time."""
    episode_s = CALLS_PER_EPISODE * latency_ms / 1000
    waves = max(MIN_WAVES, min(WAVES, math.ceil(STEADY_S / episode_s)))
    return max(6, waves * concurrency)


def ideal_s(concurrency: int, latency_ms: float) -> float:
    """A row's wall time with no overhead at all: its waves, one after the other."""
    waves = math.ceil(episodes_for(concurrency, latency_ms) / concurrency)
    return waves * CALLS_PER_EPISODE * latency_ms / 1000


async def run_once(
    base_url: str,
    concurrency: int,
    episodes: int,
    out: Path,
    *,
    freeze: bool,
    processes: int,
    ray_address: str | None = None,
) -> dict[str, Any]:
    """Run `episodes` hotel episodes at `concurrency`; what was measured, as JSON values.

    `freeze`: move everything loaded so far (litellm's large module state above all) out of
    the garbage collector's reach before the run, as a runner could do after starting up.
    `processes`: the runner's own `processes` setting (its children start after the go: their
    start-up is in the wall time, as in a real run; their CPU is counted).
    """
    pack = load_pack(HOTEL)
    config = SimulationConfig(
        domain=HOTEL,
        agent=ModelAgentConfig(
            model=ModelConfig(model="hosted_vllm/agent", api_base=base_url, timeout=60)
        ),
        user=UserConfig(kind="scripted"),
        tasks=[TASK],
        trials=episodes,
        concurrency=concurrency,
        processes=processes,
        executor="local" if ray_address is None else "ray",
        ray_address=None if ray_address in (None, "local") else ray_address,
        out=out,
    )
    made = time.time()  # start-up counts from here: the fork server and Ray start meanwhile
    simulation = Simulation(config, pack)
    store = RunStore.create(out, simulation.manifest())
    collect = _Collect()
    if freeze:
        gc.collect()
        gc.freeze()
    # Ready: everything is loaded. Wait for the go, so that sharded workers start together.
    print("ready", flush=True)
    await asyncio.to_thread(sys.stdin.readline)
    children = DescendantSampler()
    children.start()
    cpu, start = time.process_time(), time.time()
    await simulation.run(store, collect)
    end, cpu = time.time(), time.process_time() - cpu
    cpu += children.stop()
    await simulation.aclose()
    done = collect.episodes
    calls = sum(episode.totals["agent"].calls for episode in done if "agent" in episode.totals)
    latency = sum(e.totals["agent"].latency_ms for e in done if "agent" in e.totals)
    failed = sum(episode.error is not None for episode in done)
    # Once the first wave of `concurrency` episodes is in, every process is up and each later
    # episode was started after the first one ended: the steady rate, start-up left out.
    wave = min(concurrency, len(done) - 1)
    later = done[wave:]
    return {
        "first": collect.times[0],
        "made": made,
        "first_request": min(episode.started_at.timestamp() for episode in done),
        "wave_end": collect.times[wave - 1],
        "calls_after_wave": sum(e.totals["agent"].calls for e in later if "agent" in e.totals),
        "episodes": len(done),
        "failed": failed,
        "calls": calls,
        "latency_ms": latency,
        "start": start,
        "end": end,
        "cpu_s": cpu,
        # The largest process's: this one, or one of the runner's children.
        "peak_rss_mb": max(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, children.peak_rss_mb
        ),
    }


class DescendantSampler(threading.Thread):
    """CPU seconds (since the start) and the largest RSS of this process's descendants, sampled
    every 0.2 s: the runner's children are the fork server's, not ours, so their CPU never
    reaches this process's RUSAGE_CHILDREN. A child's last 0.2 s before it exits is missed."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = {pid: cpu for pid, (cpu, _) in descendants().items()}
        self.cpu: dict[int, float] = {}
        self.peak_rss_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            self.sample()

    def sample(self) -> None:
        for pid, (cpu, rss) in descendants().items():
            self.cpu[pid] = cpu - self.base.get(pid, 0.0)
            self.peak_rss_mb = max(self.peak_rss_mb, rss)

    def stop(self) -> float:
        """The descendants' CPU seconds since the start."""
        self.done.set()
        self.join()
        self.sample()
        return sum(self.cpu.values())


def descendants() -> dict[int, tuple[float, float]]:
    """Each descendant of this process: (CPU seconds, RSS MB) (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(stat[1])
    mine, found = {os.getpid()}, {}
    while grown := {pid for pid, parent in parents.items() if parent in mine} - mine:
        mine |= grown
    for pid in mine - {os.getpid()}:
        with contextlib.suppress(OSError, IndexError, ValueError):
            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
            found[pid] = (process_cpu_s(pid), rss * os.sysconf("SC_PAGE_SIZE") / 2**20)
    return found


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_processes(
    base_url: str,
    concurrency: int,
    episodes: int,
    processes: int,
    server_pid: int,
    *,
    freeze: bool = False,
    runner_processes: int = 1,
    ray_address: str | None = None,
    deadline_s: float,
) -> dict[str, Any] | None:
    """The run split over `processes` separate runs, started together; their totals, or None
    when they have not all ended `deadline_s` after the go (they are killed then).

    `runner_processes`: each run's own `processes` setting (one run over several processes).
    `ray_address`: the runs on Ray (see `run_once`), the Ray processes' CPU and memory sampled.
    """
    command = [sys.executable, __file__, "--worker", base_url, "freeze" if freeze else "-"]
    ray = RaySampler() if ray_address is not None else None
    running = [
        subprocess.Popen(
            [
                *command,
                str(concurrency // processes),
                str(episodes // processes),
                str(runner_processes),
                ray_address or "-",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            # Its own process group: a run past the deadline is killed with its children.
            start_new_session=True,
        )
        for _ in range(processes)
    ]
    for process in running:
        assert process.stdout is not None
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("a runner process did not get ready")
    server_cpu = process_cpu_s(server_pid)
    for process in running:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    if ray is not None:
        ray.start()
    deadline = time.monotonic() + deadline_s
    try:
        outputs = [p.communicate(timeout=max(0.0, deadline - time.monotonic()))[0] for p in running]
    except subprocess.TimeoutExpired:
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
        if ray is not None:
            ray.stop()
        return None
    extra = ray.stop() if ray is not None else {}
    results = [json.loads(output.strip().splitlines()[-1]) for output in outputs]
    return extra | {
        "episodes": sum(r["episodes"] for r in results),
        "failed": sum(r["failed"] for r in results),
        "calls": sum(r["calls"] for r in results),
        "latency_ms": sum(r["latency_ms"] for r in results),
        "wall_s": max(r["end"] for r in results) - min(r["start"] for r in results),
        "first_s": min(r["first"] for r in results) - min(r["start"] for r in results),
        "first_request_s": min(r["first_request"] for r in results)
        - min(r["made"] for r in results),
        "steady_calls_per_s": sum(r["calls_after_wave"] for r in results)
        / (max(r["end"] for r in results) - min(r["wave_end"] for r in results)),
        "cpu_s": sum(r["cpu_s"] for r in results),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
        "server_cpu_s": process_cpu_s(server_pid) - server_cpu,
    }


class RaySampler(threading.Thread):
    """CPU seconds and summed RSS of every Ray process of this machine, sampled every 0.2 s:
    actors' CPU is no child's of the runner, and they are gone once the run ends."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.base = {pid: cpu for pid, (cpu, _) in ray_processes().items()}
        self.cpu: dict[int, float] = {}
        self.peak_rss_mb = 0.0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(0.2):
            seen = ray_processes()
            for pid, (cpu, _) in seen.items():
                self.cpu[pid] = cpu - self.base.get(pid, 0.0)
            self.peak_rss_mb = max(self.peak_rss_mb, sum(rss for _, rss in seen.values()))

    def stop(self) -> dict[str, Any]:
        self.done.set()
        self.join()
        return {"ray_cpu_s": sum(self.cpu.values()), "ray_rss_mb": self.peak_rss_mb}


def ray_processes() -> dict[int, tuple[float, float]]:
    """Each Ray process's (CPU seconds, RSS MB): actors (`ray::…`), raylet, GCS, Ray's agents."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes()
            if not (
                argv.startswith(b"ray::")
                or b"/ray/" in argv.split(b"\0", 2)[0]
                or b"ray/_private" in argv
                or b"ray/dashboard" in argv
            ):
                continue
            rss = int((entry / "statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            found[int(entry.name)] = (process_cpu_s(int(entry.name)), rss / 2**20)
        except (OSError, IndexError, ValueError):
            continue
    return found


HEADERS = [
    "runner",
    "concurrency",
    "episodes",
    "failed",
    "sims/s",
    "calls/s",
    "ideal",
    "of ideal",
    "of ideal after wave 1",
    "first request s",
    "call wall ms",
    "client CPU ms/call",
    "server CPU ms/call",
    "peak RSS MB",
]


def row(
    label: str,
    concurrency: int,
    latency_ms: float,
    result: dict[str, Any] | None,
    deadline_s: float,
) -> list[object]:
    """One row of the table; a run past its deadline says so."""
    if result is None:
        unfinished: list[object] = [label, concurrency, f"did not finish in {deadline_s:.0f} s"]
        return unfinished + ["-"] * (len(HEADERS) - len(unfinished))
    ideal = concurrency * 1000 / latency_ms
    calls_per_s = result["calls"] / result["wall_s"]
    return [
        label,
        concurrency,
        result["episodes"],
        result["failed"],
        f"{result['episodes'] / result['wall_s']:.1f}",
        f"{calls_per_s:.0f}",
        f"{ideal:.0f}",
        f"{100 * calls_per_s / ideal:.0f}%",
        f"{100 * result['steady_calls_per_s'] / ideal:.0f}%",
        f"{result['first_request_s']:.1f}",
        f"{result['latency_ms'] / result['calls']:.0f}",
        f"{1000 * result['cpu_s'] / result['calls']:.2f}",
        f"{1000 * result['server_cpu_s'] / result['calls']:.2f}",
        f"{result['peak_rss_mb']:.0f}",
    ]


def ray_note(
    workers: int, concurrency: int, ray: dict[str, Any], alone: dict[str, Any] | None
) -> str:
    """Ray's own CPU per episode and memory per live episode, against the one-process row."""
    ray_cpu = 1000 * ray["ray_cpu_s"] / ray["episodes"]
    driver_cpu = 1000 * ray["cpu_s"] / ray["episodes"]
    note = (
        f"Ray {workers} workers: {ray_cpu:.1f} ms CPU per episode in Ray's processes "
        f"(actors, raylet, GCS, agents) + {driver_cpu:.1f} ms in the driver; Ray's processes "
        f"peak at {ray['ray_rss_mb']:.0f} MB summed RSS"
    )
    if alone is None:
        return note + "; the one-process row did not finish: nothing to compare with."
    one_cpu = 1000 * alone["cpu_s"] / alone["episodes"]
    extra_mb = ray["ray_rss_mb"] - alone["peak_rss_mb"]
    return note + (
        f", against {one_cpu:.1f} ms CPU per episode and {alone['peak_rss_mb']:.0f} MB in one "
        f"process: Ray's own cost {ray_cpu + driver_cpu - one_cpu:.1f} ms CPU per episode and "
        f"{extra_mb:.0f} MB, {1024 * extra_mb / concurrency:.0f} KiB per live episode "
        f"(of {concurrency})."
    )


def main(
    latency_ms: float,
    levels: list[int],
    workers: int,
    ray_address: str | None,
    deadline_s: float | None,
) -> None:
    load_before = machine_load()
    roles = {"agent": agent_that_looks_up_then_answers()}
    rows = []
    results: dict[int, dict[str, Any] | None] = {}
    notes: list[str] = []
    top = max(levels)

    def measure(label: str, concurrency: int, **options: Any) -> dict[str, Any] | None:
        # Ten times the ideal time, plus a minute to start: generous on a busy machine.
        deadline = deadline_s or 10 * ideal_s(concurrency, latency_ms) + 60
        began = time.monotonic()
        result = run_processes(
            server.base_url,
            concurrency,
            episodes_for(concurrency, latency_ms),
            options.pop("processes", 1),
            server.pid,
            deadline_s=deadline,
            **options,
        )
        rows.append(row(label, concurrency, latency_ms, result, deadline))
        # Progress on stderr, with the load: a long benchmark on a shared machine.
        outcome = "did not finish" if result is None else "done"
        print(
            f"{label} at {concurrency}: {outcome} after {time.monotonic() - began:.0f} s; "
            f"{machine_load()}",
            file=sys.stderr,
            flush=True,
        )
        return result

    with scripted_server(roles, latency_ms=latency_ms) as server:
        for concurrency in levels:
            results[concurrency] = measure("1 process", concurrency)
        frozen = measure("1 process, gc.freeze()", top, freeze=True)
        if workers > 1:
            measure(f"{workers} separate runs", top, processes=workers)
            measure(f"1 run, processes={workers}", top, runner_processes=workers)
        if ray_address is not None:
            ray = measure(
                f"1 run, Ray {workers} workers",
                top,
                runner_processes=workers,
                ray_address=ray_address,
            )
            if ray is not None:
                notes.append(ray_note(workers, top, ray, results[top]))
    print(
        f"Runner throughput, model latency {latency_ms:g} ms (scripted server, own process), "
        "LLM agent + scripted user, hotel pack"
    )
    print(f"Machine: {load_before}, before the run; {machine_load()}, after.\n")
    print(table(HEADERS, rows))
    for note in notes:
        print(f"\n{note}")
    if TARGET_CONCURRENCY in results:
        # `policy-agent run` freezes the collector once loaded (cli/_run.py): judge that row.
        measured = frozen if top == TARGET_CONCURRENCY else results[TARGET_CONCURRENCY]
        if measured is None:
            print(f"\nTarget at concurrency {TARGET_CONCURRENCY}: not measured (did not finish).")
            return
        ideal = TARGET_CONCURRENCY * 1000 / latency_ms
        share = measured["calls"] / measured["wall_s"] / ideal
        verdict = "met" if share >= TARGET else "NOT met"
        print(
            f"\nTarget: >= {TARGET:.0%} of ideal at concurrency {TARGET_CONCURRENCY}, one process "
            f"as `policy-agent run` runs it (gc frozen once loaded): {verdict} ({share:.0%})."
        )
        cpu_ms = 1000 * measured["cpu_s"] / measured["calls"]
        print(
            f"At {cpu_ms:.2f} ms of client CPU per call one core sustains at most "
            f"{1000 / cpu_ms:.0f} calls/s; the target needs {TARGET * ideal:.0f}."
        )


def worker(
    base_url: str,
    freeze: bool,
    concurrency: int,
    episodes: int,
    processes: int,
    ray_address: str | None,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        result = asyncio.run(
            run_once(
                base_url,
                concurrency,
                episodes,
                Path(folder),
                freeze=freeze,
                processes=processes,
                ray_address=ray_address,
            )
        )
    print(json.dumps(result))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(
            sys.argv[2],
            sys.argv[3] == "freeze",
            int(sys.argv[4]),
            int(sys.argv[5]),
            int(sys.argv[6]),
            None if sys.argv[7] == "-" else sys.argv[7],
        )
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument(
        "--workers", type=int, default=2, help="runner processes for the sharding row (1: none)"
    )
    parser.add_argument(
        "--ray", action="store_true", help="a row with executor: ray on --workers actors"
    )
    parser.add_argument(
        "--ray-address", help="with --ray: the cluster (default: a local Ray for the run)"
    )
    parser.add_argument(
        "--deadline-s",
        type=float,
        help="each row's deadline (default: ten times its ideal time plus a minute)",
    )
    arguments = parser.parse_args()
    ray_address = (arguments.ray_address or "local") if arguments.ray else None
    main(
        arguments.latency_ms,
        arguments.concurrency,
        arguments.workers,
        ray_address,
        arguments.deadline_s,
    )
