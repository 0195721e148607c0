"""How fast, and in how much memory, a big run reads: `report`, `show`, `compare`, `export`,
`evaluate`, replay; at 1,000, 10,000 and 100,000 episodes.

Plays the hotel pack's 24 tasks once (the oracle's actions as completions against the scripted
server, `record_tokens` on: see `token_storage.py`), then appends those episodes again and
again through `RunStore.append` under distinct (task, trial) keys until a run holds each
`--episodes` size, with their token traces (which the store puts in `tokens.jsonl`). The
scripted server's stand-in tokenizer gives one token per UTF-8 byte, about 4 times a real BPE
tokenizer's ids, so each generation keeps one id (and logprob) in 4: the token share of a run is
then what a real model's run would have.

Each command runs as `python -m policy_agent ...` in a process of its own (interpreter start
included, as a user sees it; best of `--repeat`), on each run; its peak memory is the child's
maximum resident set. The first `show -e` or `replay -e` of a run builds its index beside it
(`episodes.index`, see docs/runs.md); the rows say which: `show -e (builds the index)` deletes
it before each run, the other rows find it there (built before they run). `replay` is timed as
what it does before its first screen, plus opening one episode; `replay -e` as opening one
episode through the index. The baseline row is the interpreter start plus the CLI's import:
what no reader can beat. `evaluate` runs last: it adds an evaluation to the run, which the
readers after it would read. `compare` compares the run with itself (the same reading).

    python benchmarks/readers.py [--episodes 1000 10000 100000] [--repeat 3] [--only report]

`export --format rl` runs only up to 10,000 episodes unless `--only` names it: its output is
~380 KiB an episode, some 38 GB at 100,000.

Also prints the `RunStore.append` throughput (fsync on, the default, and off) at the largest
size up to 10,000: what one driver can write per second (docs/scale.md).
"""

from __future__ import annotations

