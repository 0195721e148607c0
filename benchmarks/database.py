"""Big databases: the hotel pack grown to 100,029 bookings against the shipped 29, in one run.

The grown pack is the shipped one plus 100,000 past bookings (checked out or cancelled, on the
same 30 rooms, 2000-2024) of 25,000 more guests: what the hotel's history looks like after
some twenty years. Both packs get one more tool, `list_bookings`, a paged `list` (20 a page,
`after` the last id seen), and are written as JSON and as YAML into a temporary folder.

The packs are written, and each is loaded, in a process of its own, for its peak memory; a YAML
pack twice, the first time with an empty YAML cache (parsed as YAML, its value kept as JSON) and
then from that cache, which is the benchmark's own folder. Everything else runs on the JSON packs
in this process, with the collector frozen once they are loaded, as
`policy-agent run` does. A call's time is the best of several rounds of many calls (the
machine is shared; the best round is the one least disturbed), the two packs' rounds taking
turns. The calls:

- get, find, paged list, Python tool read: `EpisodeEnvironment.call` of `get_booking_details`,
  `find_guest_bookings` (guest G90920, 3 bookings in both packs), `list_bookings` for the
  last full page, `search_available_rooms` (which runs `find` twice per room);
- episode start + hash: `new_episode()`, one write, `content_hash()` (the hashes an episode
  records and the DB check compares).

    python benchmarks/database.py [--bookings 100000] [--rounds 7]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from _support import HOTEL, REPOSITORY, machine_load, table

from policy_agent.domain import load_pack
from policy_agent.environment import Environment, EpisodeEnvironment
from policy_agent.yamlsource import CACHE_SETTING, load_yaml

PAGE = 20
LIST_BOOKINGS = {
    "name": "list_bookings",
    "description": f"List bookings in id order, {PAGE} at a time; pass the last id for the next.",
    "kind": "read",
    "parameters": {"after": {"type": "string", "default": ""}},
    "implementation": {
        "op": "list",
        "table": "bookings",
        "fields": ["guest_id", "status"],
        "limit": PAGE,
        "after": "after",
    },
}
GOALS = {
    "get": 2.0,
    "find": 2.0,
    "paged list": 5.0,
    "Python tool read": 5.0,
    "episode start + hash": 2.0,
}
LOAD_GOAL_S = 3.0
LOAD_ROWS = (
    ("json", "first", "load (JSON)"),
    ("yaml", "first", "load (YAML, first: parsed and cached)"),
    ("yaml", "cached", "load (YAML, from its cache)"),
)
"""(suffix, which load, the row's name) of each load row."""


def grown_tables(bookings: int, seed: int = 17) -> Any:
    """The shipped hotel database plus `bookings` past bookings and a guest for every four."""
    tables: Any = load_yaml(HOTEL / "db.yaml").data
    rng = random.Random(seed)
    guests = max(1, bookings // 4) if bookings else 0
    for number in range(guests):
        tables["guests"][f"G{number:07d}"] = {
            "first_name": "Guest",
            "last_name": f"Number {number}",
            "email": f"guest{number}@example.com",
            "phone": f"+1-555-{number % 10000:04d}",
            "loyalty_tier": rng.choice(["member", "member", "silver", "gold", "platinum"]),
            "member_since": f"{2000 + number % 25}-01-15",
        }
    rooms = sorted(tables["rooms"])
    for number in range(bookings):
        room = rng.choice(rooms)
        room_type = str(tables["rooms"][room]["room_type"])
        rate = int(tables["room_types"][room_type]["nightly_rate"])
        nights = rng.randint(1, 5)
        day = rng.randint(1, 28 - nights)
        year, month = 2000 + number * 25 // bookings, rng.randint(1, 12)
        cancelled = rng.random() < 0.15
        tables["bookings"][f"B{number:07d}"] = {
            "guest_id": f"G{rng.randrange(guests):07d}",
            "status": "cancelled" if cancelled else "checked_out",
            "room_type": room_type,
            "room_id": room,
            "check_in": f"{year}-{month:02d}-{day:02d}T15:00:00",
            "check_out": f"{year}-{month:02d}-{day + nights:02d}T11:00:00",
            "nights": nights,
            "adults": rng.randint(1, 2),
            "children": 0,
            "infants": 0,
            "cribs": 0,
            "rate_plan": rng.choice(["flexible", "non_refundable"]),
            "nightly_rate": rate,
            "total_price": rate * nights,
            "amount_paid": 0 if cancelled else rate * nights,
            "special_requests": [],
            "booked_at": f"{year}-{month:02d}-01T10:00:00",
        }
    return tables


def write_pack(root: Path, tables: Any, suffix: str) -> Path:
    """The hotel pack with these tables (as db.json or db.yaml) and `list_bookings`, in its own
    repository under `root`; returns the pack's folder."""
    pack = root / "domains" / "hotel"
    shutil.copytree(HOTEL, pack)
    (root / "tools").mkdir()
    shutil.copy(REPOSITORY / "tools" / "hotel.py", root / "tools" / "hotel.py")
    (root / "pyproject.toml").write_text("", encoding="utf-8")
    (pack / "db.yaml").unlink()
    if suffix == "json":
        (pack / "db.json").write_text(json.dumps(tables, indent=2, ensure_ascii=False))
    else:
        text = yaml.safe_dump(tables, sort_keys=False, allow_unicode=True, width=1000)
        (pack / "db.yaml").write_text(text, encoding="utf-8")
    domain = (pack / "domain.yaml").read_text(encoding="utf-8")
    (pack / "domain.yaml").write_text(domain.replace("db.yaml", f"db.{suffix}"), encoding="utf-8")
    tools = yaml.safe_dump([LIST_BOOKINGS], sort_keys=False)
    with (pack / "tools.yaml").open("a", encoding="utf-8") as file:
        file.write("\n" + tools)
    return pack


def measure_load(pack: Path, cache_home: Path) -> tuple[float, float, float]:
    """Seconds to load the pack, of which CPU seconds, and the peak memory (MB) of a process
    that only does that, with `cache_home` for its cache folder (XDG_CACHE_HOME). The CPU time
    is the one to compare across runs on a shared machine."""
    script = (
        "import json, sys, time\n"
        "from database import peak_rss_mb\n"
        "from policy_agent.domain import load_pack\n"
        "start, cpu = time.perf_counter(), time.process_time(); load_pack(sys.argv[1])\n"
        "seconds, cpu = time.perf_counter() - start, time.process_time() - cpu\n"
        "print(json.dumps([seconds, cpu, peak_rss_mb()]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(pack)],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        env={**os.environ, "XDG_CACHE_HOME": str(cache_home), CACHE_SETTING: "on"},
    )
    seconds, cpu, peak = json.loads(out.stdout)
    return float(seconds), float(cpu), float(peak)


def best_ms(runs: tuple[Callable[[], object], ...], rounds: int, calls: int) -> list[float]:
    """The fastest round's time per call of each of `runs`, in milliseconds. Their rounds take
    turns, so that a busy moment of the machine slows them alike."""
    for run in runs:
        run()  # warm: indexes, frozen records and the pack's hash are built once
    best = [float("inf")] * len(runs)
    for _ in range(rounds):
        for position, run in enumerate(runs):
            start = time.perf_counter()
            for _ in range(calls):
                run()
            best[position] = min(best[position], (time.perf_counter() - start) / calls)
    return [seconds * 1000 for seconds in best]


def succeeded(episode: EpisodeEnvironment, name: str, arguments: dict[str, Any]) -> object:
    result = episode.call(name, arguments)
    if result.error:
        raise RuntimeError(f"{name} failed: {result.content}")
    return result.value


def measured_calls(environment: Environment) -> dict[str, tuple[Callable[[], object], int]]:
    """Each timed call on an environment, with how many calls a round makes."""
    episode = environment.new_episode()
    # The last full page: as many records in both packs, after a cursor bisected for.
    last_page_after = episode.database.ids("bookings")[-PAGE - 1]

    def start_and_hash() -> object:
        started = environment.new_episode()
        started.database.update("bookings", "B11246", cribs=3)
        return started.content_hash()

    def call(name: str, arguments: dict[str, Any]) -> Callable[[], object]:
        return lambda: succeeded(episode, name, arguments)

    return {
        "get": (call("get_booking_details", {"booking_id": "B11246"}), 200),
        "find": (call("find_guest_bookings", {"guest_id": "G90920"}), 200),
        "paged list": (call("list_bookings", {"after": last_page_after}), 100),
        "Python tool read": (call("search_available_rooms", {"booking_id": "B11246"}), 50),
        "episode start + hash": (start_and_hash, 200),
    }


def once_per_pack(pack: Path) -> tuple[Environment, dict[str, float]]:
    """The environment of a JSON pack, and what is computed once per pack (seconds)."""
    loaded = load_pack(pack)
    start = time.perf_counter()
    environment = Environment.from_pack(loaded)
    compiled = time.perf_counter() - start
    episode = environment.new_episode()
    start = time.perf_counter()
    episode.content_hash()
    hashed = time.perf_counter() - start
    start = time.perf_counter()
    episode.database.find("bookings", guest_id="G90920")
    indexed = time.perf_counter() - start
    return environment, {
        "Environment.from_pack": compiled,
        "the pack's hash (first content_hash)": hashed,
        "an index (first find on bookings.guest_id)": indexed,
    }


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started its program (VmHWM).

    Not `ru_maxrss`, which Linux carries over from the process that forked this one.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def write_packs(root: Path, bookings: int) -> None:
    """The four packs, under `root`: small and big, JSON and YAML."""
    for size, tables in (("small", grown_tables(0)), ("big", grown_tables(bookings))):
        for suffix in ("json", "yaml"):
            write_pack(root / f"{size}-{suffix}", tables, suffix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=100_000, help="bookings to add")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per timed call")
    parser.add_argument("--write-packs", type=Path, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.write_packs is not None:
        write_packs(arguments.write_packs, arguments.bookings)
        return
    small_count = len(grown_tables(0)["bookings"])
    big_count = small_count + arguments.bookings
    print(f"{machine_load()}; Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        print(f"writing the packs: {small_count:,} and {big_count:,} bookings, JSON and YAML")
        # In a process of its own, so that this one's memory is what the packs take.
        writer = [sys.executable, __file__, "--write-packs", folder]
        subprocess.run([*writer, "--bookings", str(arguments.bookings)], check=True)
        packs = {
            (size, suffix): root / f"{size}-{suffix}" / "domains" / "hotel"
            for size in ("small", "big")
            for suffix in ("json", "yaml")
        }
        files = [next(packs[("big", suffix)].glob("db.*")) for suffix in ("json", "yaml")]
        print(", ".join(f"{file.name} {file.stat().st_size / 1e6:.0f} MB" for file in files))
        loads: dict[tuple[str, str, str], tuple[float, float, float]] = {}
        for (size, suffix), pack in packs.items():
            cache_home = root / f"cache-{size}-{suffix}"
            loads[(size, suffix, "first")] = measure_load(pack, cache_home)
            if suffix == "yaml":
                loads[(size, suffix, "cached")] = measure_load(pack, cache_home)
        small, small_once = once_per_pack(packs[("small", "json")])
        big, big_once = once_per_pack(packs[("big", "json")])
        gc.collect()
        gc.freeze()
        small_calls, big_calls = measured_calls(small), measured_calls(big)
        small_times, big_times = {}, {}
        for name, (small_call, calls) in small_calls.items():
            runs = (small_call, big_calls[name][0])
            small_times[name], big_times[name] = best_ms(runs, arguments.rounds, calls)
        peak = peak_rss_mb()

    rows: list[list[object]] = []
    for suffix, load, name in LOAD_ROWS:
        (small_s, small_cpu, small_mb), (big_s, big_cpu, big_mb) = (
            loads[("small", suffix, load)],
            loads[("big", suffix, load)],
        )
        met = "met" if big_s < LOAD_GOAL_S else "not met"
        rows.append(
            [
                f"{name}, s (CPU s); peak RSS",
                f"{small_s:.2f} ({small_cpu:.2f}); {small_mb:.0f} MB",
                f"{big_s:.2f} ({big_cpu:.2f}); {big_mb:.0f} MB",
                round(big_s / small_s, 1),
                f"< {LOAD_GOAL_S:.0f} s: {met}",
            ]
        )
    for name, goal in GOALS.items():
        ratio = big_times[name] / small_times[name]
        rows.append(
            [
                f"{name}, ms",
                round(small_times[name], 3),
                round(big_times[name], 3),
                round(ratio, 2),
                f"≤ {goal:g}x: {'met' if ratio <= goal else 'not met'}",
            ]
        )
    for name, seconds in small_once.items():
        once = [f"once per pack: {name}, s", round(seconds, 4), round(big_once[name], 3)]
        rows.append([*once, "", ""])
    headers = ["measure", f"{small_count:,} bookings", f"{big_count:,} bookings", "ratio", "goal"]
    print()
    print(table(headers, rows))
    print(f"\npeak RSS of this process (both JSON packs loaded, every call made): {peak:.0f} MB")


if __name__ == "__main__":
    main()
