"""How fast a 10,000-episode run reads: `report`, `show`, `compare`, `export`, `evaluate`, replay.

Plays the hotel pack's 24 tasks once (the oracle's actions as completions against the scripted
server, `record_tokens` on: see `token_storage.py`), then appends those episodes again and
again through `RunStore.append` under distinct (task, trial) keys until the run holds
`--episodes` lines. The scripted server's stand-in tokenizer gives one token per UTF-8 byte,
about 4 times a real BPE tokenizer's ids, so each generation keeps one id (and logprob) in 4:
the token share of a line is then what a real model's run would have.

Each command runs as `python -m policy_agent ...` in a process of its own (interpreter start
included, as a user sees it; best of `--repeat`). `replay` is timed as what it does before its
first screen: opening the run and indexing every episode (`EpisodeLog.poll`). The baseline row
is `python -c pass` plus the package import: what no reader can beat.

    python benchmarks/readers.py [--episodes 10000] [--repeat 3]

Also prints the `RunStore.append` throughput (fsync on, the default, and off) with these
episodes: what one driver can write per second (docs/scale.md).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _support import HOTEL, machine_load, table
from token_storage import run

from policy_agent.domain import load_pack
from policy_agent.records import Episode
from policy_agent.rl import oracle_policy
from policy_agent.simulation import SimulationConfig
from policy_agent.trajectory import RunStore

REAL_TOKENIZER_RATIO = 4
"""Bytes per token of a real BPE tokenizer against the scripted server's one token per byte."""


def realistic_tokens(episode: Episode) -> Episode:
    """`episode` with one token id (and logprob) in `REAL_TOKENIZER_RATIO` kept per generation."""
    value = episode.model_dump(mode="json")
    for message in value["messages"]:
        trace = (message.get("generation") or {}).get("tokens")
        for name, ids in (trace or {}).items():
            if ids is not None:
                trace[name] = ids[::REAL_TOKENIZER_RATIO]
    return Episode.model_validate(value)


def replicate(source: Path, out: Path, episodes: int, *, fsync: bool) -> tuple[Path, float]:
    """A run of `episodes` lines, `source`'s episodes under new trials; appends per second."""
    store = RunStore.open(source)
    played = [realistic_tokens(e) for e in store.read(Episode)]
    manifest = store.manifest.model_copy(
        update={
            "run_id": store.manifest.run_id[:-6] + ("f5f5f5" if fsync else "0f0f0f"),
            "episodes_planned": episodes,
            "config": {**store.manifest.config, "trials": -(-episodes // len(played))},
        }
    )
    records = [
        played[i % len(played)].model_copy(update={"trial": i // len(played)})
        for i in range(episodes)
    ]
    with RunStore.create(out, manifest, fsync=fsync) as writer:
        start = time.perf_counter()
        for record in records:
            writer.append(record)
        seconds = time.perf_counter() - start
        writer.finish()
    return writer.directory, episodes / seconds


def seconds(command: list[str], repeat: int) -> float:
    """Best wall time of `command` over `repeat` runs (its output discarded; it must succeed)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # report and compare exit 2 when a gate or an incomplete run says so: still a read.
        if done.returncode not in (0, 2):
            raise SystemExit(f"{command} failed: {done.stderr.decode()[-2000:]}")
        best = min(best, time.perf_counter() - start)
    return best


REPLAY_INDEX = (
    "import sys; from pathlib import Path; from policy_agent.tui import ReplayRun; "
    "run = ReplayRun(Path(sys.argv[1])); run.log.poll(); "
    "run.log.load(run.log.entries[len(run.log.entries) // 2])"
)


def reader_commands(run_dir: Path, other: Path, scratch: Path) -> dict[str, list[str]]:
    """What each reader is, as a command line on the 10k-episode run."""
    cli = [sys.executable, "-m", "policy_agent"]
    middle = "card_triplet_cribs#200"
    return {
        "import policy_agent (baseline)": [sys.executable, "-c", "import policy_agent.cli"],
        "report": [*cli, "report", str(run_dir)],
        "show -e (one episode)": [*cli, "show", str(run_dir), "-e", middle, "--plain"],
        "show (the index)": [*cli, "show", str(run_dir), "--plain"],
        "compare": [*cli, "compare", str(run_dir), str(other)],
        "export --format sft": [
            *cli,
            "export",
            str(run_dir),
            "--format",
            "sft",
            "--out",
            str(scratch / "sft.jsonl"),
        ],
        "export --format rl": [
            *cli,
            "export",
            str(run_dir),
            "--format",
            "rl",
            "--out",
            str(scratch / "rl.jsonl"),
        ],
        "replay (open, index, one episode)": [sys.executable, "-c", REPLAY_INDEX, str(run_dir)],
        "evaluate": [*cli, "evaluate", str(run_dir)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", help="Time only readers containing this.")
    arguments = parser.parse_args()
    base = SimulationConfig.model_validate(
        {"domain": str(HOTEL), "agent": {"kind": "oracle"}, "user": {"kind": "scripted"}}
    )
    policy = oracle_policy(base, load_pack(HOTEL))
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        source = run(scratch / "played", policy, 1, True)
        big, fsynced = replicate(source, scratch / "runs", arguments.episodes, fsync=True)
        other, unsynced = replicate(source, scratch / "runs", arguments.episodes, fsync=False)
        size = (big / "episodes.jsonl").stat().st_size
        rows = []
        baseline = None
        for name, command in reader_commands(big, other, scratch).items():
            wanted = not arguments.only or any(word in name for word in arguments.only)
            if not wanted and baseline is not None:
                continue
            took = seconds(command, arguments.repeat)
            baseline = baseline or took
            rows.append([name, round(took, 2), round(took / baseline, 1)])
    print(machine_load())
    per_episode = size / arguments.episodes / 1024
    print(f"{arguments.episodes} episodes, {size / 2**20:.0f} MiB, {per_episode:.1f} KiB/episode")
    print(table(["reader", "seconds", "x baseline"], rows))
    print(
        table(
            ["RunStore.append", "episodes/s", "MiB/s"],
            [
                [f"fsync={flag}", round(rate), round(rate * size / arguments.episodes / 2**20, 1)]
                for flag, rate in (("True", fsynced), ("False", unsynced))
            ],
        )
    )
    print(f"({os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