import argparse
import os
import shutil
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
from policy_agent.trajectory import EPISODES_NAME, RunStore, index_path, load_index

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
    played: list[Episode], source: Path, out: Path, episodes: int, *, fsync: bool
) -> tuple[Path, float]:
    """A run of `episodes` lines: `played` (`source`'s episodes) again and again under new
    trials, with their token traces; and its appends per second."""
    manifest = RunStore.open(source).manifest
    # A hex suffix of its own (run ids end in six hex digits): the size, and whether fsynced.
    suffix = f"{episodes % 16**5:05x}{'f' if fsync else '0'}"
    manifest = manifest.model_copy(
        update={
            "run_id": manifest.run_id[:-6] + suffix,
            "episodes_planned": episodes,
            "config": {**manifest.config, "trials": -(-episodes // len(played))},
        }
    )
    with RunStore.create(out, manifest, fsync=fsync) as writer:
        start = time.perf_counter()
        for i in range(episodes):
            writer.append(played[i % len(played)].model_copy(update={"trial": i // len(played)}))
        seconds = time.perf_counter() - start
        writer.finish()
    return writer.directory, episodes / seconds


PEAK_OF = (
    "import os, subprocess, sys; child = subprocess.Popen(sys.argv[2:]); "
    "_, status, usage = os.wait4(child.pid, 0); "
    "open(sys.argv[1], 'w').write(f'{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')"
)
"""Runs a command and writes its peak resident memory (KiB) and exit code to a file.

Linux counts in a child's `ru_maxrss` the memory of the process it was forked from, up to its
`exec`: a reader started from this script (which holds the played episodes) would show this
script's size. Started from this small process, it shows its own."""


def measure(command: list[str], repeat: int) -> tuple[float, float]:
    """Best wall time of `command` over `repeat` runs (its output discarded; it must succeed),
    and its largest peak resident memory in MiB."""
    best = float("inf")
    peak = 0
    with tempfile.NamedTemporaryFile("r") as result:
        for _ in range(repeat):
            start = time.perf_counter()
            child = subprocess.run(
                [sys.executable, "-c", PEAK_OF, result.name, *command],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            took = time.perf_counter() - start
            rss, code = map(int, Path(result.name).read_text().split())
            # report and compare exit 2 when a gate or an incomplete run says so: still a read.
            if code not in (0, 2):
                raise SystemExit(f"{command} failed: {child.stderr.decode()[-2000:]}")
            best = min(best, took)
            peak = max(peak, rss)
    return best, peak / 1024


# Opened as the replay opens an episode: without its token traces, which it does not show.
LARGE_OUTPUT = {"export --format rl"}
"""Readers whose output grows past what a scratch folder should hold: rl writes ~380 KiB an
episode (~38 GB at 100,000)..."""
LARGE_OUTPUT_UP_TO = 10_000
"""...so they run only up to this many episodes, unless named with `--only`."""


REPLAY_INDEX = (
    "import sys; from pathlib import Path; from policy_agent.tui import ReplayRun; "
    "run = ReplayRun(Path(sys.argv[1])); run.log.poll(); "
    "run.log.load(run.log.entries[len(run.log.entries) // 2], tokens=False)"
)
REPLAY_ONE = (
    "import sys; from pathlib import Path; from policy_agent.tui import ReplayRun; "
    "run = ReplayRun(Path(sys.argv[1])); located = run.log.locate(sys.argv[2]); "
    "assert located is not None; run.log.load(located[0], tokens=False)"
)
WITHOUT_INDEX = (
    "import os, runpy, sys; os.remove(sys.argv[1]) if os.path.exists(sys.argv[1]) else None; "
    "sys.argv = sys.argv[1:]; runpy.run_module('policy_agent', run_name='__main__')"
)
"""`python -m policy_agent ARGS` with the run's index deleted first (ARGS after the index)."""


def reader_commands(run_dir: Path, scratch: Path, middle: str) -> dict[str, list[str]]:
    """What each reader is, as a command line on `run_dir` (`middle`: one of its episodes)."""
    cli = [sys.executable, "-m", "policy_agent"]
    out = str(scratch / "export.jsonl")
    return {
        "import policy_agent (baseline)": [sys.executable, "-c", "import policy_agent.cli"],
        "report": [*cli, "report", str(run_dir)],
        "report --json": [*cli, "report", str(run_dir), "--json"],
        "show -e (builds the index)": [
            sys.executable,
            "-c",
            WITHOUT_INDEX,
            str(index_path(run_dir / EPISODES_NAME)),
            "show",
            str(run_dir),
            "-e",
            middle,
            "--plain",
        ],
        "show -e (one episode)": [*cli, "show", str(run_dir), "-e", middle, "--plain"],
        "show (the list)": [*cli, "show", str(run_dir), "--plain"],
        "compare": [*cli, "compare", str(run_dir), str(run_dir)],
        "export --format sft": [*cli, "export", str(run_dir), "--format", "sft", "--out", out],
        "export --format rl": [*cli, "export", str(run_dir), "--format", "rl", "--out", out],
        "export --format tau2": [*cli, "export", str(run_dir), "--format", "tau2", "--out", out],
        "replay (open, list, one episode)": [sys.executable, "-c", REPLAY_INDEX, str(run_dir)],
        "replay -e (one episode)": [sys.executable, "-c", REPLAY_ONE, str(run_dir), middle],
        "evaluate": [*cli, "evaluate", str(run_dir)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", action="append", help="Time only readers containing this.")
    arguments = parser.parse_args()
    sizes = sorted(arguments.episodes)
    base = SimulationConfig.model_validate(
        {"domain": str(HOTEL), "agent": {"kind": "oracle"}, "user": {"kind": "scripted"}}
    )
    policy = oracle_policy(base, load_pack(HOTEL))
    names = list(reader_commands(Path(), Path(), ""))
    wanted = [
        name
        for name in names
        if name == names[0] or not arguments.only or any(w in name for w in arguments.only)
    ]
    results: dict[tuple[str, int], tuple[float, float] | None] = {}
    files: dict[int, str] = {}
    with tempfile.TemporaryDirectory() as folder:
        scratch = Path(folder)
        source = run(scratch / "played", policy, 1, True)
        played = [realistic_tokens(e) for _, e in RunStore.open(source).latest_episodes()]
        appends = {
            flag: replicate(played, source, scratch / "appends", 2_000, fsync=flag)[1]
            for flag in (True, False)
        }
        shutil.rmtree(scratch / "appends")
        for size in sizes:
            directory, _ = replicate(played, source, scratch / "runs", size, fsync=False)
            episodes_mib = (directory / "episodes.jsonl").stat().st_size / 2**20
            tokens_mib = (directory / "tokens.jsonl").stat().st_size / 2**20
            files[size] = f"{episodes_mib:.0f} + {tokens_mib:.0f} MiB"
            middle = f"{played[0].task_id}#{size // len(played) // 2}"
            commands = reader_commands(directory, scratch, middle)
            load_index(directory / EPISODES_NAME)  # there for every row but the one deleting it
            for name in wanted:
                if name in LARGE_OUTPUT and size > LARGE_OUTPUT_UP_TO and not arguments.only:
                    results[name, size] = None
                    continue
                results[name, size] = measure(commands[name], arguments.repeat)
            shutil.rmtree(directory)
    print(machine_load())
    print("episodes.jsonl + tokens.jsonl: " + "; ".join(f"{n:,}: {files[n]}" for n in sizes))
    headers = ["reader", *(f"{h} at {n:,}" for n in sizes for h in ("s", "MiB"))]
    rows = [[name, *(v for n in sizes for v in _cells(results[name, n]))] for name in wanted]
    print(table(headers, rows))
    print(
        table(
            ["RunStore.append (2,000 episodes with tokens)", "episodes/s"],
            [[f"fsync={flag}", round(rate)] for flag, rate in appends.items()],
        )
    )
    print(f"({os.cpu_count()} cores)")


def _cells(result: tuple[float, float] | None) -> tuple[float, int] | tuple[str, str]:
    if result is None:
        return "not run", ""
    seconds, peak = result
    return round(seconds, 2), round(peak)


if __name__ == "__main__":
    main()
