"""What `record_tokens` costs on disk and in `report`: a run with and without token ids.

The oracle's actions as completions (`policy_agent.rl.oracle_policy`) over every hotel task, for
`--trials` trials, against the scripted server (its stand-in tokenizer: one token per UTF-8
byte, about 4 times the ids of a real BPE tokenizer), completions transport. Prints the size of
`episodes.jsonl` and of `tokens.jsonl` (where the store keeps the token traces) per episode and
the wall time of what `policy-agent report` does once started (read the run, build the report;
best of 3), each run with and without `record_tokens`, and both scaled to 10,000 episodes (both
grow linearly).

    python benchmarks/token_storage.py [--trials 10]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from _support import HOTEL, machine_load, table

from policy_agent.domain import load_pack
from policy_agent.report import build_report, load_run
from policy_agent.rl import oracle_policy
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.simulation import SimulationConfig, episode_seed


def run(out: Path, policy: dict[str, list[str]], trials: int, record_tokens: bool) -> Path:
    answers = {
        episode_seed(0, task, trial): [{"text": text} for text in texts]
        for task, texts in policy.items()
        for trial in range(trials)
    }
    script = Script.model_validate({"roles": {"agent": {"mode": "by_seed", "answers": answers}}})
    with ScriptedServer(script) as server:
        model = {"model": "hosted_vllm/agent", "api_base": server.base_url, "retries": 0}
        config = {
            "domain": str(HOTEL),
            "agent": {
                "model": model | {"record_tokens": record_tokens},
                "transport": "completions",
            },
            "user": {"kind": "scripted"},
            "trials": trials,
            "out": str(out),
        }
        path = out.with_suffix(".yaml")
        path.write_text(yaml.safe_dump(config))
        command = [sys.executable, "-m", "policy_agent", "run", str(path), "--quiet"]
        subprocess.run(command, check=True, capture_output=True)
    [directory] = out.iterdir()
    return directory


def report_seconds(directory: Path) -> float:
    """What `report` does after the interpreter starts: read every episode, build the report."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        build_report(load_run(directory, tokens=False))  # as `report` reads a run
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10, help="Trials of each of the 24 tasks.")
    trials = parser.parse_args().trials
    base = SimulationConfig.model_validate(
        {"domain": str(HOTEL), "agent": {"kind": "oracle"}, "user": {"kind": "scripted"}}
    )
    policy = oracle_policy(base, load_pack(HOTEL))
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for tokens in (False, True):
            directory = run(Path(folder) / f"tokens-{tokens}", policy, trials, tokens)
            episodes = len((directory / "episodes.jsonl").read_text().splitlines())
            size = (directory / "episodes.jsonl").stat().st_size
            sidecar = directory / "tokens.jsonl"
            traces = sidecar.stat().st_size if sidecar.exists() else 0
            seconds = report_seconds(directory)
            rows.append(
                [
                    "with token ids" if tokens else "without",
                    episodes,
                    round(size / episodes / 1024, 1),
                    round(traces / episodes / 1024, 1),
                    round((size + traces) / episodes * 10_000 / 2**30, 2),
                    round(seconds, 2),
                    round(seconds / episodes * 10_000, 1),
                ]
            )
    print(machine_load())
    headers = ["run", "episodes", "episodes.jsonl KiB/ep", "tokens.jsonl KiB/ep", "GiB/10k"]
    print(table([*headers, "report s", "report s/10k"], rows))


if __name__ == "__main__":
    main()
