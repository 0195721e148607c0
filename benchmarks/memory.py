"""Memory per live episode: episodes parked on a model call that does not answer.

Each episode plays the hotel task card_triplet_cribs with a model agent and the scripted user:
the scripted server (another process) answers the agent's lookups and messages until the
guest's fourth line, then never answers. So every episode stops mid-conversation, holding what
a live episode holds while it waits for its model: its records (greeting, four guest lines,
three lookups with results and answers), its copy-on-write database, its evaluator-free state
and the request in flight. Memory is read at N1 and N2 parked episodes; the difference divided
by N2 - N1 is the memory per live episode, free of everything loaded once.

    python benchmarks/memory.py [--episodes 16 144]

Python heap: tracemalloc's traced memory. RSS: the process's resident memory (read in a first
pass without tracemalloc, whose own bookkeeping would inflate it).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

from _support import (
    HOTEL,
    LOOKUP_RESULT_MARK,
    look_up_guest,
    machine_load,
    say,
    scripted_server,
    table,
)

from policy_agent.domain import load_pack
from policy_agent.llm import ModelConfig
from policy_agent.simulation import ModelAgentConfig, Simulation, SimulationConfig
from policy_agent.user import UserConfig

TASK = "card_triplet_cribs"
PARK_ON = "That sounds perfect"
"""The guest's fourth line: the agent's next call never gets an answer."""
TARGET_BYTES = 1024 * 1024


def rss_bytes() -> int:
    """Resident memory of this process (Linux /proc)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


async def settle(tasks: list[asyncio.Task[Any]]) -> None:
    """Wait until every episode waits on its model: no task ended and the CPU is idle."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        before = time.process_time()
        await asyncio.sleep(0.5)
        ended = [task for task in tasks if task.done()]
        if ended:
            raise RuntimeError(f"{len(ended)} episodes ended instead of waiting on their model")
        if time.process_time() - before < 0.01:
            return
    raise RuntimeError("the episodes did not all reach their unanswered call within 120 s")


async def park(
    simulation: Simulation, counts: tuple[int, int], read: Any
) -> tuple[list[Any], list[asyncio.Task[Any]]]:
    """Park counts[0] episodes, read memory, park up to counts[1], read again."""
    planned = iter(simulation.episodes)
    tasks: list[asyncio.Task[Any]] = []
    readings: list[Any] = []
    for count in counts:
        while len(tasks) < count:
            tasks.append(asyncio.create_task(simulation.play(next(planned))))
        await settle(tasks)
        readings.append(read())
    return readings, tasks


async def stop(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def simulation_on(base_url: str, episodes: int) -> Simulation:
    config = SimulationConfig(
        domain=HOTEL,
        agent=ModelAgentConfig(
            model=ModelConfig(model="hosted_vllm/agent", api_base=base_url, timeout=600)
        ),
        user=UserConfig(kind="scripted"),
        tasks=[TASK],
        trials=episodes,
        concurrency=episodes,
    )
    return Simulation(config, load_pack(HOTEL))


def initial_database_bytes() -> int:
    """The heap the hotel pack's initial tables take (shared by every episode's database)."""
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    pack = load_pack(HOTEL)
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del pack
    return after - before


async def main(counts: tuple[int, int]) -> None:
    roles = {
        "agent": {
            "mode": "rules",
            "rules": [
                {"contains": PARK_ON, "answer": {"hang": True}},
                {"contains": LOOKUP_RESULT_MARK, "answer": say("Done. Anything else?")},
            ],
            "fallback": look_up_guest(),
        }
    }
    extra = counts[1] - counts[0]
    with scripted_server(roles) as server:
        simulation = simulation_on(server.base_url, counts[1])
        rss, tasks = await park(simulation, counts, rss_bytes)
        await stop(tasks)
        await simulation.aclose()

        simulation = simulation_on(server.base_url, counts[1])
        tracemalloc.start()
        snapshots, tasks = await park(simulation, counts, tracemalloc.take_snapshot)
        heap = [sum(stat.size for stat in snap.statistics("filename")) for snap in snapshots]
        await stop(tasks)
        await simulation.aclose()
        tracemalloc.stop()
    growth = snapshots[1].compare_to(snapshots[0], "filename")
    per_heap = (heap[1] - heap[0]) / extra
    per_rss = (rss[1] - rss[0]) / extra
    database = initial_database_bytes()
    print(
        f"Memory per live episode: hotel task {TASK}, parked on its agent's 7th model call "
        f"(14 records so far)"
    )
    print(f"Machine: {machine_load()}\n")
    rows = [
        ["Python heap traced since start", f"{heap[0] / 2**20:.1f}", f"{heap[1] / 2**20:.1f}"],
        ["RSS", f"{rss[0] / 2**20:.1f}", f"{rss[1] / 2**20:.1f}"],
    ]
    rows[0].append(f"{per_heap / 1024:.0f}")
    rows[1].append(f"{per_rss / 1024:.0f}")
    headers = ["measure", f"MiB at {counts[0]}", f"MiB at {counts[1]}", "KiB per episode"]
    print(table(headers, rows))
    print(
        f"\nThe hotel database's initial tables: {database / 1024:.0f} KiB on the heap, shared; "
        "an episode's database holds only the records it changed (copy-on-write)."
    )
    print("\nWhere an episode's heap goes (KiB per episode, by file):")
    for stat in growth[:8]:
        where = stat.traceback[0].filename.split("site-packages/")[-1]
        print(f"  {stat.size_diff / extra / 1024:6.1f}  {where}")
    worst = max(per_heap, per_rss)
    verdict = "met" if worst <= TARGET_BYTES else "NOT met"
    print(f"Target: <= 1 MiB per live episode plus its database copy: {verdict}.")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--episodes", type=int, nargs=2, default=[16, 144], metavar=("N1", "N2"), help="N1 < N2"
    )
    first, second = parser.parse_args().episodes
    if not 0 < first < second:
        parser.error("--episodes N1 N2 needs 0 < N1 < N2")
    asyncio.run(main((first, second)))
