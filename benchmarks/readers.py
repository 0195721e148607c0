"""How fast a 10,000-episode run reads: `report`, `show`, `compare`, `export`, `evaluate`, replay.

Plays the hotel pack's 24 tasks once (the oracle's actions as completions against the scripted
server, `record_tokens` on: see `token_storage.py`), then appends those episodes again and
again through `RunStore.append` under distinct (task, trial) keys until the run holds
`--episodes` lines: once with their token traces (which the store puts in `tokens.jsonl`) and
once without. The scripted server's stand-in tokenizer gives one token per UTF-8 byte, about 4
times a real BPE tokenizer's ids, so each generation keeps one id (and logprob) in 4: the token
share of a run is then what a real model's run would have.

Each command runs as `python -m policy_agent ...` in a process of its own (interpreter start
included, as a user sees it; best of `--repeat`), on each run; its peak memory is the child's
maximum resident set. `replay` is timed as what it does before its first screen, plus opening
one episode: opening the run, indexing every episode (`EpisodeLog.poll`), loading the middle
one. The baseline row is the interpreter start plus the CLI's import: what no reader can beat;
`load_run` is what `report` reads, without building the report (its bootstrap intervals).
`evaluate` runs last: it adds an evaluation to the run, which the readers after it would read.

    python benchmarks/readers.py [--episodes 10000] [--repeat 3] [--only report]

Also prints the `RunStore.append` throughput (fsync on, the default, and off) with the
episodes with tokens: what one driver can write per second (docs/scale.md).
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
from policy_agent.trajectory import RunStore, split_tokens

REAL_TOKENIZER_RATIO = 4
"""Bytes per token of a real BPE tokenizer against the scripted server's one token per byte."""


def realistic_tokens(episode: Episode) -> Episode:
    """`episode` with one token id (and logprob) in `REAL_TOKENIZER_RATIO` kept per generation,
    and its usage saying as many tokens (which `export --format rl` checks)."""
    value = episode.model_dump(mode="json")
    for message in value["messages"]:
        generation = message.get("generation") or {}
        trace = generation.get("tokens")
        for name, ids in (trace or {}).items():
            if ids is not None:
                trace[name] = ids[::REAL_TOKENIZER_RATIO]
        for count, name in (("prompt", "prompt_token_ids"), ("completion", "completion_token_ids")):
            if trace and trace[name] is not None:
                generation["usage"][f"{count}_tokens"] = len(trace[name])
    return Episode.model_validate(value)


def replicate(
    source: Path, out: Path, episodes: int, *, fsync: bool, tokens: bool
) -> tuple[Path, float]:
    """A run of `episodes` lines, `source`'s episodes under new trials (without their traces
    unless `tokens`); appends per second."""
    store = RunStore.open(source)
    played = [
        realistic_tokens(e) if tokens else split_tokens(e)[0] for _, e in store.latest_episodes()
    ]
    suffix = ("f5" if fsync else "0f") + ("7070" if tokens else "a0a0")
    manifest = store.manifest.model_copy(
        update={
            "run_id": store.manifest.run_id[:-6] + suffix,
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


def measure(command: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time of `command` over `repeat` runs (its output discarded; it must succeed),
    and its largest peak resident memory in MiB."""
    best = float("inf")
    peak = 0
    for _ in range(repeat):
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert child.stderr is not None
        errors = child.stderr.read()
        # wait4, not wait: the resources of this child alone (ru_maxrss in KiB on Linux).
        _, status, usage = os.wait4(child.pid, 0)
        took = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        # report and compare exit 2 when a gate or an incomplete run says so: still a read.
        if child.returncode not in (0, 2):
            raise SystemExit(f"{command} failed: {errors.decode()[-2000:]}")
        best = min(best, took)
        peak = max(peak, usage.ru_maxrss)
    return best, peak / 1024


LOAD_RUN = (
    "import sys; from pathlib import Path; from policy_agent.report import load_run; "
    "load_run(Path(sys.argv[1]), tokens=False)"
)

NEEDS_TOKENS = {"export --format rl"}
"""Readers that refuse a run without token ids."""

REPLAY_INDEX = (
    "import sys; from pathlib import Path; from policy_agent.tui import ReplayRun; "
    "run = ReplayRun(Path(sys.argv[1])); run.log.poll(); "
    "run.log.load(run.log.entries[len(run.log.entries) // 2])"
)


def reader_commands(run_dir: Path, other: Path, scratch: Path, middle: str) -> dict[str, list[str]]:
    """What each reader is, as a command line on the 10k-episode run (`middle`: an episode)."""
    cli = [sys.executable, "-m", "policy_agent"]
    return {
        "import policy_agent (baseline)": [sys.executable, "-c", "import policy_agent.cli"],
        "load_run (report's read alone)": [sys.executable, "-c", LOAD_RUN, str(run_dir)],
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
        runs = scratch / "runs"
        big, fsynced = replicate(source, runs, arguments.episodes, fsync=True, tokens=True)
        other, unsynced = replicate(source, runs, arguments.episodes, fsync=False, tokens=True)
        plain, _ = replicate(source, runs, arguments.episodes, fsync=True, tokens=False)
        task = RunStore.open(source).read(Episode)[0].task_id
        middle = f"{task}#{arguments.episodes // 24 // 2}"
        sizes = {
            name: (directory / "episodes.jsonl").stat().st_size / 2**20
            for name, directory in (("with tokens", big), ("without", plain))
        }
        traces = (big / "tokens.jsonl").stat().st_size / 2**20
        with_tokens = reader_commands(big, other, scratch, middle)
        without = reader_commands(plain, plain, scratch, middle)
        rows = []
        baseline = None
        for name in with_tokens:
            wanted = not arguments.only or any(word in name for word in arguments.only)
            if not wanted and baseline is not None:
                continue
            took, peak = measure(with_tokens[name], arguments.repeat)
            baseline = baseline or took
            row: list[object] = [name, round(took, 2), round(took / baseline, 1), round(peak)]
            if name in NEEDS_TOKENS:
                row += ["-", "-"]  # refused, as it should be, on a run without token ids
            else:
                took_plain, peak_plain = measure(without[name], arguments.repeat)
                row += [round(took_plain, 2), round(peak_plain)]
            rows.append(row)
    print(machine_load())
    print(
        f"{arguments.episodes} episodes; with tokens: episodes.jsonl {sizes['with tokens']:.0f} "
        f"MiB + tokens.jsonl {traces:.0f} MiB; without: episodes.jsonl {sizes['without']:.0f} MiB"
    )
    headers = ["reader", "s (tokens)", "x baseline", "peak MiB", "s (none)", "peak MiB (none)"]
    print(table(headers, rows))
    size = (sizes["with tokens"] + traces) * 2**20
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
